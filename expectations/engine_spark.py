"""A SQLAlchemy dialect on a Spark Thrift Server that Great Expectations 1.x validates correctly.

URL scheme ``spark+salesdw://user@host:port/default`` (``ingestion.targets.spark.sqlalchemy_url``). It is
PyHive's Hive dialect (Spark's Thrift Server speaks HiveServer2) with three differences:

1. every session gets the project's Spark settings (``SESSION_CONF``: UTC, ``timestamp`` = the naive type,
   non-ANSI arithmetic as in dbt-spark's sessions), so a rule evaluates as the models were built;
2. GE's regex expectations work: GE picks the regex SQL by testing ``dialect.dialect`` against known dialect
   classes; we answer with a PostgreSQL subclass so GE takes its ``~`` / ``!~`` branch, and render those
   operators as Spark's ``RLIKE`` (a search, as GE means);
3. every row-returning statement is fetched completely while its connection is open: GE fetches rows after
   its ``with get_connection()`` block, when ``NullPool`` has closed the connection (and PyHive fetches
   lazily), as with DuckDB (``expectations.engine``, GE issue 11579). ``NullPool`` because a validation
   should hold no Thrift session afterwards; Spark has no transactions, so rollback is a no-op.
"""

from __future__ import annotations

from typing import Any

from pyhive.sqlalchemy_hive import HiveCompiler, HiveDialect, HiveExecutionContext
from sqlalchemy import pool
from sqlalchemy.dialects import postgresql, registry
from sqlalchemy.engine import cursor as _cursor
from sqlalchemy.engine.url import URL

from ingestion.targets.spark import SESSION_CONF

SCHEME = "spark+salesdw"
_REGEX_OPERATORS = {"~": False, "!~": True}  # PostgreSQL regex operator -> negated?


class _GERegexAsPostgres(postgresql.dialect):  # type: ignore[misc,valid-type]
    """Only ever used as the answer to GE's issubclass() test; never instantiated."""


class _Compiler(HiveCompiler):
    def visit_custom_op_binary(self, element: Any, operator: Any, **kw: Any) -> str:
        negate = _REGEX_OPERATORS.get(getattr(operator, "opstring", None))
        if negate is None:
            return super().visit_custom_op_binary(element, operator, **kw)
        call = f"({self.process(element.left, **kw)} RLIKE {self.process(element.right, **kw)})"
        return f"NOT {call}" if negate else call


class _BufferedExecutionContext(HiveExecutionContext):
    def post_exec(self) -> None:
        super().post_exec()
        description = self.cursor.description
        if description is not None:
            rows = self.cursor.fetchall()
            self.cursor.close()  # now, while the session is open (closing later would fail on a closed one)
            self.cursor_fetch_strategy = _cursor.FullyBufferedCursorFetchStrategy(
                None, alternate_description=description, initial_buffer=rows
            )


class SparkDialect(HiveDialect):
    name = "spark"
    supports_statement_cache = False
    statement_compiler = _Compiler
    execution_ctx_cls = _BufferedExecutionContext

    def create_connect_args(self, url: URL) -> tuple[list, dict]:
        args, kwargs = super().create_connect_args(url)
        kwargs["configuration"] = {**SESSION_CONF, **kwargs.get("configuration", {})}
        return args, kwargs

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.NullPool

    def do_rollback(self, dbapi_connection: Any) -> None:
        pass  # no transactions on Spark

    @property
    def dialect(self) -> type:
        return _GERegexAsPostgres


registry.register(SCHEME.replace("+", "."), __name__, "SparkDialect")

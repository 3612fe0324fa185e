"""SQLAlchemy engines on the DuckDB warehouse that Great Expectations 1.x can validate correctly.

Why not plain ``duckdb:///`` (duckdb_engine): GE executes a query inside ``with get_connection()``
and fetches the rows after that block has rolled the connection back. duckdb_engine's cursor *is*
the DuckDB connection, so the rollback discards the pending result and every metric comes back
empty; GE then reports each expectation as failed with the error tucked into ``exception_info``
(great_expectations issue 11579). The ``stream_results`` execution option hides that for
aggregates but truncates multi-row results (samples) to one row.

The dialect here (URL scheme ``duckdb+salesdw``) differs from duckdb_engine's in five ways:

1. every row-returning statement is fetched completely while its cursor is still valid
   (SQLAlchemy's ``FullyBufferedCursorFetchStrategy``), so a later rollback cannot lose rows;
2. GE's regex expectations work: GE picks the regex SQL by testing ``dialect.dialect`` against
   known dialect classes. We expose our own class there, so GE takes its PostgreSQL branch
   (``col ~ pattern`` / ``col !~ pattern``), and our compiler renders those operators as
   DuckDB's ``regexp_matches`` (a *search*, as GE means; DuckDB's ``~`` is a full match);
3. no backslash escapes in string literals (DuckDB has none), so a pattern like ``^\\d{3}$``
   is not rendered as ``^\\\\d{3}$`` in the unexpected-rows query GE shows to users;
4. ``LIMIT``/``OFFSET`` are rendered as literals, not bound parameters: DuckDB answers a literal
   ``LIMIT 0`` without reading anything, but plans ``LIMIT $1`` like any query and scans the whole
   view (the runner's counting pass asks GE for zero sample values; that was 1-3 s a rule on a raw
   ``__current`` view at scale 10);
5. an unexpected-rows rule costs one evaluation of its query, not two. GE computes two metrics
   for each ``UnexpectedRowsExpectation``, in either order: the rows (the query itself) and their
   count (the query wrapped in ``SELECT COUNT(*) ... FROM (<query>) AS substituted_batch_subquery``).
   Since every result is fetched completely (point 1), the count is the number of rows the query
   returned: if the rows came first, the count is that number, answered as a constant; if the
   count comes first, the query itself runs in its place, its rows are kept and handed to GE when
   it asks for them (once; not kept beyond ``MAX_KEPT_ROWS``, such a query simply runs again).
   On a view over a whole model this halves a row rule's cost (2-4 s at scale 10). What is
   remembered belongs to the engine, i.e. to one validation of a file that nothing writes
   meanwhile (read-only, or held by this process); ``forget_results()`` drops it. Should GE change
   the wrapper's text, DuckDB would simply compute each count again.

Engines use ``NullPool`` (the dialect's default pool, so also for the engines GE builds from
the URL itself): a validation holds the DuckDB file only while it runs, so the loaders
(one writer per file) are never locked out by a finished validation.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from duckdb_engine import Dialect as _DuckDBDialect
from sqlalchemy import create_engine, pool
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Engine
from sqlalchemy.engine import cursor as _cursor
from sqlalchemy.engine.url import URL

SCHEME = "duckdb+salesdw"

_REGEX_OPERATORS = {"~": False, "!~": True}  # PostgreSQL regex operator -> negated?

# great_expectations.expectations.metrics.query_metrics.query_row_count (QueryRowCount._sqlalchemy):
# how GE 1.x counts the rows of an unexpected-rows query.
_GE_ROW_COUNT = re.compile(
    r"SELECT COUNT\(\*\) as (?P<alias>\w+) FROM \((?P<query>.*)\) AS substituted_batch_subquery",
    re.DOTALL,
)
REMEMBERED_COUNTS = 256  # statements per engine whose row count is kept (a suite has a handful of row rules)
MAX_KEPT_ROWS = 10_000  # rows kept for a query counted before GE fetched it (GE shows at most 200)


class _Kept(NamedTuple):
    description: Any
    rows: list[Any]


def _sqla_type(duckdb_type: str) -> Any:
    """The SQLAlchemy type for a DuckDB type name, as PostgreSQL's reflection would name it."""
    from sqlalchemy.dialects.postgresql.base import ischema_names
    from sqlalchemy.types import NullType

    base = duckdb_type.split("(", 1)[0].strip().lower()
    aliases = {
        "varchar": "character varying",
        "decimal": "numeric",
        "double": "double precision",
        "hugeint": "numeric",
        "ubigint": "bigint",
    }
    return ischema_names.get(aliases.get(base, base), NullType)()


class _BufferedExecutionContext(_DuckDBDialect.execution_ctx_cls):  # type: ignore[name-defined,misc]
    """Fetch a statement's rows right after it ran, before anything can roll the connection back."""

    def post_exec(self) -> None:
        super().post_exec()
        kept: _Kept | None = getattr(self, "salesdw_kept", None)
        if kept is not None:  # point 5: rows fetched when GE counted them; the cursor was not used
            self.cursor_fetch_strategy = _cursor.FullyBufferedCursorFetchStrategy(
                None, alternate_description=kept.description, initial_buffer=kept.rows
            )
            return
        description = self.cursor.description
        if description is not None:
            rows = self.cursor.fetchall()
            self.cursor_fetch_strategy = _cursor.FullyBufferedCursorFetchStrategy(
                self.cursor, alternate_description=description, initial_buffer=rows
            )
            if not getattr(self, "salesdw_counted", False) and _no_parameters(self.parameters):
                self.dialect.remember_count(self.statement, len(rows))


def _no_parameters(parameters: Any) -> bool:
    return not parameters or all(not p for p in parameters)


class _Compiler(_DuckDBDialect.statement_compiler):  # type: ignore[name-defined,misc]
    def limit_clause(self, select: Any, **kw: Any) -> str:
        # Literal LIMIT/OFFSET (see the module docstring, point 4); GE's limits are plain ints.
        return super().limit_clause(select, **{**kw, "literal_binds": True})

    def visit_custom_op_binary(self, element: Any, operator: Any, **kw: Any) -> str:
        negate = _REGEX_OPERATORS.get(getattr(operator, "opstring", None))
        if negate is None:
            return super().visit_custom_op_binary(element, operator, **kw)
        call = f"regexp_matches({self.process(element.left, **kw)}, {self.process(element.right, **kw)})"
        return f"NOT {call}" if negate else call


class BufferedDuckDBDialect(_DuckDBDialect):
    """duckdb_engine's dialect, with buffered results, GE-compatible regex and no backslash escapes."""

    supports_statement_cache = False
    execution_ctx_cls = _BufferedExecutionContext
    statement_compiler = _Compiler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backslash_escapes = False
        self._counts: dict[str, int] = {}  # statement without parameters -> rows it returned
        self._kept: dict[str, _Kept] = {}  # counted query -> its rows, until GE fetches them
        self._lock = threading.Lock()

    def remember_count(self, statement: str, rows: int) -> None:
        with self._lock:
            self._counts.pop(statement, None)
            self._counts[statement] = rows
            while len(self._counts) > REMEMBERED_COUNTS:
                del self._counts[next(iter(self._counts))]

    def forget_results(self) -> None:
        """Drop the remembered counts and kept rows (e.g. before the warehouse may have changed)."""
        with self._lock:
            self._counts.clear()
            self._kept.clear()

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        """Point 5 of the module docstring: each unexpected-rows query is evaluated once."""
        if _no_parameters(parameters) and context is not None:
            with self._lock:
                kept = self._kept.pop(statement, None)
            if kept is not None:  # GE now fetches the rows of a query it counted before
                context.salesdw_kept = kept
                return
            counted = _GE_ROW_COUNT.fullmatch(statement.strip())
            if counted:
                query = counted["query"]
                with self._lock:
                    count = self._counts.get(query)
                if count is None:  # counted before fetched: run the query itself, keep its rows
                    super().do_execute(cursor, query, (), context)
                    description, rows = cursor.description, cursor.fetchall()
                    count = len(rows)
                    self.remember_count(query, count)
                    if count <= MAX_KEPT_ROWS:
                        with self._lock:
                            self._kept[query] = _Kept(description, rows)
                context.salesdw_counted = True
                statement, parameters = f"SELECT CAST({int(count)} AS BIGINT) AS {counted['alias']}", ()
        super().do_execute(cursor, statement, parameters, context)

    def initialize(self, connection: Any) -> None:
        super().initialize(connection)
        self._backslash_escapes = False

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # Also applies to the engines GE builds itself from the connection string.
        return pool.NullPool

    def on_connect(self) -> Any:
        def set_utc(dbapi_connection: Any) -> None:
            # As ingestion.warehouse.connect does: TIMESTAMPTZ values (and samples) in UTC.
            dbapi_connection.execute("SET TimeZone = 'UTC'")

        return set_utc

    def get_columns(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> list:
        """Columns from DuckDB's own catalog in one small query. GE reflects every validated table;
        duckdb_engine answers through PostgreSQL's pg_catalog emulation, which cost ~0.2 s a table
        here (a quarter of a small suite's run time)."""
        rows = connection.exec_driver_sql(
            "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
            "WHERE schema_name = $1 AND table_name = $2 ORDER BY column_index",
            (schema or "main", table_name),
        ).fetchall()
        if not rows:  # not a plain table or view of this catalog: let duckdb_engine decide
            return super().get_columns(connection, table_name, schema=schema, **kw)
        return [
            {"name": name, "type": _sqla_type(data_type), "nullable": bool(nullable), "default": default}
            for name, data_type, nullable, default in rows
        ]

    @property
    def dialect(self) -> type[BufferedDuckDBDialect]:
        # GE's get_dialect_regex_expression() asks issubclass(dialect.dialect, <known dialect>); a
        # PostgreSQL subclass gets the ~ / !~ operators, which _Compiler turns into regexp_matches.
        return type(self)


# Import-time registration is what lets create_engine() (and GE, should it build an engine from
# the URL) resolve the scheme; it is idempotent.
registry.register(SCHEME.replace("+", "."), __name__, "BufferedDuckDBDialect")


def warehouse_url(warehouse_path: Path | str, *, read_only: bool = True) -> URL:
    query = {"access_mode": "READ_ONLY"} if read_only else {}
    return URL.create(SCHEME, database=str(Path(warehouse_path)), query=query)


def make_engine(warehouse_path: Path | str, *, read_only: bool = True) -> Engine:
    """An engine on the warehouse file that opens a connection per use and keeps none open.

    ``read_only=True`` (the default) lets validations run while no writer holds the file, and
    guarantees a suite can never change the warehouse. DuckDB still refuses a read-only open while
    another *process* holds the file for writing.
    """
    path = Path(warehouse_path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"The warehouse {path} does not exist")
    return create_engine(warehouse_url(path, read_only=read_only))


@contextmanager
def held_open(warehouse_path: Path | str, *, read_only: bool = True) -> Iterator[Engine]:
    """Keep the warehouse open while a validation runs; release it completely afterwards.

    GE opens a connection per query (NullPool), and opening a DuckDB file costs ~25 ms; while one
    connection with the same configuration stays open, DuckDB reuses the open database and a new
    connection costs ~1 ms. Leaving the block closes that connection and disposes the engine.
    """
    engine = make_engine(warehouse_path, read_only=read_only)
    try:
        with engine.connect() as anchor:
            yield engine
            anchor.rollback()
    finally:
        engine.dispose()

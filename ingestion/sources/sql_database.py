"""SQL database source: replicate billing tables from any SQLAlchemy URL, incremental on an updated-at column.

For a billing system that keeps Stripe-shaped tables in its own database (or a replica of Stripe such as
a Fivetran/Airbyte destination): one table per contract billing object (`customers`, `invoices`, ...),
columns named as the contract's fields; timestamps may be native timestamps or unix seconds, nested
objects JSON/JSONB or JSON text. Rows are read in pages ordered by (updated-at, id) with keyset pagination,
written as Stripe-shaped JSON lines and loaded by the file loader; the cursor (the last committed page's
updated-at) moves only after each load commits, and every pull re-reads a look-back window before it so
rows whose updated-at was stamped before a slow transaction committed are not lost. The updated-at column
itself is replication bookkeeping and is not loaded (unless it is a contract field, like products.updated).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import sqlalchemy as sa

from ingestion.contract import BILLING_OBJECTS, SourceObject
from ingestion.loader import FileResult
from ingestion.settings import ConnectorSettings
from ingestion.sources._common import ConnectorError, PullResult, Spool, StateStore

log = logging.getLogger(__name__)

CONNECTOR = "sql_database"


def _aware(value: datetime) -> datetime:
    # A timestamp without a zone is taken as UTC, the contract's convention for every *_at value.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _order(value: str) -> datetime:
    return _aware(datetime.fromisoformat(value))


def to_contract(typ: str, value: Any) -> Any:
    """A database value as Stripe's API would send it, for the contract field type `typ`."""
    if value is None:
        return None
    if typ == "unix":
        if isinstance(value, datetime):
            return int(_aware(value).timestamp())
        if isinstance(value, date):
            return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
        return int(value) if isinstance(value, Decimal | float) and value == int(value) else value
    if typ in ("object", "list", "array"):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value  # left as text: the loader quarantines it with a wrong_type reason
        return value
    if typ == "int" and isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _aware(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _is_numeric(column: sa.Column) -> bool:
    try:
        return issubclass(column.type.python_type, int | float | Decimal)
    except NotImplementedError:
        return False


class SqlDatabaseConnector:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: ConnectorSettings | None = None,
        *,
        objects: Iterable[SourceObject] = BILLING_OBJECTS,
        tables: dict[str, str] | None = None,
        batch_size: int = 5000,
        run_id: str | None = None,
        on_file: Callable[[FileResult], None] | None = None,
    ):
        s = settings or ConnectorSettings.from_env()
        if not s.sql_source_configured:
            raise ConnectorError(
                "The SQL source is not configured: set SALESDW_SQL_SOURCE_URL to a SQLAlchemy URL, e.g. "
                "postgresql+psycopg2://reader:<password>@db.internal:5432/billing."
            )
        self.objects = tuple(objects)
        self.tables = tables or {}
        self.schema = s.sql_source_schema
        self.updated = s.sql_source_updated_column
        self.lookback = timedelta(minutes=s.sql_source_lookback_minutes)
        self.batch_size = batch_size
        self.engine = sa.create_engine(s.sql_source_url, pool_pre_ping=True)
        self.state = StateStore(con, CONNECTOR)
        self.spool = Spool(con, s.spool_dir, CONNECTOR, run_id=run_id, on_file=on_file)

    def pull(self) -> PullResult:
        result = PullResult(CONNECTOR)
        self.spool.clear_leftovers()
        try:
            with self.engine.connect() as db:
                for obj in self.objects:
                    self.pull_table(db, obj, result)
        except sa.exc.OperationalError as exc:
            # The URL may hold a password: name the host only.
            where = self.engine.url.render_as_string(hide_password=True)
            raise ConnectorError(
                f"cannot read the SQL source {where}: {str(exc.orig).strip().splitlines()[0]}; check "
                f"SALESDW_SQL_SOURCE_URL and that the database accepts connections from here"
            ) from None
        finally:
            self.engine.dispose()
        return result

    def pull_table(self, db: sa.Connection, obj: SourceObject, result: PullResult) -> None:
        name = self.tables.get(obj.name, obj.name)
        try:
            table = sa.Table(name, sa.MetaData(), autoload_with=db, schema=self.schema)
        except sa.exc.NoSuchTableError:
            log.warning("SQL source has no table %s for billing %s; skipped", name, obj.name)
            return
        cols = {c.name: c for c in table.columns}
        if self.updated not in cols or obj.key not in cols:
            raise ConnectorError(
                f"SQL source table {name} needs a {obj.key!r} key column and an {self.updated!r} column to "
                f"replicate incrementally (found: {', '.join(list(cols)[:15])}); set "
                f"SALESDW_SQL_SOURCE_UPDATED_COLUMN to the table's last-modified column"
            )
        types = {f.name: f.type for f in obj.fields}
        contract_names = {f.name for f in obj.fields}
        # Contract fields first, in contract order; any other column is kept (the raw layer never drops
        # what arrives), except the replication column.
        out_cols = [f.name for f in obj.fields if f.name in cols] + [
            c for c in cols if c not in contract_names and c != self.updated
        ]
        upd, key = cols[self.updated], cols[obj.key]
        stored = self.state.get(obj.name).cursor
        since: Any = _order(stored) - self.lookback if stored else None
        numeric = _is_numeric(upd)
        if since is not None and numeric:
            since = int(since.timestamp())  # an updated-at kept as unix seconds
        last: tuple[Any, Any] | None = None
        select_cols = [cols[c] for c in out_cols] + ([] if self.updated in out_cols else [upd])
        while True:
            q = sa.select(*select_cols).order_by(upd, key).limit(self.batch_size)
            if since is not None:
                q = q.where(upd >= since)
            if last is not None:
                q = q.where(sa.or_(upd > last[0], sa.and_(upd == last[0], key > last[1])))
            rows = db.execute(q).mappings().all()
            db.rollback()  # end the read transaction: nothing is held open on the source between pages
            if not rows:
                return
            result.pages += 1
            records = [{c: to_contract(types.get(c, "str"), r[c]) for c in out_cols} for r in rows]
            result.records += len(records)
            result.files.append(self.spool.load(obj, records))
            last = (rows[-1][self.updated], rows[-1][obj.key])
            high = rows[-1][self.updated]
            if numeric and high is not None:
                high = datetime.fromtimestamp(int(high), UTC)
            if isinstance(high, datetime):
                self.state.put(obj.name, _aware(high).isoformat(), None, order=_order)
            if len(rows) < self.batch_size:
                return


def pull_sql_database(
    con: duckdb.DuckDBPyConnection, settings: ConnectorSettings | None = None, **kw
) -> PullResult:
    return SqlDatabaseConnector(con, settings, **kw).pull()

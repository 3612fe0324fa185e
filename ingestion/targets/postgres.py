"""Postgres as the warehouse: replicate raw/audit from the DuckDB landing engine, dbt settings, publish marts.

Loads keep running through the DuckDB loader (its `read_csv`/`read_json` readers, validation SQL, quarantine
and per-file transactions are the landing and validation engine); `replicate_raw` then copies what changed
into the Postgres schemas `raw` and `audit` with the same column types, in one Postgres transaction, and
recreates the `__current` views. dbt builds staging -> marts inside Postgres (profile target `postgres`),
the gates run there, and `publish` copies the audited marts into the serving database's `marts` schema in
one transaction, readable by the NOLOGIN group role `salesdw_bi` only.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import duckdb

from ingestion.contract import OBJECTS, SourceObject
from ingestion.warehouse import CURRENT_SUFFIX

BI_ROLE = "salesdw_bi"
MARTS_SCHEMA = "marts"
# Tables whose rows are only ever appended, a load at a time: copied incrementally by load id.
APPEND_BY_LOAD_ID = {"raw": "_load_id", "audit.quarantine": "load_id"}


class PostgresTargetError(RuntimeError):
    """Something the operator has to fix on the Postgres side; the message says what."""


# --- DSNs -------------------------------------------------------------------------------------------------


def masked(dsn: str) -> str:
    """The DSN with its password replaced by ***, for messages and logs."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        if parts.password is not None:
            host = parts.hostname or ""
            netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn)


def dsn_parts(dsn: str) -> dict[str, str]:
    """host/port/user/password/dbname of a URI or key=value DSN (libpq's own parser)."""
    from psycopg2.extensions import parse_dsn

    try:
        parts = parse_dsn(dsn)
    except Exception as exc:  # psycopg2 puts the whole DSN into its message: never show it
        raise PostgresTargetError(
            f"SALESDW_POSTGRES_DSN is not a valid Postgres DSN ({masked(dsn)}); expected "
            "postgresql://user:password@host:5432/dbname"
        ) from exc
    return {k: unquote(v) if isinstance(v, str) else v for k, v in parts.items()}


def with_database(dsn: str, dbname: str) -> str:
    parts = dsn_parts(dsn)
    user = quote(parts.get("user", ""), safe="")
    password = parts.get("password")
    auth = user + (":" + quote(password, safe="") if password else "") + ("@" if user else "")
    host = parts.get("host", "127.0.0.1")
    port = parts.get("port", "5432")
    return f"postgresql://{auth}{host}:{port}/{quote(dbname, safe='')}"


def marts_dsn(warehouse_dsn: str, explicit: str | None = None) -> str:
    """Where BI reads: SALESDW_POSTGRES_MARTS_DSN, else database `<warehouse>_marts` on the same server."""
    if explicit:
        return explicit
    return with_database(warehouse_dsn, dsn_parts(warehouse_dsn).get("dbname", "salesdw") + "_marts")


def dbt_env(dsn: str) -> dict[str, str]:
    """Environment for dbt's `postgres` profile target (profiles.yml reads these; nothing is logged)."""
    p = dsn_parts(dsn)
    return {
        "SALESDW_PG_HOST": p.get("host", "127.0.0.1"),
        "SALESDW_PG_PORT": str(p.get("port", "5432")),
        "SALESDW_PG_USER": p.get("user", ""),
        "SALESDW_PG_PASSWORD": p.get("password", ""),
        "SALESDW_PG_DBNAME": p.get("dbname", ""),
        "SALESDW_PG_SSLMODE": p.get("sslmode", "prefer"),
        # libpq sets the session zone from PGTZ: dates derived from timestamps are UTC dates, as on DuckDB.
        "PGTZ": "UTC",
    }


def sqlalchemy_url(dsn: str) -> str:
    """The DSN as a SQLAlchemy URL (psycopg2 driver), for Great Expectations."""
    p = dsn_parts(dsn)
    url = with_database(dsn, p.get("dbname", "")).replace("postgresql://", "postgresql+psycopg2://", 1)
    # Sessions in UTC (as connect() and dbt's PGTZ): a suite's CAST(ts AS DATE) is the UTC date.
    return url + "?options=-c%20TimeZone%3DUTC"


def connect(dsn: str):
    """psycopg2 connection in UTC; a failure names the server but never the password."""
    import psycopg2

    try:
        return psycopg2.connect(dsn, options="-c TimeZone=UTC", application_name="salesdw")
    except psycopg2.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PostgresTargetError(
            f"Cannot connect to the Postgres warehouse {masked(dsn)}: {first}. Check SALESDW_POSTGRES_DSN and "
            "that the server accepts connections from this machine."
        ) from None


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- raw/audit replication --------------------------------------------------------------------------------


def pg_type(duckdb_type: str) -> str:
    """The Postgres type holding exactly the values of a DuckDB column type."""
    t = duckdb_type.upper().strip()
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return f"numeric({m.group(1)},{m.group(2)})"
    mapping = {
        "VARCHAR": "text",
        "BOOLEAN": "boolean",
        "TINYINT": "smallint",
        "SMALLINT": "smallint",
        "INTEGER": "integer",
        "BIGINT": "bigint",
        "HUGEINT": "numeric(38,0)",
        "DOUBLE": "double precision",
        "FLOAT": "real",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "TIMESTAMP WITH TIME ZONE": "timestamptz",
        # jsonb: Postgres' indexed, operator-rich JSON; key order and whitespace are not part of our data.
        "JSON": "jsonb",
    }
    if t not in mapping:
        raise PostgresTargetError(f"no Postgres type for DuckDB type {duckdb_type!r}; add it to pg_type()")
    return mapping[t]


@dataclass
class TableCopy:
    table: str
    mode: str  # incremental | full | unchanged
    rows_copied: int
    rows_total: int


@dataclass
class ReplicationReport:
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def rows_copied(self) -> int:
        return sum(t.rows_copied for t in self.tables)

    def summary(self) -> str:
        changed = [t for t in self.tables if t.rows_copied]
        return f"replicated {self.rows_copied} rows into {len(changed)} of {len(self.tables)} Postgres tables"


def _duck_tables(duck: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = duck.execute(
        "SELECT c.table_schema || '.' || c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema IN ('raw', 'audit') AND t.table_type = 'BASE TABLE' "
        "ORDER BY 1, c.ordinal_position"
    ).fetchall()
    # raw.<table>__current is DuckDB's own copy of the current versions: this target ranks its own (a view)
    rows = [r for r in rows if not (r[0].startswith("raw.") and r[0].endswith(CURRENT_SUFFIX))]
    out: dict[str, list[tuple[str, str]]] = {}
    for table, col, typ in rows:
        out.setdefault(table, []).append((col, typ))
    for table, cols in out.items():
        names = [pg_name(c) for c, _ in cols]
        if len(set(names)) != len(names):
            raise PostgresTargetError(
                f"{table} has columns that differ only in case; Postgres keeps one name each"
            )
    return out


def _pg_columns(cur, schema: str, table: str) -> dict[str, str]:
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table),
    )
    return dict(cur.fetchall())


_PG_CANONICAL = {
    "text": "text",
    "boolean": "boolean",
    "smallint": "smallint",
    "integer": "integer",
    "bigint": "bigint",
    "double precision": "double precision",
    "real": "real",
    "date": "date",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "jsonb": "jsonb",
}


def _same_type(wanted: str, actual: str) -> bool:
    return _PG_CANONICAL.get(wanted, wanted) == actual


def _ensure_table(cur, qualified: str, columns: list[tuple[str, str]]) -> None:
    schema, table = qualified.split(".", 1)
    existing = _pg_columns(cur, schema, table)
    if not existing:
        cols = ", ".join(f"{ident(pg_name(c))} {pg_type(t)}" for c, t in columns)
        cur.execute(f"CREATE TABLE {ident(schema)}.{ident(table)} ({cols})")
        return
    for col, typ in columns:
        want, name = pg_type(typ), pg_name(col)
        if name not in existing:
            # New delivered columns are appended in DuckDB too, so `__current` can be replaced in place.
            cur.execute(f"ALTER TABLE {ident(schema)}.{ident(table)} ADD COLUMN {ident(name)} {want}")
        elif not _same_type(want, existing[name]):
            raise PostgresTargetError(
                f"Postgres column {qualified}.{name} is {existing[name]} but the warehouse has {typ} ({want}); "
                f"drop the Postgres table {qualified} and run again to re-replicate it in full."
            )


def pg_name(column: str) -> str:
    """Raw column names are lower-cased in Postgres.

    DuckDB resolves `Id` and `id` to the same column; Postgres folds unquoted names to lower case and
    matches quoted ones exactly. Lower-case columns make the same unquoted model SQL resolve on both.
    """
    return column.lower()


def _copy(duck, cur, qualified: str, columns: list[str], where: str, workdir: Path) -> int:
    """DuckDB writes CSV (its parallel writer), Postgres reads it with COPY: no rows pass through Python."""
    schema, table = qualified.split(".", 1)
    path = workdir / f"{schema}.{table}.csv"
    cols = ", ".join(ident(c) for c in columns)
    pg_cols = ", ".join(ident(pg_name(c)) for c in columns)
    # Unquoted empty field = NULL, quoted "" = empty string: the same convention in both CSV dialects.
    duck.execute(
        f"COPY (SELECT {cols} FROM {ident(schema)}.{ident(table)} {where}) TO {literal(str(path))} "
        "(FORMAT csv, HEADER false, QUOTE '\"', ESCAPE '\"', NULL '', FORCE_QUOTE *)"
    )
    with path.open("rb") as f:
        cur.copy_expert(
            f"COPY {ident(schema)}.{ident(table)} ({pg_cols}) FROM STDIN WITH (FORMAT csv, NULL '')",
            f,
            size=1 << 20,
        )
    n = cur.rowcount
    path.unlink()
    return n


def current_view_sql(obj: SourceObject, columns: Iterable[str]) -> str:
    """Postgres twin of ingestion.warehouse.current_select: the latest version per key, by the same
    precedence (ingestion.warehouse.version_order)."""
    order = []
    if obj.deletes_are_final:
        order.append(f"coalesce({ident(pg_name(obj.deleted))}, false) DESC")
    if obj.version:
        order.append(f"{ident(pg_name(obj.version))} DESC NULLS LAST")
    # "C" collation: batch names compare byte for byte, as in DuckDB, whatever the database's locale.
    order += ['_batch COLLATE "C" DESC', "_loaded_at DESC", "_row_number DESC"]
    cols = ", ".join(ident(pg_name(c)) for c in columns)
    return (
        f"CREATE OR REPLACE VIEW raw.{ident(obj.table + '__current')} AS SELECT {cols} FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY {ident(pg_name(obj.key))} ORDER BY {', '.join(order)}) "
        f"AS _salesdw_rank FROM raw.{ident(obj.table)}) ranked WHERE _salesdw_rank = 1"
    )


def replicate_raw(
    duck: duckdb.DuckDBPyConnection,
    dsn: str,
    *,
    full: bool = False,
    objects: Iterable[SourceObject] | None = None,
) -> ReplicationReport:
    """Bring Postgres `raw`/`audit` up to date with the DuckDB warehouse, in one Postgres transaction.

    Raw history tables and the quarantine only grow a load at a time, so only load ids Postgres lacks are
    copied; a table whose Postgres copy has load ids DuckDB lacks (a rebuilt warehouse) or whose row count
    differs afterwards is copied in full. The load log is small and updated in place: always copied in full.
    `objects` limits the raw tables to those objects' (the Dagster raw asset of one object replicates what
    its load wrote); the `audit` tables, which every load writes to, are always included.
    """
    duck.execute("SET TimeZone = 'UTC'")  # timestamptz written as +00 offsets
    tables = _duck_tables(duck)
    if objects is not None:
        objects = list(objects)
        wanted = {f"raw.{o.table}" for o in objects}
        tables = {t: cols for t, cols in tables.items() if t in wanted or t.startswith("audit.")}
    report = ReplicationReport()
    con = connect(dsn)
    try:
        with con.cursor() as cur, tempfile.TemporaryDirectory(prefix="salesdw-pg-copy-") as tmp:
            workdir = Path(tmp)
            cur.execute("CREATE SCHEMA IF NOT EXISTS raw")
            cur.execute("CREATE SCHEMA IF NOT EXISTS audit")
            for qualified, columns in tables.items():
                schema, table = qualified.split(".", 1)
                _ensure_table(cur, qualified, columns)
                names = [c for c, _ in columns]
                key = APPEND_BY_LOAD_ID.get(qualified) or APPEND_BY_LOAD_ID.get(schema)
                duck_total = duck.execute(f"SELECT count(*) FROM {ident(schema)}.{ident(table)}").fetchone()[
                    0
                ]
                mode, copied = "full", 0
                if key and not full:
                    duck_ids = {
                        r[0]
                        for r in duck.execute(
                            f"SELECT DISTINCT {ident(key)} FROM {ident(schema)}.{ident(table)}"
                        ).fetchall()
                    }
                    cur.execute(f"SELECT DISTINCT {ident(key)} FROM {ident(schema)}.{ident(table)}")
                    pg_ids = {r[0] for r in cur.fetchall()}
                    if pg_ids <= duck_ids:
                        new = sorted(i for i in duck_ids - pg_ids if i is not None)
                        mode = "incremental" if new else "unchanged"
                        if new:
                            where = f"WHERE {ident(key)} IN ({', '.join(literal(i) for i in new)})"
                            copied = _copy(duck, cur, qualified, names, where, workdir)
                        cur.execute(f"SELECT count(*) FROM {ident(schema)}.{ident(table)}")
                        if cur.fetchone()[0] != duck_total:
                            mode = "full"
                if mode == "full":
                    cur.execute(f"TRUNCATE {ident(schema)}.{ident(table)}")
                    copied = _copy(duck, cur, qualified, names, "", workdir)
                    if copied != duck_total:
                        raise PostgresTargetError(
                            f"replicating {qualified}: Postgres received {copied} rows, DuckDB has {duck_total}"
                        )
                report.tables.append(TableCopy(qualified, mode, copied, duck_total))
            for obj in OBJECTS if objects is None else objects:
                if f"raw.{obj.table}" in tables:
                    cur.execute(current_view_sql(obj, [c for c, _ in tables[f"raw.{obj.table}"]]))
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()
    return report


# --- publish ----------------------------------------------------------------------------------------------


def ensure_bi_role(cur) -> None:
    """The NOLOGIN group role BI logins are granted: `GRANT salesdw_bi TO <login>;`."""
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (BI_ROLE,))
    if cur.fetchone() is None:
        cur.execute(f"CREATE ROLE {ident(BI_ROLE)} NOLOGIN")


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    tables: dict[str, int]
    published_at: datetime
    target: str


def _mart_tables(cur, schema: str) -> list[str]:
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE' "
        "ORDER BY 1",
        (schema,),
    )
    return [r[0] for r in cur.fetchall()]


def publish(
    dsn: str,
    serving_dsn: str,
    run_id: str,
    *,
    source_schema: str = MARTS_SCHEMA,
    tables: Iterable[str] | None = None,
) -> PublishResult:
    """Copy the audited marts of the warehouse database into the serving database's `marts`, atomically.

    `tables` names the tables to publish (the dbt marts, as the DuckDB publish does), so a table a removed
    model left behind in the build schema never reaches BI; without it every table of the schema goes.

    The tables are built in `marts__next` of the serving database, then, in one transaction, `marts` becomes
    `marts__previous` (dropped) and `marts__next` becomes `marts`: a BI query sees the old or the new marts,
    never a mix, and a failure anywhere before the swap leaves the old marts untouched.
    """
    if dsn_parts(dsn).get("dbname") == dsn_parts(serving_dsn).get("dbname") and (
        dsn_parts(dsn).get("host"),
        str(dsn_parts(dsn).get("port")),
    ) == (dsn_parts(serving_dsn).get("host"), str(dsn_parts(serving_dsn).get("port"))):
        raise PostgresTargetError(
            "SALESDW_POSTGRES_MARTS_DSN points at the warehouse database itself; BI reads a separate database "
            "(default: <warehouse>_marts) so that dbt's build schema `marts` is never what BI sees mid-build."
        )
    _ensure_database(dsn, serving_dsn)
    src = connect(dsn)
    dst = connect(serving_dsn)
    published_at = datetime.now(UTC)
    counts: dict[str, int] = {}
    try:
        with src.cursor() as s, dst.cursor() as d:
            available = _mart_tables(s, source_schema)
            if not available:
                raise PostgresTargetError(
                    f"no tables in schema {source_schema} of {masked(dsn)}: run dbt first"
                )
            wanted = available if tables is None else sorted(tables)
            missing = sorted(set(wanted) - set(available))
            if missing:
                raise PostgresTargetError(
                    f"schema {source_schema} of {masked(dsn)} lacks {', '.join(missing)}: build them with dbt "
                    "before publishing (nothing was published; BI keeps the marts it had)"
                )
            ensure_bi_role(d)
            d.execute("DROP SCHEMA IF EXISTS marts__next CASCADE")
            d.execute("CREATE SCHEMA marts__next")
            for table in wanted:
                cols = _pg_columns(s, source_schema, table)
                d.execute(
                    f"CREATE TABLE marts__next.{ident(table)} ("
                    + ", ".join(f"{ident(c)} {t}" for c, t in cols.items())
                    + ")"
                )
                counts[table] = _stream_table(s, d, source_schema, table, list(cols))
            d.execute(
                "CREATE TABLE marts__next._published (run_id text, published_at timestamptz, tables jsonb)",
            )
            import json

            d.execute(
                "INSERT INTO marts__next._published VALUES (%s, %s, %s)",
                (run_id, published_at, json.dumps(counts, sort_keys=True)),
            )
            d.execute("DROP SCHEMA IF EXISTS marts__previous CASCADE")
            d.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (MARTS_SCHEMA,))
            if d.fetchone():
                d.execute(f"ALTER SCHEMA {ident(MARTS_SCHEMA)} RENAME TO marts__previous")
            d.execute(f"ALTER SCHEMA marts__next RENAME TO {ident(MARTS_SCHEMA)}")
            d.execute("DROP SCHEMA IF EXISTS marts__previous CASCADE")
            # Grants travel with the tables, which are new: BI sees marts and nothing else.
            d.execute(f"GRANT USAGE ON SCHEMA {ident(MARTS_SCHEMA)} TO {ident(BI_ROLE)}")
            d.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {ident(MARTS_SCHEMA)} TO {ident(BI_ROLE)}")
        dst.commit()
    except BaseException:
        dst.rollback()
        raise
    finally:
        src.close()
        dst.close()
    return PublishResult(run_id, counts, published_at, masked(serving_dsn))


def published_info(serving_dsn: str) -> dict | None:
    """What the serving database's `marts` holds now (run id, time, tables), or None if nothing was published.

    The same shape as ingestion.publish.published_info for the DuckDB serving file.
    """
    con = connect(serving_dsn)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT to_regclass('marts._published') IS NOT NULL")
            if not cur.fetchone()[0]:
                return None
            cur.execute("SELECT run_id, published_at, tables FROM marts._published")
            row = cur.fetchone()
    finally:
        con.close()
    return {"run_id": row[0], "published_at": row[1], "tables": row[2]} if row else None


def _stream_table(src_cur, dst_cur, schema: str, table: str, columns: list[str]) -> int:
    """COPY out of one database into the other through a spooled buffer (binary: exact types, fast)."""
    cols = ", ".join(ident(c) for c in columns)
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as buf:
        src_cur.copy_expert(
            f"COPY (SELECT {cols} FROM {ident(schema)}.{ident(table)}) TO STDOUT (FORMAT binary)", buf
        )
        buf.seek(0)
        dst_cur.copy_expert(f"COPY marts__next.{ident(table)} ({cols}) FROM STDIN (FORMAT binary)", buf)
    return dst_cur.rowcount


def _ensure_database(dsn: str, serving_dsn: str) -> None:
    """Create the serving database on first publish when the warehouse role may (CREATEDB)."""
    import psycopg2
    from psycopg2 import sql

    name = dsn_parts(serving_dsn).get("dbname", "")
    try:
        connect(serving_dsn).close()
        return
    except PostgresTargetError:
        pass
    con = connect(dsn)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                try:
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'").format(
                            sql.Identifier(name)
                        )
                    )
                except psycopg2.Error as exc:
                    raise PostgresTargetError(
                        f"the serving database {name!r} does not exist and cannot be created ({exc.pgerror or exc}); "
                        "create it (CREATE DATABASE) or set SALESDW_POSTGRES_MARTS_DSN."
                    ) from None
    finally:
        con.close()

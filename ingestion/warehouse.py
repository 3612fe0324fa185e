"""Opening the DuckDB warehouse and creating the raw and audit schemas the loaders write to."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from ingestion.contract import META_COLUMNS, OBJECTS, SQL_TYPES, SourceObject


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or written; the message says why and what to do."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the DuckDB file: DuckDB allows one writer at a time."""


class WarehouseWriteError(WarehouseError):
    """The operating system refused a write to the warehouse (disk full, read-only, too large)."""


# OS errors as DuckDB and Python word them -> what the operator should do about it.
_WRITE_FAILURES = {
    "no space left on device": "free disk space on the warehouse's volume",
    "disk quota exceeded": "raise the disk quota or free space",
    "file too large": "raise the file size limit (ulimit -f) or move the warehouse",
    "read-only file system": "mount the warehouse's volume writable or point SALESDW_WAREHOUSE elsewhere",
    "permission denied": "give this user write access to the warehouse file and its folder",
}


def _os_cause(exc: BaseException) -> tuple[str, str] | None:
    text = str(exc).lower()
    return next(((c, a) for c, a in _WRITE_FAILURES.items() if c in text), None)


def write_failure(
    con: duckdb.DuckDBPyConnection, what: str, exc: BaseException
) -> WarehouseWriteError | None:
    """A clear error for a write the operating system refused while loading `what`, else None."""
    found = _os_cause(exc)
    if found is None:
        return None
    try:
        db = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()[0]
    except duckdb.Error:
        db = "the warehouse"
    return WarehouseWriteError(
        f"{what}: could not write to {db}: {found[0]}. Nothing of this file was loaded (its transaction was "
        f"rolled back). To fix: {found[1]}, then run again; files loaded before are skipped."
    )


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB; names from data files are never trusted to be plain."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, turning DuckDB's lock error into one that tells the operator what to do."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, str] = {}
    if threads:
        config["threads"] = str(threads)
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            holder = re.search(r"\(PID (\d+)\)", msg)
            who = f"process {holder.group(1)}" if holder else "another process"
            raise WarehouseLockedError(
                f"The warehouse {path} is locked by {who}. DuckDB allows one writer at a time: wait for the "
                f"other salesdw run to finish, or close the program holding the file (BI tools should read "
                f"the published marts file, not the warehouse)."
            ) from exc
        found = None if read_only else _os_cause(exc)
        if found:
            raise WarehouseWriteError(
                f"Cannot open the warehouse {path} for writing: {found[0]}. To fix: {found[1]}."
            ) from exc
        raise
    con.execute("SET TimeZone = 'UTC'")
    return con


def raw_columns(obj: SourceObject) -> dict[str, str]:
    cols = {f.name: SQL_TYPES[f.type] for f in obj.fields}
    cols["_record_hash"] = "VARCHAR"
    cols.update(META_COLUMNS)
    return cols


def current_view_sql(obj: SourceObject) -> str:
    """Latest version per key: later version stamp, then later batch, then later row wins."""
    order = []
    if obj.version:
        order.append(f"{quote_ident(obj.version)} DESC NULLS LAST")
    order += ["_batch DESC", "_row_number DESC"]
    return (
        f"CREATE OR REPLACE VIEW raw.{quote_ident(obj.table + '__current')} AS "
        f"SELECT * FROM raw.{quote_ident(obj.table)} "
        f"QUALIFY row_number() OVER (PARTITION BY {quote_ident(obj.key)} ORDER BY {', '.join(order)}) = 1"
    )


AUDIT_DDL = [
    "CREATE SCHEMA IF NOT EXISTS raw",
    "CREATE SCHEMA IF NOT EXISTS audit",
    """CREATE TABLE IF NOT EXISTS audit.load_log (
        load_id VARCHAR,
        run_id VARCHAR,
        source VARCHAR,
        object VARCHAR,
        raw_table VARCHAR,
        file VARCHAR,
        file_sha256 VARCHAR,
        file_bytes BIGINT,
        status VARCHAR,            -- loaded | refused | duplicate_file
        rows_in BIGINT,
        rows_loaded BIGINT,
        rows_quarantined BIGINT,
        rows_unchanged BIGINT,     -- exact re-deliveries of versions already in raw
        message VARCHAR,
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ
    )""",
    """CREATE TABLE IF NOT EXISTS audit.quarantine (
        load_id VARCHAR,
        source VARCHAR,
        object VARCHAR,
        raw_table VARCHAR,
        file VARCHAR,
        row_number BIGINT,
        record_id VARCHAR,
        reason_code VARCHAR,       -- unparseable_row | wrong_type | missing_required | duplicate_conflict
        reason VARCHAR,
        raw_record VARCHAR,
        quarantined_at TIMESTAMPTZ
    )""",
]


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, objects: tuple[SourceObject, ...] = OBJECTS) -> None:
    """Create the audit tables and an (empty) raw table and current view for every contract object.

    Tables exist even for objects that were never delivered, so models downstream always compile.
    """
    for stmt in AUDIT_DDL:
        con.execute(stmt)
    for obj in objects:
        cols = ", ".join(f"{quote_ident(n)} {t}" for n, t in raw_columns(obj).items())
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{quote_ident(obj.table)} ({cols})")
        con.execute(current_view_sql(obj))


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]

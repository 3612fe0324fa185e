"""Opening the DuckDB warehouse and creating the raw and audit schemas the loaders write to."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
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


# Characters DuckDB's file readers take as a glob pattern (`**` included): a file name holding them would
# read other files, or none. `{ } ,` are not patterns in DuckDB 1.5 (checked against its reader).
_GLOB_CHARS = re.compile(r"[*?\[]")
# Options every DuckDB file reader gets: a `key=value` folder in the landing zone's path (e.g. /data/env=prod/)
# must not become a column (DuckDB detects Hive partitions in any path by default).
READER_OPTIONS = "hive_partitioning = false"


def reader_path(path: Path | str) -> str:
    """A file path as the SQL literal a DuckDB reader (read_csv, read_json, read_parquet) takes as that one
    file, whatever its name holds: absolute (DuckDB resolves relative paths and `~` itself) and with glob
    characters escaped as one-character classes (`X[1].csv` -> `X[[]1].csv`), which DuckDB matches literally."""
    text = os.path.abspath(path)
    if _GLOB_CHARS.search(text):
        text = glob.escape(text)
    return quote_literal(text)


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB; names from data files are never trusted to be plain."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_SQLITE_MAGIC = b"SQLite format 3\x00"


# The schemas salesdw creates in its DuckDB files. DuckDB names a file's catalog after the file name up to its
# first dot; a catalog named like one of its schemas makes every `schema.table` reference ambiguous
# ("Ambiguous reference to catalog or schema"), in salesdw and in every BI tool that opens the file.
SCHEMAS = frozenset({"raw", "audit", "staging", "intermediate", "marts", "dbt_state"})


def check_catalog_name(path: Path | str, setting: str) -> None:
    """Raise WarehouseError when DuckDB would name the file at `path` like a schema (raw.duckdb, marts.db,
    Marts.backup.duckdb): `setting` is the variable that named it."""
    path = Path(path)
    catalog = path.name.split(".")[0]
    if catalog.lower() in SCHEMAS:
        raise WarehouseError(
            f"{setting} {path}: DuckDB names this file's catalog {catalog!r} (its name up to the first dot), "
            f"like the schema {catalog.lower()} inside it, so every {catalog.lower()}.<table> reference would be "
            f"ambiguous. Point {setting} at a file named otherwise (names starting with "
            f"{', '.join(sorted(SCHEMAS))} are taken), e.g. data/warehouse.duckdb or data/salesdw_marts.duckdb."
        )


def check_warehouse_path(path: Path | str) -> None:
    """Raise WarehouseError unless `path` is a DuckDB file or a place where one can be created.

    Only looks: nothing is created, opened for writing or changed. DuckDB handed another kind of file
    either fails deep inside a step or, for SQLite, tries to download its sqlite extension to attach it."""
    path = Path(path)
    fix = (
        "Point SALESDW_WAREHOUSE at a salesdw DuckDB file, or at a new file path (e.g. data/warehouse.duckdb), "
        "which is created on the first run"
    )
    if path.is_dir():
        raise WarehouseError(f"SALESDW_WAREHOUSE {path} is a folder, not a DuckDB file. {fix}.")
    check_catalog_name(path, "SALESDW_WAREHOUSE")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise WarehouseError(
                f"SALESDW_WAREHOUSE {path} is not a regular file (a link to nothing, a device?). {fix}."
            )
        try:
            with path.open("rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise WarehouseError(f"SALESDW_WAREHOUSE {path} cannot be read ({exc.strerror}). {fix}.") from exc
        if head[8:12] != b"DUCK":
            kind = (
                "an empty file"
                if not head
                else "a SQLite database"
                if head.startswith(_SQLITE_MAGIC)
                else "not a DuckDB database file"
            )
            raise WarehouseError(f"SALESDW_WAREHOUSE {path} is {kind}; salesdw leaves it untouched. {fix}.")
        return
    parent = next((p for p in path.parents if p.exists() or p.is_symlink()), None)
    if parent is not None and not parent.is_dir():
        raise WarehouseError(
            f"SALESDW_WAREHOUSE {path} cannot be created: {parent} is a file, not a folder. {fix}."
        )


def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, turning DuckDB's lock error into one that tells the operator what to do."""
    path = Path(path)
    check_warehouse_path(path)
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


def version_order(obj: SourceObject) -> list[str]:
    """Which of two versions of one record is the later, as ORDER BY terms (first = latest), by precedence:

    1. a billing deletion (Stripe never restores a deleted object, and its stub carries no stamp),
    2. the later version stamp (SystemModstamp / updated / updated_at),
    3. the later batch (file name),
    4. the later delivery: a file re-delivered under a name loaded before is later than that load,
    5. the later row in the file.
    """
    order = []
    if obj.deletes_are_final:
        order.append(f"coalesce({quote_ident(obj.deleted)}, false) DESC")
    if obj.version:
        order.append(f"{quote_ident(obj.version)} DESC NULLS LAST")
    return order + ["_batch DESC", "_loaded_at DESC", "_row_number DESC"]


CURRENT_SUFFIX = "__current"


def current_table(obj: SourceObject) -> str:
    """raw.<table>__current: the current version of every record, one row per key (version_order)."""
    return f"raw.{quote_ident(obj.table + CURRENT_SUFFIX)}"


def current_select(obj: SourceObject, where: str = "") -> str:
    """SELECT of the latest version per key (version_order) among raw.<table>'s rows matching `where`.
    The rows without a key are one partition, so one row, as a window over all rows would keep."""
    return (
        f"SELECT * FROM raw.{quote_ident(obj.table)} {where} "
        f"QUALIFY row_number() OVER (PARTITION BY {quote_ident(obj.key)} ORDER BY {', '.join(version_order(obj))}) = 1"
    )


def rebuild_current(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> None:
    """raw.<table>__current computed afresh from every version in raw.<table>."""
    con.execute(f"CREATE OR REPLACE TABLE {current_table(obj)} AS {current_select(obj)}")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The statements inside commit together or not at all. Not nested: DuckDB has no savepoints, and a BEGIN
    inside a transaction aborts it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # a failed COMMIT has rolled back already; the original error is the one to show
        raise


def refresh_current(con: duckdb.DuckDBPyConnection, obj: SourceObject, new_rows: str) -> None:
    """Bring raw.<table>__current up to date after versions were added to raw.<table>; `new_rows` is a
    condition on raw.<table> that holds for every added row (it may hold for older rows too). Call it in the
    transaction that added them (the loader does): on its own, a failure between its DELETE and its INSERT
    would leave records out.

    The latest version of a record is the latest of its current row and its added versions (version_order is
    a total order, so the latest of a set is the latest of the latests of its parts): only the records the
    added rows name are ranked, among those rows and their current rows, and replaced. The table stays equal
    to current_select(obj) over all of raw (tests prove it), at the cost of the rows a batch added instead of
    ranking every version on each read or on each load."""
    key, table = quote_ident(obj.key), quote_ident(obj.table)
    named = f"{key} IN (SELECT k FROM _added) OR ({key} IS NULL AND EXISTS (SELECT 1 FROM _added WHERE k IS NULL))"
    # (the temp tables go with a rollback; no try/finally: in a failed transaction a DROP would fail too and
    # hide the error)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _added AS SELECT DISTINCT {key} AS k FROM raw.{table} WHERE {new_rows}"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _replaced AS SELECT * FROM {current_table(obj)} WHERE {named}")
    con.execute(f"DELETE FROM {current_table(obj)} WHERE {named}")
    con.execute(
        f"INSERT INTO {current_table(obj)} BY NAME SELECT * FROM "
        f"(SELECT * FROM raw.{table} WHERE {new_rows} UNION ALL BY NAME FROM _replaced) "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {', '.join(version_order(obj))}) = 1"
    )
    con.execute("DROP TABLE temp._added")
    con.execute("DROP TABLE temp._replaced")


def _ensure_current(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    kind: str | None,
    columns: list[str] | None,
    before: list[str],
    added: dict[str, str],
) -> None:
    """Keep raw.<table>__current a table with raw.<table>'s columns in raw's order (`columns`: its own,
    `before`: raw's before `added` were added to raw). Added columns are added to it too (NULL, as in raw's
    older rows). A missing one, a view (warehouses from before it was a table) or one whose columns are not
    raw's is computed afresh."""
    if kind == "table" and columns == before:
        for name, typ in added.items():
            con.execute(f"ALTER TABLE {current_table(obj)} ADD COLUMN {quote_ident(name)} {typ}")
        return
    if kind == "view":
        con.execute(f"DROP VIEW {current_table(obj)}")
    rebuild_current(con, obj)


def current_rows_sql(obj: SourceObject) -> str:
    """SELECT of how many rows raw.<table>__current holds."""
    return f"SELECT count(*) FROM {current_table(obj)}"


# Why a row is in audit.quarantine (its first reason, when it has several). docs/loading.md explains each.
QUARANTINE_REASONS = (
    "unparseable_row",  # not a CSV record / not a JSON object, or swallowed by an unterminated quote
    "wrong_type",  # a value that does not read as its field's type (impossible offsets included)
    "missing_required",  # a field the marts need is empty or absent
    "duplicate_conflict",  # one key and version twice in a file with different content
    "duplicate_key",  # a JSON object naming one field twice ("total" twice, or "total" and " total")
    "incomplete_list",  # a nested Stripe list with has_more: true (the file cannot complete it)
)

# Names the raw tables use themselves: a delivered column named like one (case-insensitively) is stored as
# `<name>__2` (validation._unique_name), its values kept. `rowid` is DuckDB's row-id pseudo-column.
RAW_RESERVED = frozenset({"_record_hash", *META_COLUMNS, "rowid"})

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
        status VARCHAR,            -- loaded | refused | duplicate_file | ignored (docs/loading.md)
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
        reason_code VARCHAR,       -- QUARANTINE_REASONS
        reason VARCHAR,
        raw_record VARCHAR,
        quarantined_at TIMESTAMPTZ
    )""",
]


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, objects: tuple[SourceObject, ...] = OBJECTS) -> None:
    """Create the audit tables and an (empty) raw table and current table for every contract object, and add
    the columns a contract field added since a table was created needs (as NULL for the rows before).

    Tables exist even for objects that were never delivered, so models downstream always compile. Call it
    outside a transaction: each object's changes are a transaction of their own.
    """
    for stmt in AUDIT_DDL:
        con.execute(stmt)
    have: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'raw' "
        "AND database_name = current_database() ORDER BY table_name, column_index"
    ).fetchall():
        have.setdefault(table, []).append(column)
    kinds = dict(
        con.execute(
            "SELECT table_name, 'table' FROM duckdb_tables() WHERE schema_name = 'raw' AND database_name = current_database() "
            "UNION ALL SELECT view_name, 'view' FROM duckdb_views() WHERE schema_name = 'raw' AND database_name = current_database()"
        ).fetchall()
    )
    for obj in objects:
        before = have.get(obj.table, [])
        present = {c.lower() for c in before}
        added = {n: t for n, t in raw_columns(obj).items() if n.lower() not in present}
        current = obj.table + CURRENT_SUFFIX
        with transaction(con):  # raw and its current table change together: a kill in between leaves neither
            if not before:
                spec = ", ".join(f"{quote_ident(n)} {t}" for n, t in added.items())
                con.execute(f"CREATE TABLE IF NOT EXISTS raw.{quote_ident(obj.table)} ({spec})")
                added = {}
            for name, typ in added.items():
                con.execute(f"ALTER TABLE raw.{quote_ident(obj.table)} ADD COLUMN {quote_ident(name)} {typ}")
            _ensure_current(con, obj, kinds.get(current), have.get(current), before, added)


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]

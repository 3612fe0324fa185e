"""Publish audited marts to the serving file BI tools read: build a new file, then swap it in atomically.

Write-audit-publish: dbt writes marts into the warehouse, the gates audit them there, and only then
this copies them into a fresh DuckDB file and renames it over the previous one. A BI client holding the
old file keeps reading the old, complete version; nobody ever sees a half-built or failed build, and
readers never take the warehouse's write lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.warehouse import connect, quote_ident, quote_literal

PUBLISH_LOG = "_published"  # one row describing the build that the serving file holds


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int]
    run_id: str
    published_at: datetime
    copied: list[str] = field(
        default_factory=list
    )  # tables written anew (the others kept from the last file)


def published_info(marts_path: Path) -> dict | None:
    """What the serving file holds now (run id, time, tables, and each table's content signature when the
    publish recorded one), or None if nothing was published yet."""
    if not Path(marts_path).exists():
        return None
    con = connect(marts_path, read_only=True)
    try:
        cols = {r[0] for r in con.execute(f"DESCRIBE marts.{PUBLISH_LOG}").fetchall()}
        signatures = "signatures" if "signatures" in cols else "NULL"
        row = con.execute(
            f"SELECT run_id, published_at, tables, {signatures} FROM marts.{PUBLISH_LOG}"
        ).fetchone()
    finally:
        con.close()
    if not row:
        return None
    return {
        "run_id": row[0],
        "published_at": row[1],
        "tables": json.loads(row[2]),
        "signatures": json.loads(row[3]) if row[3] else {},
    }


def table_signature(con, catalog: str, schema: str, table: str) -> tuple[str, int]:
    """(content signature, rows) of a table: its columns with their types, its row count and the sum of a
    64-bit hash of every row. Equal signatures mean the same rows (as a multiset) under the same columns;
    any changed, added or removed row or column changes it, short of a 64-bit hash collision."""
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [catalog, schema, table],
    ).fetchall()
    rows, hashed = con.execute(
        f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {quote_ident(catalog)}.{quote_ident(schema)}."
        f"{quote_ident(table)} AS t"
    ).fetchone()
    digest = hashlib.sha256(json.dumps([cols, rows, str(hashed)]).encode()).hexdigest()[:32]
    return digest, rows


def _previous_signatures(marts_path: Path) -> dict[str, str]:
    """Table -> signature recorded by the publish that wrote the current serving file ({} when there is
    none, it predates signatures, or it cannot be read: then everything is copied, as on a first publish)."""
    try:
        info = published_info(marts_path)
    except Exception:  # noqa: BLE001 - an unreadable serving file is simply rewritten in full
        return {}
    return info["signatures"] if info else {}


# A publish that would re-copy more than this share of the serving file's rows writes a fresh file instead:
# the copy of the old file would cost as much, and a fresh file has no free blocks left from dropped tables.
MAX_RECOPIED_SHARE = 0.5


def publish_marts(
    warehouse: Path, marts_path: Path, run_id: str, schema: str = "marts", tables: list[str] | None = None
) -> PublishResult:
    """Copy the marts into a new serving file and swap it in.

    The new file starts as a byte copy of the current serving file when that one records a signature per
    table (`table_signature`): only the tables whose signature changed since are dropped and copied again. So a
    run that changed 2 of 14 marts re-copies those 2 (an 11 M-row daily snapshot that did not change is not
    rewritten). Either way the file BI tools open is complete and replaced by one atomic rename.
    """
    marts_path = Path(marts_path)
    marts_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = marts_path.with_name(f".{marts_path.name}.{uuid.uuid4().hex}.tmp")
    con = connect(warehouse)
    # Holding the warehouse's write lock, no other publish from it is running: a leftover temporary file
    # is from a publish that was killed mid-copy, never renamed; it is garbage, never served.
    for pattern in (f".{marts_path.name}.*.tmp", f".{marts_path.name}.*.tmp.wal"):
        for stale in marts_path.parent.glob(pattern):
            stale.unlink(missing_ok=True)
    try:
        available = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' "
                "ORDER BY table_name",
                [schema],
            ).fetchall()
        ]
        wanted = available if tables is None else [t for t in tables if t in available]
        missing = sorted(set(tables or []) - set(available))
        if missing:
            raise RuntimeError(f"cannot publish: {schema}.{', '.join(missing)} not built in {warehouse}")
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        signed = {t: table_signature(con, catalog, schema, t) for t in wanted}
        counts = {t: rows for t, (_, rows) in signed.items()}
        previous = _previous_signatures(marts_path)
        changed = [t for t in wanted if previous.get(t) != signed[t][0]]
        total = sum(counts.values())
        incremental = bool(previous) and sum(counts[t] for t in changed) <= MAX_RECOPIED_SHARE * total
        copied = list(wanted)
        if incremental:
            shutil.copyfile(marts_path, tmp)  # a new inode: readers of the old file keep their version
            os.chmod(tmp, 0o644)
            try:
                con.execute(f"ATTACH {quote_literal(str(tmp))} AS pub")
                kept = {
                    r[0]
                    for r in con.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'pub' "
                        "AND table_schema = 'marts'"
                    ).fetchall()
                }
            except duckdb.Error:  # the old file cannot serve as a base: write a fresh one
                con.execute("DETACH DATABASE IF EXISTS pub")
                tmp.unlink(missing_ok=True)
                incremental = False
        if incremental:
            for t in sorted(kept - set(wanted) - {PUBLISH_LOG}):  # a mart no longer published
                con.execute(f"DROP TABLE pub.marts.{quote_ident(t)}")
            con.execute(f"DROP TABLE IF EXISTS pub.marts.{PUBLISH_LOG}")
            copied = [t for t in wanted if t in changed or t not in kept]
        else:
            con.execute(f"ATTACH {quote_literal(str(tmp))} AS pub")
            con.execute("CREATE SCHEMA pub.marts")
        for t in copied:
            con.execute(f"DROP TABLE IF EXISTS pub.marts.{quote_ident(t)}")
            con.execute(
                f"CREATE TABLE pub.marts.{quote_ident(t)} AS SELECT * FROM {quote_ident(schema)}.{quote_ident(t)}"
            )
        now = datetime.now(UTC)
        signatures = {t: sig for t, (sig, _) in signed.items()}
        if incremental:
            con.execute("CHECKPOINT pub")
            free, total_blocks = con.execute(
                "SELECT free_blocks, total_blocks FROM pragma_database_size() WHERE database_name = 'pub'"
            ).fetchone()
            if free * 2 > total_blocks:  # mostly space left by dropped tables: the next publish starts fresh
                signatures = {}
        con.execute(
            f"CREATE TABLE pub.marts.{PUBLISH_LOG} AS SELECT ? AS run_id, ?::TIMESTAMPTZ AS published_at, "
            "?::JSON AS tables, ?::JSON AS signatures",
            [run_id, now, json.dumps(counts), json.dumps(signatures)],
        )
        con.execute("CHECKPOINT pub")
        con.execute("DETACH pub")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o444)  # the serving file is read-only: BI tools cannot change what they read
    os.replace(tmp, marts_path)
    dir_fd = os.open(marts_path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return PublishResult(marts_path, counts, run_id, now, sorted(copied))

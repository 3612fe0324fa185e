"""Publish audited marts to the serving file BI tools read: build a new file, then swap it in atomically.

Write-audit-publish: dbt writes marts into the warehouse, the gates audit them there, and only then
this copies them into a fresh DuckDB file and renames it over the previous one. A BI client holding the
old file keeps reading the old, complete version; nobody ever sees a half-built or failed build, and
readers never take the warehouse's write lock.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingestion.warehouse import connect, quote_ident, quote_literal

PUBLISH_LOG = "_published"  # one row describing the build that the serving file holds


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int]
    run_id: str
    published_at: datetime


def published_info(marts_path: Path) -> dict | None:
    """What the serving file holds now (run id, time, tables), or None if nothing was published yet."""
    if not Path(marts_path).exists():
        return None
    con = connect(marts_path, read_only=True)
    try:
        row = con.execute(f"SELECT run_id, published_at, tables FROM marts.{PUBLISH_LOG}").fetchone()
    finally:
        con.close()
    return {"run_id": row[0], "published_at": row[1], "tables": json.loads(row[2])} if row else None


def publish_marts(
    warehouse: Path, marts_path: Path, run_id: str, schema: str = "marts", tables: list[str] | None = None
) -> PublishResult:
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
        con.execute(f"ATTACH {quote_literal(str(tmp))} AS pub")
        con.execute("CREATE SCHEMA pub.marts")
        counts: dict[str, int] = {}
        for t in wanted:
            con.execute(
                f"CREATE TABLE pub.marts.{quote_ident(t)} AS SELECT * FROM {quote_ident(schema)}.{quote_ident(t)}"
            )
            counts[t] = con.execute(f"SELECT count(*) FROM pub.marts.{quote_ident(t)}").fetchone()[0]
        now = datetime.now(UTC)
        con.execute(
            f"CREATE TABLE pub.marts.{PUBLISH_LOG} AS SELECT ? AS run_id, ?::TIMESTAMPTZ AS published_at, "
            "?::JSON AS tables",
            [run_id, now, json.dumps(counts)],
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
    return PublishResult(marts_path, counts, run_id, now)

"""Ingest stage: our loaders vs DuckDB's native readers into plain tables, on the same landing files."""

from __future__ import annotations

import time
from pathlib import Path

from ingestion.contract import OBJECTS, SourceObject
from ingestion.loader import discover_files, load_landing
from ingestion.warehouse import connect, quote_literal


def _native_sql(obj: SourceObject, files: list[Path]) -> str:
    lst = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
    if obj.kind == "csv":
        reader = f"read_csv({lst}, union_by_name = true)"
    else:
        reader = f"read_json({lst}, format = 'newline_delimited', union_by_name = true)"
    return f'CREATE TABLE "{obj.table}" AS SELECT * FROM {reader}'


def native_load(landing: Path, warehouse: Path) -> dict:
    """The floor: `CREATE TABLE AS SELECT * FROM read_csv/read_json(every batch file)`, per object.

    No validation, no quarantine, no history, no load log: what DuckDB alone costs for these bytes.
    """
    con = connect(warehouse)
    rows = 0
    t = time.perf_counter()
    for obj in OBJECTS:
        files, _ = discover_files(landing, obj)
        files = [f for f in files if f.stat().st_size > 0 and f.suffix != ".parquet"]
        if files:
            con.execute(_native_sql(obj, files))
            rows += con.execute(f'SELECT count(*) FROM "{obj.table}"').fetchone()[0]
    con.execute("CHECKPOINT")
    secs = time.perf_counter() - t
    con.close()
    return {"seconds": secs, "rows": rows}


# The loader's statements by what they do, first match wins: where the seconds above the floor go.
PHASES = (
    ("stage", ("CREATE TEMP TABLE _stage", "INSERT INTO _stage")),
    ("json_keys", ("read_ndjson_objects",)),
    ("typing", ("CREATE TEMP TABLE _typed",)),
    ("duplicates", ("CREATE TEMP TABLE _dupes", "UPDATE _typed")),
    ("current_table", ("_added", "_replaced", "__current")),  # keeping raw.<table>__current (refresh_current)
    ("insert_raw", ("INSERT INTO raw.",)),
    ("quarantine", ("INSERT INTO audit.quarantine", "CREATE TEMP TABLE _rejected")),
    ("load_log", ("INSERT INTO audit.load_log", "FROM audit.load_log")),
    ("commit", ("COMMIT", "CHECKPOINT")),
)


class _TimedConnection:
    """A connection that adds each statement's seconds to its phase (the rest: file hashing, listing, Python)."""

    def __init__(self, con):
        self._con = con
        self.seconds: dict[str, float] = {}

    def execute(self, sql: str, *args):
        t = time.perf_counter()
        try:
            return self._con.execute(sql, *args)
        finally:
            text = sql.lstrip()
            phase = next((name for name, keys in PHASES if any(k in text for k in keys)), "other_sql")
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t

    def __getattr__(self, name):
        return getattr(self._con, name)


def our_load(landing: Path, warehouse: Path) -> dict:
    """salesdw's raw load (typing, validation, quarantine, history, load log), without Dagster."""
    con = _TimedConnection(connect(warehouse))
    t = time.perf_counter()
    report = load_landing(con, landing)
    con.execute("CHECKPOINT")
    secs = time.perf_counter() - t
    con.close()
    phases = dict(con.seconds, python=secs - sum(con.seconds.values()))
    by_source: dict[str, float] = {}
    for f in report.files:
        src = f.file.split("/")[0]
        by_source[src] = by_source.get(src, 0.0) + f.seconds
    tot = report.totals()
    return {
        "seconds": secs,
        "rows": tot["rows_loaded"] + tot["rows_quarantined"],
        "rows_quarantined": tot["rows_quarantined"],
        "files": len(report.files),
        "seconds_by_source": {k: round(v, 3) for k, v in sorted(by_source.items())},
        "seconds_by_phase": {k: round(v, 3) for k, v in sorted(phases.items(), key=lambda kv: -kv[1])},
    }

"""Helpers for test_landing_classes.py: landing zones built file by file, loaded by the real loader, and the
records each file holds counted independently of the loader (Python's csv and json on the file's bytes)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.contract import object_for
from ingestion.loader import FileResult, load_landing
from ingestion.warehouse import connect, quote_ident
from tests.reliability.conftest import record


def put(landing: Path, rel: str, content: str | bytes) -> Path:
    p = landing / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


# -- independent counts ---------------------------------------------------------------------------------


def csv_records(data: bytes) -> list[dict[str, str]]:
    """Records of a CSV file as Python's csv module reads them (header first, BOM dropped)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, body = rows[0], [r for r in rows[1:] if r]
    return [dict(zip(header, r, strict=False)) for r in body]


def physical_records(data: bytes) -> int:
    """Non-empty physical lines after the header: what a file whose quoting is broken was meant to hold."""
    return sum(1 for line in data.decode("utf-8-sig").splitlines()[1:] if line.strip())


@dataclass
class JsonLine:
    value: object = None
    repeated: list[str] = field(default_factory=list)  # keys an object repeats (at any depth)
    parses: bool = True


def jsonl_records(data: bytes) -> list[JsonLine]:
    """One entry per non-blank line, parsed by Python's json; keys an object repeats are recorded."""

    out = []
    for line in data.decode("utf-8-sig").splitlines():
        if not line.strip():
            continue
        rec = JsonLine()

        def pairs(items: list[tuple[str, object]], rec: JsonLine = rec) -> dict:
            keys = [k for k, _ in items]
            rec.repeated += sorted({k for k in keys if keys.count(k) > 1})
            return dict(items)

        try:
            rec.value = json.loads(line, object_pairs_hook=pairs)
        except json.JSONDecodeError:
            rec.parses = False
        out.append(rec)
    return out


def records_in(path: Path) -> int:
    """How many records the file delivers, counted without the loader."""
    data = path.read_bytes()
    if path.suffix == ".csv":
        return len(csv_records(data)) if data.strip() else 0
    return len(jsonl_records(data))


# -- loading and what the warehouse holds ------------------------------------------------------------------


@dataclass
class Loaded:
    results: dict[str, FileResult]  # by file (relative path as logged)
    warehouse: Path
    run_id: str

    def q(self, sql: str) -> list[tuple]:
        with connect(self.warehouse, read_only=True) as con:
            return con.execute(sql).fetchall()

    def log(self, rel: str) -> list[tuple]:
        return [
            r
            for r in self.q(
                "SELECT status, rows_in, rows_loaded, rows_quarantined, rows_unchanged, message, source, "
                f"object, raw_table, file FROM audit.load_log WHERE run_id = {_lit(self.run_id)} ORDER BY finished_at"
            )
            if r[9] == rel
        ]

    def reasons(self, rel: str) -> dict[str, int]:
        return dict(
            Counter(r[1] for r in self.q("SELECT file, reason_code FROM audit.quarantine") if r[0] == rel)
        )

    def raw_rows(self, table: str, rel: str, columns: str) -> list[tuple]:
        rows = self.q(f'SELECT _source_file, {columns} FROM raw."{table}" ORDER BY ALL')
        return [r[1:] for r in rows if r[0] == rel]


def load(landing: Path, warehouse: Path, run_id: str = "run-1") -> Loaded:
    with connect(warehouse) as con:
        report = load_landing(con, landing, run_id=run_id)
    return Loaded({f.file: f for f in report.files if f.status != "already_loaded"}, warehouse, run_id)


def check_file(
    got: Loaded,
    landing: Path,
    rel: str,
    *,
    status: str = "loaded",
    rows_in: int | None = None,
    loaded: int | None = None,
    quarantined: int = 0,
    unchanged: int = 0,
    reasons: dict[str, int] | None = None,
    message: str | None = None,
) -> int:
    """The file's exact outcome, this run's load log agreeing with it, and every record accounted for: rows in
    (counted independently unless given) = rows in raw from this file + quarantined + unchanged.
    Returns the rows in."""
    fr = got.results.get(rel)
    assert fr is not None, f"{rel}: no outcome; got {sorted(got.results)}"
    assert fr.status == status, f"{rel}: {fr.status} ({fr.message})"
    log = got.log(rel)
    assert len(log) == 1 and log[0][0] == status, log
    if message is not None:
        assert rel in fr.message and message in fr.message, fr.message
        assert log[0][5] == fr.message
    if status != "loaded":
        assert (fr.rows_in, fr.rows_loaded, fr.rows_quarantined) == (0, 0, 0)
        assert got.reasons(rel) == {}
        return 0
    if rows_in is None:
        rows_in = records_in(landing / rel)
    if loaded is None:
        loaded = rows_in - quarantined - unchanged
    want = (rows_in, loaded, quarantined, unchanged)
    assert (fr.rows_in, fr.rows_loaded, fr.rows_quarantined, fr.rows_unchanged) == want, (fr, want)
    assert log[0][1:5] == want
    obj = object_for(*rel.split("/")[:2])
    in_raw = got.q(f'SELECT count(*) FROM raw."{obj.table}" WHERE _source_file = {_lit(rel)}')[0][0]
    assert in_raw == loaded, f"{rel}: raw holds {in_raw} rows of it, the result says {loaded}"
    assert got.reasons(rel) == (reasons or ({} if not quarantined else got.reasons(rel)))
    assert sum(got.reasons(rel).values()) == quarantined
    assert rows_in - in_raw - quarantined - unchanged == 0
    return rows_in


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def ids(got: Loaded, table: str, rel: str, key: str = "Id") -> list[str]:
    return [r[0] for r in got.raw_rows(table, rel, quote_ident(key))]


def figures(cls: str, *, files: int = 0, rows_in: int = 0, entries: int = 0) -> None:
    """One case of a class held: counted for `make test-reliability`'s figures."""
    record(**{f"class:{cls}:cases": 1, f"class:{cls}:files": files, f"class:{cls}:rows_in": rows_in})
    if entries:
        record(**{f"class:{cls}:entries": entries})


def without_file_read_override():
    """preexec_fn for a subprocess that must be refused a file with no read permission even when it runs as
    root: drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the capability bounding set (Linux prctl), so
    the program it starts has neither."""
    import ctypes

    def apply() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return apply

"""Loader benchmark: our raw load vs DuckDB's own readers into plain tables, same files, same run.

    python -m ingestion.bench --scale 10        (or: make bench SCALE=10)

The floor is `CREATE TABLE AS SELECT * FROM read_csv/read_json(...)` of every batch file of an
object: no validation, no quarantine, no history. `ingest_ratio` = our seconds / floor seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from ingestion.contract import OBJECTS, SourceObject
from ingestion.loader import discover_files, load_landing
from ingestion.settings import PROJECT_ROOT
from ingestion.warehouse import connect, quote_literal


def _native_sql(obj: SourceObject, files: list[Path]) -> str:
    lst = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
    if obj.kind == "csv":
        reader = f"read_csv({lst}, union_by_name = true, all_varchar = false)"
    else:
        reader = f"read_json({lst}, format = 'newline_delimited', union_by_name = true)"
    return f'CREATE TABLE "{obj.table}" AS SELECT * FROM {reader}'


def native_load(landing: Path, warehouse: Path) -> tuple[float, int]:
    con = connect(warehouse)
    rows = 0
    t = time.perf_counter()
    for obj in OBJECTS:
        files, _ = discover_files(landing, obj)
        files = [f for f in files if f.stat().st_size > 0 and f.suffix != ".parquet"]
        if not files:
            continue
        con.execute(_native_sql(obj, files))
        rows += con.execute(f'SELECT count(*) FROM "{obj.table}"').fetchone()[0]
    secs = time.perf_counter() - t
    con.close()
    return secs, rows


def our_load(landing: Path, warehouse: Path) -> tuple[float, int, int, dict[str, float]]:
    con = connect(warehouse)
    t = time.perf_counter()
    report = load_landing(con, landing)
    secs = time.perf_counter() - t
    con.close()
    per_source: dict[str, float] = {}
    for f in report.files:
        src = f.file.split("/")[0]
        per_source[src] = per_source.get(src, 0.0) + f.seconds
    tot = report.totals()
    return secs, tot["rows_loaded"] + tot["rows_quarantined"], tot["rows_quarantined"], per_source


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench"))
    args = ap.parse_args(argv)

    from ingestion.demo.generator import generate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="salesdw-bench-", dir=out))
    try:
        landing = work / "landing"
        t = time.perf_counter()
        generate(landing, scale=args.scale, seed=args.seed)
        gen_s = time.perf_counter() - t
        size_mb = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 1e6
        print(f"scale {args.scale}: generated {size_mb:,.0f} MB of landing files in {gen_s:.1f}s")

        native_s, native_rows = native_load(landing, work / "native.duckdb")
        ours_s, our_rows, quarantined, per_source = our_load(landing, work / "ours.duckdb")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result = {
            "scale": args.scale,
            "rows": our_rows,
            "native_rows": native_rows,
            "native_seconds": round(native_s, 3),
            "ingest_seconds": round(ours_s, 3),
            "ingest_seconds_by_source": {k: round(v, 3) for k, v in sorted(per_source.items())},
            "native_rows_per_second": round(native_rows / native_s),
            "ingest_rows_per_second": round(our_rows / ours_s),
            "ingest_ratio": round(ours_s / native_s, 2),
            "rows_quarantined": quarantined,
            "peak_rss_mb": round(rss_mb),
        }
        print(f"{'':<28}{'seconds':>10}{'rows':>14}{'rows/s':>12}")
        print(
            f"{'DuckDB native readers':<28}{native_s:>10.2f}{native_rows:>14,}{native_rows / native_s:>12,.0f}"
        )
        print(f"{'salesdw raw load':<28}{ours_s:>10.2f}{our_rows:>14,}{our_rows / ours_s:>12,.0f}")
        print(f"ingest_ratio = {result['ingest_ratio']}  (salesdw / native; peak RSS {rss_mb:,.0f} MB)")
        (out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {out / 'latest.json'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Transform on local Spark against DuckDB, on the same data: `make bench TARGET=spark` (SCALES=1,10 by default).

    python -m benchmarks.spark --scales 1,10 --out data/bench

Per scale: generate the demo data and load it with the DuckDB loader; `dbt run` of every model on DuckDB; then
the Spark target: start a local Spark Thrift Server (its start-up apart), write raw to the lake and register it
(apart), and `dbt run --target spark` of the same models. Seconds and peak memory (dbt's process tree for
DuckDB; the Spark JVM's high-water mark for Spark) go to <out>/spark.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingestion.settings import DBT_PROJECT_DIR, PROJECT_ROOT, SparkSettings

DBT = str(Path(sys.executable).with_name("dbt"))


def _dbt_run(target: str, warehouse: Path, work: Path, env: dict[str, str]) -> float:
    full = {
        **os.environ,
        "SALESDW_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **env,
    }
    cmd = [DBT, "run", "--target", target, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
           str(DBT_PROJECT_DIR), "--target-path", str(work / f"target_{target}"), "--log-path", str(work / "logs")]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=full, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"dbt run --target {target} failed:\n{proc.stdout[-3000:]}")
    return seconds


def _jvm_peak_mb(pid: int) -> float | None:
    """The high-water mark of the server's resident memory (spark-submit execs into the JVM: same pid)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def bench_scale(scale: float, work: Path, seed: int = 7) -> dict:
    from ingestion.demo.generator import generate
    from ingestion.loader import load_landing
    from ingestion.targets import spark as sp
    from ingestion.warehouse import connect, ensure_raw_schema

    generate(work / "landing", scale=scale, seed=seed)
    warehouse = work / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        ensure_raw_schema(con)
        load_landing(con, work / "landing")
        rows = con.execute("SELECT sum(rows_loaded) FROM audit.load_log").fetchone()[0]
    finally:
        con.close()
    duck_copy = work / "duckdb_build.duckdb"
    duck_copy.write_bytes(warehouse.read_bytes())
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    duckdb_seconds = _dbt_run("dev", duck_copy, work, {})
    duckdb_peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024

    settings = SparkSettings.from_env(
        {"SALESDW_LAKE_DIR": str(work / "lake"), "SALESDW_SPARK_HOME": str(work / "spark"),
         "SALESDW_SPARK_PORT": os.environ.get("SALESDW_SPARK_PORT", "10099"),
         "SALESDW_SPARK_DRIVER_MEMORY": os.environ.get("SALESDW_SPARK_DRIVER_MEMORY", "8g")}
    )  # fmt: skip
    server = sp.local_server(settings)
    try:
        t = time.perf_counter()
        ep = sp.ensure_running(settings)
        start_seconds = time.perf_counter() - t
        con = connect(warehouse)
        try:
            t = time.perf_counter()
            sp.replicate_raw(con, ep, settings.lake_dir)
            raw_seconds = time.perf_counter() - t
        finally:
            con.close()
        spark_seconds = _dbt_run("spark", warehouse, work, sp.dbt_env(ep))
        state = json.loads(server.state_file.read_text())
        jvm_peak = _jvm_peak_mb(int(state["pid"]))
    finally:
        server.stop()
    return {
        "scale": scale,
        "raw_rows": int(rows),
        "duckdb_transform_seconds": round(duckdb_seconds, 1),
        "duckdb_peak_mb": round(duckdb_peak),
        "spark_server_start_seconds": round(start_seconds, 1),
        "spark_raw_to_lake_seconds": round(raw_seconds, 1),
        "spark_transform_seconds": round(spark_seconds, 1),
        "spark_jvm_peak_mb": round(jvm_peak) if jvm_peak else None,
        "spark_vs_duckdb": round(spark_seconds / duckdb_seconds, 2),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,10")
    ap.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for scale in (float(s) for s in args.scales.split(",")):
        with tempfile.TemporaryDirectory(prefix=f"salesdw-bench-spark-{scale:g}-") as tmp:
            entry = bench_scale(scale, Path(tmp))
        entries.append(entry)
        print(json.dumps(entry), flush=True)
    (out / "spark.json").write_text(json.dumps(entries, indent=2))
    print(
        f"{'scale':>6} {'raw rows':>10} {'DuckDB s':>9} {'Spark s':>9} {'ratio':>6} {'DuckDB MB':>10} {'JVM MB':>8}"
    )
    for e in entries:
        print(f"{e['scale']:>6g} {e['raw_rows']:>10,} {e['duckdb_transform_seconds']:>9} {e['spark_transform_seconds']:>9} "
              f"{e['spark_vs_duckdb']:>6} {e['duckdb_peak_mb']:>10} {e['spark_jvm_peak_mb'] or '-':>8}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Transform stage: `dbt run` of every model vs the same compiled SQL executed directly in DuckDB.

dbt runs as the pipeline runs it (its own process, the project's profile, 2 threads) with a private
target and log path, so the project's `target/` that Dagster and other sessions use is untouched.
The floor replays each model's `compiled_code` from that run's manifest in dependency order on a copy
of the same raw warehouse, materialised as dbt did (views as views, tables and incrementals as CTAS).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from graphlib import TopologicalSorter
from pathlib import Path

from ingestion.settings import DBT_PROJECT_DIR
from ingestion.warehouse import connect, quote_ident
from orchestration.defs.dbt.project import DBT_EXECUTABLE


def dbt(args: list[str], warehouse: Path, target: Path) -> float:
    """Run one dbt command against `warehouse`; returns its wall seconds (process start to exit)."""
    env = {**os.environ, "SALESDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [DBT_EXECUTABLE, *args, "--profiles-dir", str(DBT_PROJECT_DIR)]
    cmd += ["--target-path", str(target), "--log-path", str(target / "logs")]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    secs = time.perf_counter() - t
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{tail}\n{proc.stderr[-2000:]}")
    return secs


def dbt_overhead(warehouse: Path, target: Path) -> dict:
    """dbt's fixed costs: a full parse, and a `dbt run` that selects nothing (startup + partial parse
    + connection), both independent of data volume."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    parse = dbt(["parse", "--no-partial-parse", "--quiet"], warehouse, target)
    empty = dbt(["run", "--quiet", "--select", "resource_type:seed"], warehouse, target)
    return {"seconds": empty, "parse_seconds": parse, "empty_run_seconds": empty}


def dbt_models(warehouse: Path, target: Path) -> dict:
    """`dbt run`: every model, no data tests (the floor does not test either)."""
    secs = dbt(["run", "--quiet"], warehouse, target)
    # the models only: dbt_project.yml's on-run-start hook is a result too
    results = [
        r
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("model.")
    ]
    by_model = {r["unique_id"].split(".")[-1]: round(r["execution_time"], 3) for r in results}
    return {"seconds": secs, "models": len(results), "seconds_by_model": by_model}


def dbt_tests(warehouse: Path, target: Path) -> dict:
    """`dbt test` after the run: what `dbt build` adds on top of the models (reported, not a ratio)."""
    return {"seconds": dbt(["test", "--quiet"], warehouse, target)}


def compiled_models(manifest_path: Path) -> list[dict]:
    """Models of the manifest in dependency order, each with its compiled SQL and materialisation."""
    manifest = json.loads(manifest_path.read_text())
    models = {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n["config"].get("materialized") != "ephemeral"
    }
    graph = {uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()}
    ordered = [models[uid] for uid in TopologicalSorter(graph).static_order()]
    missing = [n["name"] for n in ordered if not n.get("compiled_code")]
    if missing:
        raise RuntimeError(f"the manifest has no compiled SQL for {missing}; run `dbt run` first")
    return ordered


def floor(warehouse: Path, manifest_path: Path) -> dict:
    """Execute every model's compiled SQL directly in DuckDB, on one connection, in dependency order."""
    models = compiled_models(manifest_path)
    con = connect(warehouse)
    by_model: dict[str, float] = {}
    t = time.perf_counter()
    for n in models:
        started = time.perf_counter()
        name = f"{quote_ident(n['database'])}.{quote_ident(n['schema'])}.{quote_ident(n['alias'])}"
        kind = "VIEW" if n["config"]["materialized"] == "view" else "TABLE"
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(n['database'])}.{quote_ident(n['schema'])}")
        con.execute(f"CREATE OR REPLACE {kind} {name} AS {n['compiled_code']}")
        by_model[n["name"]] = round(time.perf_counter() - started, 3)
    con.execute("CHECKPOINT")
    secs = time.perf_counter() - t
    con.close()
    return {"seconds": secs, "models": len(models), "seconds_by_model": by_model}

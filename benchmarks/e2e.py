"""End-to-end stage: the whole pipeline through Dagster (`salesdw run`), a full run and an incremental one."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path


def pipeline(landing: Path, work: Path, first_build: bool = False) -> dict:
    """`orchestration.runner.run_pipeline` on `landing` into the warehouse under `work` (kept between
    calls, so a second call is the incremental run over whatever new batches landed meanwhile), deciding
    between a full and a delta run as `salesdw run` does (orchestration/changes.py, orchestration/selection.py).
    first_build: the dbt steps run their unit tests even if they passed before for this code and these settings."""
    from ingestion.settings import Settings, TargetSettings
    from orchestration import changes
    from orchestration.defs.dbt.assets import forget_steps_unit_tests
    from orchestration.runner import run_pipeline
    from orchestration.targets import target_for

    settings = dataclasses.replace(
        Settings.from_env(),
        landing_dir=landing,
        warehouse=work / "warehouse.duckdb",
        marts=work / "salesdw_marts.duckdb",
        report_dir=work / "reports",
        demo="0",
    )
    if first_build:
        forget_steps_unit_tests(settings, target_for(settings, TargetSettings.from_env()))
    t = time.perf_counter()
    found = changes.what_changed(settings)
    summary = run_pipeline(settings, say=lambda *_: None, home=work / "dagster", found=found)
    secs = time.perf_counter() - t
    by_step = steps_seconds(summary.run_id, work / "dagster")
    # A failed run still has a time, but it is not comparable: say so in the results, loudly.
    return {
        "seconds": secs,
        "success": summary.exit_code == 0,
        "failures": summary.failures + summary.checks_failed,
        "job_seconds": summary.seconds,
        "rows_loaded": sum(t[2] for t in summary.tables),
        "checks_passed": summary.checks_passed,
        "published": summary.published,
        "seconds_by_step": by_step,
        "plan": summary.plan,
    }


def steps_seconds(run_id: str, home: Path) -> dict[str, float]:
    """Dagster's own start/end of every step of the run: where an end-to-end second goes (a load, a gate,
    a dbt step, publish), from the event log the run wrote; a delta run's later phases are its steps too
    (a step of two phases adds up)."""
    import dagster as dg

    from orchestration.runner import dagster_instance
    from orchestration.selection import PART_OF_RUN_TAG

    instance = dagster_instance(home)
    runs = [run_id] + [r.run_id for r in instance.get_runs(dg.RunsFilter(tags={PART_OF_RUN_TAG: run_id}))]
    out: dict[str, float] = {}
    for rid in runs:
        for s in instance.get_run_step_stats(rid):
            if s.start_time and s.end_time:
                out[s.step_key] = round(out.get(s.step_key, 0) + s.end_time - s.start_time, 3)
    return out


def fixed_cost(work: Path, scale: float, seed: int) -> dict:
    """What a run costs whatever the data (Python and Dagster start, one `dbt build` per step, one GE suite per
    gate, publish): a second run on a tiny landing zone, with nothing new. The first run is a first build (dbt
    parses the project for a new environment, the unit tests run once, every table is created); the second is
    what every later run pays at least, so no incremental run of this pipeline can be cheaper than it, and
    fixed / full-run seconds is the lowest incremental ratio this design can reach at a scale."""
    from ingestion.demo.generator import generate

    landing = work / "landing"
    generate(landing, scale=scale, seed=seed)
    first = pipeline(landing, work / "e2e")
    res = pipeline(landing, work / "e2e")
    res["scale"] = scale
    res["first_run_seconds"] = first["seconds"]
    res["failures"] = first["failures"] + res["failures"]
    return res


def nothing_new(landing: Path, work: Path) -> dict:
    """`salesdw run` as a user types it, a new process, after the runs above with nothing new since: the
    seconds to find that out and say so (orchestration/changes.py), with the published file left as it was."""
    import hashlib
    import subprocess
    import sys

    from ingestion.settings import PROJECT_ROOT

    env = {
        **os.environ,
        "SALESDW_LANDING_DIR": str(landing),
        "SALESDW_WAREHOUSE": str(work / "warehouse.duckdb"),
        "SALESDW_MARTS": str(work / "salesdw_marts.duckdb"),
        "SALESDW_REPORT_DIR": str(work / "reports"),
        "DAGSTER_HOME": str(work / "dagster"),
        "SALESDW_DEMO": "0",
    }
    marts = work / "salesdw_marts.duckdb"

    def stamp() -> tuple:
        return (
            (hashlib.sha256(marts.read_bytes()).hexdigest(), marts.stat().st_mtime_ns)
            if marts.exists()
            else ()
        )

    before = stamp()
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "salesdw_cli", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    secs = time.perf_counter() - t
    found = "nothing new since run" in proc.stdout
    failures = (
        [] if found else [f"the run after nothing new did work: {proc.stdout[:300]}{proc.stderr[-300:]}"]
    )
    if stamp() != before:
        failures.append("the published file changed in a run with nothing new")
    return {"seconds": secs, "nothing_new": found, "failures": failures, "output": proc.stdout[:2000]}

"""End-to-end stage: the whole pipeline through Dagster (`salesdw run`), a full run and an incremental one."""

from __future__ import annotations

import os
import time
from pathlib import Path


def pipeline(landing: Path, work: Path) -> dict:
    """`orchestration.runner.run_pipeline` on `landing` into the warehouse under `work` (kept between
    calls, so a second call is the incremental run over whatever new batches landed meanwhile)."""
    os.environ.update(
        {
            "SALESDW_LANDING_DIR": str(landing),
            "SALESDW_WAREHOUSE": str(work / "warehouse.duckdb"),
            "SALESDW_MARTS": str(work / "salesdw_marts.duckdb"),
            "SALESDW_REPORT_DIR": str(work / "reports"),
            "DAGSTER_HOME": str(work / "dagster"),
            "SALESDW_DEMO": "0",
        }
    )
    (work / "dagster").mkdir(parents=True, exist_ok=True)
    from ingestion.settings import Settings
    from orchestration.runner import run_pipeline

    t = time.perf_counter()
    summary = run_pipeline(Settings.from_env(), say=lambda *_: None)
    secs = time.perf_counter() - t
    # A failed run still has a time, but it is not comparable: say so in the results, loudly.
    return {
        "seconds": secs,
        "success": summary.exit_code == 0,
        "failures": summary.failures + summary.checks_failed,
        "job_seconds": summary.seconds,
        "rows_loaded": sum(t[2] for t in summary.tables),
        "checks_passed": summary.checks_passed,
        "published": summary.published,
    }

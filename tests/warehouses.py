"""Test helpers: a warehouse loaded with generated demo data, and `dbt build` on it in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.demo.generator import generate
from ingestion.loader import load_landing
from ingestion.warehouse import connect

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
SCALE = 0.05


def dbt_build(warehouse: Path, work: Path, *extra: str, settings: dict[str, str] | None = None):
    """`dbt build` in a subprocess: its own warehouse, target and log folders, so parallel runs never clash."""
    env = {**os.environ, "SALESDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for name in (
        "SALESDW_AS_OF_DATE",
        "SALESDW_FISCAL_YEAR_START_MONTH",
        "SALESDW_CORPORATE_CURRENCY",
        "SALESDW_MRR_CONVENTION",
    ):
        env.pop(name, None)  # the project defaults, whatever the developer's shell says
    env.update(settings or {})
    cmd = [
        str(DBT), "build",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        "--threads", "4",  # dbt's per-node overhead, not DuckDB, dominates on this small data
        *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def assert_ok(result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        lines = result.stdout.splitlines()
        failures = [i for i, line in enumerate(lines) if "ERROR" in line or "FAIL" in line]
        detail = "\n".join(lines[i] for f in failures[:20] for i in range(f, min(f + 12, len(lines))))
        pytest.fail(f"dbt build failed:\n{detail}\n{result.stderr[-2000:]}")


def loaded_demo_warehouse(work: Path, *, scale: float = SCALE, seed: int = 7, dirty: bool = False) -> Path:
    """Demo data generated into work/landing and loaded into work/warehouse.duckdb (raw layer only)."""
    generate(work / "landing", scale=scale, seed=seed, dirty=dirty)
    warehouse = work / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        load_landing(con, work / "landing")
    finally:
        con.close()
    return warehouse


def built_demo_warehouse(work: Path, *dbt_args: str, scale: float = SCALE, seed: int = 7) -> Path:
    """The demo warehouse with `dbt build` (of the whole project, or of `dbt_args`' selection) passed."""
    warehouse = loaded_demo_warehouse(work, scale=scale, seed=seed)
    assert_ok(dbt_build(warehouse, work, *dbt_args))
    return warehouse

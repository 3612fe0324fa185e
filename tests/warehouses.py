"""Test helpers: a warehouse loaded with generated demo data, `dbt build` on it in a subprocess, and work built
once per test session and shared by every test (and every pytest-xdist worker) that only reads it."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
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


def loaded_warehouse(landing: Path, warehouse: Path) -> Path:
    """Every file of a landing zone loaded into a warehouse by the loader alone (raw layer only)."""
    con = connect(warehouse)
    try:
        load_landing(con, landing)
    finally:
        con.close()
    return warehouse


def loaded_demo_warehouse(work: Path, *, scale: float = SCALE, seed: int = 7, dirty: bool = False) -> Path:
    """Demo data generated into work/landing and loaded into work/warehouse.duckdb (raw layer only)."""
    generate(work / "landing", scale=scale, seed=seed, dirty=dirty)
    return loaded_warehouse(work / "landing", work / "warehouse.duckdb")


def built_demo_warehouse(work: Path, *dbt_args: str, scale: float = SCALE, seed: int = 7) -> Path:
    """The demo warehouse with `dbt build` (of the whole project, or of `dbt_args`' selection) passed."""
    warehouse = loaded_demo_warehouse(work, scale=scale, seed=seed)
    assert_ok(dbt_build(warehouse, work, *dbt_args))
    return warehouse


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of the whole pytest run: under pytest-xdist each worker's basetemp is a
    subfolder (popen-gw0, ...) of the run's, so their parent is what the workers have in common."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder `build(folder)` filled once per pytest run, whichever worker asks first; the others wait for
    it under a file lock and get the same folder. Treat it as read-only: a test that changes data copies it
    first (`copy_built`). A build that raised leaves no folder behind, so the next caller builds again."""
    root = session_root(tmp_path_factory)
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            try:
                build(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            done.touch()
    return folder


def copy_built(built: Path, dest: Path) -> Path:
    """A private copy of a shared demo build (its landing zone and warehouse, not dbt's target or logs) in
    `dest`; returns the copy's warehouse. DuckDB lets one process write a file, and a reader in another
    process blocks that writer: a copy per module keeps tests on different workers apart."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(built / "landing", dest / "landing", dirs_exist_ok=True)
    shutil.copyfile(built / "warehouse.duckdb", dest / "warehouse.duckdb")
    return dest / "warehouse.duckdb"

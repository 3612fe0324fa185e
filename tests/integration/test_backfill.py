"""A backfill of a partition range of the history marts gives the same rows as a full rebuild.

The backfill runs the way the README tells a data engineer to run it: `dagster asset materialize
--partition-range`, one run for the whole range (BackfillPolicy.single_run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.warehouses import copy_built

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")
HISTORY = {"marts.fct_pipeline_snapshot_daily": "snapshot_date", "marts.fct_mrr_monthly": "month"}
# Partition keys are month starts; the range is inclusive: March and April 2025.
RANGE = "2025-03-01...2025-04-01"
WINDOW = ("2025-03-01", "2025-05-01")


@pytest.fixture(scope="module")
def rebuilt(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_built(demo_build, tmp_path_factory.mktemp("backfill"))


def rows(con, table: str, where: str = "true") -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY ALL").fetchall()


def test_backfill_of_a_range_equals_the_full_rebuild(rebuilt: Path, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(rebuilt, warehouse)
    con = duckdb.connect(str(warehouse))
    inside = {t: f"{c} >= DATE '{WINDOW[0]}' AND {c} < DATE '{WINDOW[1]}'" for t, c in HISTORY.items()}
    full = {t: rows(con, t) for t in HISTORY}
    full_inside = {t: rows(con, t, inside[t]) for t in HISTORY}
    assert all(full_inside.values()), "the demo data must have history rows in the backfilled window"

    # Damage the window every way a stale partition can be wrong: changed values, a missing month,
    # duplicated rows; and damage one month outside it, which the backfill must leave alone.
    con.execute(
        f"UPDATE marts.fct_pipeline_snapshot_daily SET amount = -1 WHERE {inside['marts.fct_pipeline_snapshot_daily']}"
    )
    con.execute("DELETE FROM marts.fct_mrr_monthly WHERE month = DATE '2025-03-01'")
    con.execute(
        "INSERT INTO marts.fct_mrr_monthly SELECT * FROM marts.fct_mrr_monthly WHERE month = DATE '2025-04-01'"
    )
    con.execute("UPDATE marts.fct_mrr_monthly SET mrr = -1 WHERE month = DATE '2025-06-01'")
    outside_before = rows(con, "marts.fct_mrr_monthly", "month = DATE '2025-06-01'")
    con.close()

    env = {
        **os.environ,
        "SALESDW_WAREHOUSE": str(warehouse),
        "SALESDW_LANDING_DIR": str(tmp_path / "landing"),
        "SALESDW_DEMO": "0",
    }
    for name in ("SALESDW_AS_OF_DATE", "SALESDW_FISCAL_YEAR_START_MONTH", "SALESDW_CORPORATE_CURRENCY"):
        env.pop(name, None)
    proc = subprocess.run(
        [
            str(DAGSTER),
            "asset",
            "materialize",
            "-m",
            "orchestration.definitions",
            "--select",
            "marts/fct_pipeline_snapshot_daily,marts/fct_mrr_monthly",
            "--partition-range",
            RANGE,
        ],  # fmt: skip
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "RUN_SUCCESS" in log, log[-4000:]
    # one dbt build for the whole range, restricted to its window
    assert log.count("Running dbt command") == 1, log[-4000:]
    assert '"partition_start": "2025-03-01", "partition_end": "2025-05-01"' in log

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for table in HISTORY:
            assert rows(con, table, inside[table]) == full_inside[table], table
        assert rows(con, "marts.fct_mrr_monthly", "month = DATE '2025-06-01'") == outside_before
        # and apart from the month damaged outside the window, the tables equal the full rebuild
        assert rows(con, "marts.fct_pipeline_snapshot_daily") == full["marts.fct_pipeline_snapshot_daily"]
        assert len(rows(con, "marts.fct_mrr_monthly")) == len(full["marts.fct_mrr_monthly"])
    finally:
        con.close()

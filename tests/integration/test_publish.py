"""Write-audit-publish: the serving file is swapped atomically and readers are never blocked."""

from __future__ import annotations

import stat
import subprocess
import sys
import time

import pytest

from ingestion.publish import publish_marts, published_info
from ingestion.warehouse import WarehouseLockedError, connect
from tests.conftest import held_for_writing


def _warehouse_with_marts(path, value: int):
    con = connect(path)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"CREATE OR REPLACE TABLE marts.fct_x AS SELECT range AS id, {value} AS v FROM range(1000)")
    con.execute("CREATE OR REPLACE TABLE marts.dim_y AS SELECT 1 AS id")
    con.close()


def test_publish_writes_a_read_only_serving_file_and_swaps_it_atomically(tmp_path):
    wh, marts = tmp_path / "w.duckdb", tmp_path / "salesdw_marts.duckdb"
    _warehouse_with_marts(wh, 1)
    r = publish_marts(wh, marts, run_id="run-1")
    assert r.tables == {"dim_y": 1, "fct_x": 1000}
    assert not (marts.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    reader = connect(marts, read_only=True)  # a BI client holding the old version open
    assert reader.execute("SELECT sum(v) FROM marts.fct_x").fetchone()[0] == 1000

    _warehouse_with_marts(wh, 2)
    publish_marts(wh, marts, run_id="run-2")
    assert reader.execute("SELECT sum(v) FROM marts.fct_x").fetchone()[0] == 1000  # still the old snapshot
    reader.close()
    fresh = connect(marts, read_only=True)
    assert fresh.execute("SELECT sum(v) FROM marts.fct_x").fetchone()[0] == 2000
    fresh.close()
    assert published_info(marts)["run_id"] == "run-2"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_publish_leaves_the_previous_file_byte_identical(tmp_path):
    wh, marts = tmp_path / "w.duckdb", tmp_path / "salesdw_marts.duckdb"
    _warehouse_with_marts(wh, 1)
    publish_marts(wh, marts, run_id="run-1")
    before = marts.read_bytes()
    with pytest.raises(RuntimeError, match="not built"):
        publish_marts(wh, marts, run_id="run-2", tables=["fct_x", "rpt_missing"])
    assert marts.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_readers_of_the_serving_file_are_not_blocked_by_a_running_load(tmp_path):
    wh, marts = tmp_path / "w.duckdb", tmp_path / "salesdw_marts.duckdb"
    _warehouse_with_marts(wh, 1)
    publish_marts(wh, marts, run_id="run-1")
    # another process holds the warehouse for writing, as a long load does
    with held_for_writing(wh, seconds=30):
        with pytest.raises(WarehouseLockedError, match="locked by process"):
            connect(wh)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import duckdb; c=duckdb.connect({str(marts)!r}, read_only=True); "
                "print(c.execute('SELECT count(*) FROM marts.fct_x').fetchone()[0])",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "1000"
    time.sleep(0.1)

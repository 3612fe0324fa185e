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


def _same_content(wh, marts, table: str) -> bool:
    con = connect(wh)
    con.execute(f"ATTACH '{marts}' AS pub (READ_ONLY)")
    diff = con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT * FROM marts.{table} EXCEPT ALL SELECT * FROM pub.marts.{table})) "
        f"+ (SELECT count(*) FROM (SELECT * FROM pub.marts.{table} EXCEPT ALL SELECT * FROM marts.{table}))"
    ).fetchone()[0]
    con.close()
    return diff == 0


def test_a_publish_copies_again_only_the_marts_that_changed(tmp_path):
    wh, marts = tmp_path / "w.duckdb", tmp_path / "salesdw_marts.duckdb"
    _warehouse_with_marts(wh, 1)
    con = connect(wh)  # most of the serving file's rows, never changed here
    con.execute("CREATE TABLE marts.fct_big AS SELECT range AS id FROM range(10000)")
    con.close()
    first = publish_marts(wh, marts, run_id="run-1")
    assert first.copied == ["dim_y", "fct_big", "fct_x"]  # nothing to start from

    assert publish_marts(wh, marts, run_id="run-2").copied == []  # nothing changed
    assert published_info(marts)["run_id"] == "run-2"
    assert _same_content(wh, marts, "fct_x") and _same_content(wh, marts, "dim_y")

    con = connect(wh)
    con.execute("UPDATE marts.fct_x SET v = 5 WHERE id = 999")  # one value of one row
    con.close()
    r = publish_marts(wh, marts, run_id="run-3")
    assert r.copied == ["fct_x"] and r.tables == {"dim_y": 1, "fct_big": 10000, "fct_x": 1000}
    assert all(_same_content(wh, marts, t) for t in ("dim_y", "fct_big", "fct_x"))
    assert not (marts.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    con = connect(wh)
    con.execute("INSERT INTO marts.fct_x SELECT * FROM marts.fct_x WHERE id = 0")  # a duplicated row
    con.close()
    assert publish_marts(wh, marts, run_id="run-4").copied == ["fct_x"]
    assert _same_content(wh, marts, "fct_x")

    con = connect(wh)
    con.execute("ALTER TABLE marts.dim_y RENAME COLUMN id TO y_id")  # same values, another column
    con.close()
    assert publish_marts(wh, marts, run_id="run-5").copied == ["dim_y"]
    reader = connect(marts, read_only=True)
    assert [r[0] for r in reader.execute("DESCRIBE marts.dim_y").fetchall()] == ["y_id"]
    reader.close()

    r = publish_marts(wh, marts, run_id="run-6", tables=["fct_big", "fct_x"])  # dim_y no longer published
    assert r.copied == [] and r.tables == {"fct_big": 10000, "fct_x": 1001}
    reader = connect(marts, read_only=True)
    assert {t[0] for t in reader.execute("SHOW TABLES FROM marts").fetchall()} == {
        "fct_big",
        "fct_x",
        "_published",
    }
    reader.close()


def test_a_serving_file_without_signatures_is_rewritten_whole(tmp_path):
    wh, marts = tmp_path / "w.duckdb", tmp_path / "salesdw_marts.duckdb"
    _warehouse_with_marts(wh, 1)
    publish_marts(wh, marts, run_id="run-1")
    # a serving file written before signatures were recorded (or a foreign one): no base to start from
    marts.chmod(0o644)
    con = connect(marts)
    con.execute("ALTER TABLE marts._published DROP COLUMN signatures")
    con.execute("UPDATE marts.fct_x SET v = 99")  # and whatever it holds is not trusted
    con.close()
    r = publish_marts(wh, marts, run_id="run-2")
    assert r.copied == ["dim_y", "fct_x"]
    assert _same_content(wh, marts, "fct_x")


def test_most_rows_changed_writes_a_fresh_file(tmp_path):
    wh, marts = tmp_path / "w.duckdb", tmp_path / "salesdw_marts.duckdb"
    _warehouse_with_marts(wh, 1)
    publish_marts(wh, marts, run_id="run-1")
    _warehouse_with_marts(wh, 2)  # fct_x (1,000 of 1,001 rows) changed: a copy of the old file saves nothing
    r = publish_marts(wh, marts, run_id="run-2")
    assert r.copied == ["dim_y", "fct_x"]
    assert _same_content(wh, marts, "fct_x") and _same_content(wh, marts, "dim_y")

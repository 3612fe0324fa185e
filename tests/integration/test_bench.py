"""The benchmark harness at a tiny scale: every key, ratios consistent with the seconds, and the delta batch."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.demo.delta import DELTA_BATCH, write_delta
from ingestion.demo.generator import generate

RATIOS = {
    "ingest_ratio": ("ingest", "ingest_floor"),
    "transform_ratio": ("transform", "transform_floor"),
    "gates_ratio": ("gates", "gates_floor"),
    "e2e_ratio": ("e2e_full", "floors_sum"),
    "incremental_ratio": ("e2e_incremental", "e2e_full"),
    "incremental_floor_ratio": ("e2e_fixed", "e2e_full"),
}
STAGES = {
    "generate",
    "ingest",
    "ingest_floor",
    "dbt_overhead",
    "transform",
    "transform_floor",
    "dbt_tests",
    "gates",
    "gates_floor",
    "e2e_full",
    "delta",
    "e2e_incremental",
    "e2e_noop",
}


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_delta_adds_one_later_version_per_picked_record(tmp_path: Path):
    generate(tmp_path / "a", scale=0.05, seed=7)
    before = _digests(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    written = write_delta(tmp_path / "a", fraction=0.02, seed=7)
    assert written == write_delta(tmp_path / "b", fraction=0.02, seed=7)
    after = _digests(tmp_path / "a")
    assert after == _digests(tmp_path / "b")  # deterministic
    assert {k: v for k, v in after.items() if k in before} == before  # nothing existing touched
    assert set(after) - set(before) == set(written)
    assert all(Path(p).stem == DELTA_BATCH for p in written)

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    opp = "crm/Opportunity"
    delta = tmp_path / "a" / opp / f"{DELTA_BATCH}.csv"
    old = [str(p) for p in sorted((tmp_path / "a" / opp).glob("*.csv")) if p.stem != DELTA_BATCH]
    # Each changed opportunity is its latest version one second later, every other field as delivered.
    mismatched = con.execute(
        f"""WITH d AS (SELECT * FROM read_csv('{delta}', all_varchar = true)),
        o AS (SELECT * FROM read_csv({old}, all_varchar = true, union_by_name = true)
              QUALIFY row_number() OVER (PARTITION BY Id ORDER BY CAST(SystemModstamp AS TIMESTAMPTZ) DESC) = 1)
        SELECT count(*) FROM d LEFT JOIN o USING (Id)
        WHERE o.Id IS NULL OR CAST(d.SystemModstamp AS TIMESTAMPTZ) - CAST(o.SystemModstamp AS TIMESTAMPTZ)
              <> INTERVAL 1 SECOND OR d.Amount IS DISTINCT FROM o.Amount OR d.StageName <> o.StageName"""
    ).fetchone()[0]
    n_delta, n_all = con.execute(
        f"SELECT (SELECT count(*) FROM read_csv('{delta}')), "
        f"(SELECT count(DISTINCT Id) FROM read_csv({old}, union_by_name = true))"
    ).fetchone()
    assert n_delta > 0 and mismatched == 0
    assert 0.002 < n_delta / n_all < 0.03  # about half of 2 % of the records are changed
    events = tmp_path / "a" / "activity" / "events" / f"{DELTA_BATCH}.jsonl"
    new, changed = con.execute(
        f"SELECT count(*) FILTER (WHERE id LIKE 'evt_d%'), count(*) FILTER (WHERE id NOT LIKE 'evt_d%') "
        f"FROM read_json('{events}')"
    ).fetchone()
    assert new > 0 and changed > 0


def test_benchmark_at_a_tiny_scale(tmp_path: Path):
    from benchmarks.run import main

    assert main(["--scale", "0.02", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "latest.json").read_text())
    assert result["scale"] == 0.02
    assert set(result["peak_rss_mb"]) == STAGES
    assert all(mb > 0 for mb in result["peak_rss_mb"].values())
    secs = result["seconds"]
    for ratio, (num, den) in RATIOS.items():
        assert result[ratio] > 0
        assert result[ratio] == pytest.approx(secs[num] / secs[den], rel=0.01, abs=0.002)
    assert secs["floors_sum"] == pytest.approx(
        secs["ingest_floor"] + secs["transform_floor"] + secs["gates_floor"], abs=0.01
    )
    assert result["dbt_fixed_overhead_seconds"] == secs["dbt_empty_run"] > 0
    assert secs["dbt_parse"] > 0
    # Both loaders read every record of the same files (the clean demo data has no duplicates).
    assert result["rows"]["ingest"] == result["rows"]["ingest_floor"] > 0
    # GE and the hand-written SQL count the same bad rows for every expectation.
    assert result["gates_counts_mismatch"] == []
    assert result["e2e_failures"] == []
    # The incremental run loads exactly the delta: every changed and new record is a new version.
    assert result["rows"]["incremental_rows_loaded"] == result["rows"]["delta_records"] > 0
    # dbt built every model, and the floor replayed every one of them.
    assert set(result["dbt_seconds_by_model"]) == set(result["floor_seconds_by_model"])
    assert f"{result['ingest_ratio']:.2f}" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "time_vs_scale.png").stat().st_size > 1000
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    assert [e["scale"] for e in result["by_scale"]] == [0.02]
    assert result["skipped"] == []
    # At this scale the incremental run (a tiny delta on tiny data) is the fixed-cost run: not run again.
    assert secs["e2e_fixed"] == secs["e2e_incremental"]
    # `salesdw run` once more, nothing new: it says so, and e2e_failures would hold any work it did
    assert result["noop_seconds"] == secs["e2e_noop"] > 0
    # Where the end-to-end seconds went, step by step, from Dagster's event log: loads, gates, dbt, publish.
    for run in ("e2e_full", "e2e_incremental"):
        steps = result["e2e_seconds_by_step"][run]
        assert {"dbt_staging", "dbt_history", "dbt_marts", "publish__marts"} <= set(steps)
        assert 0 < sum(steps.values()) <= secs[run]

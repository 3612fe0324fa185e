"""`salesdw run` end to end on a small demo dataset: loads, builds, gates, publishes, reports."""

from __future__ import annotations

import json

import duckdb

from ingestion.contract import OBJECTS
from ingestion.settings import DBT_PROJECT_DIR, Settings
from orchestration.runner import run_pipeline


def test_salesdw_run_on_demo_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESDW_DEMO", "auto")
    monkeypatch.setenv("SALESDW_DEMO_SCALE", "0.05")
    monkeypatch.setenv("SALESDW_MARTS", str(tmp_path / "salesdw_marts.duckdb"))
    settings = Settings.from_env()
    lines: list[str] = []
    summary = run_pipeline(settings, say=lines.append)

    text = summary.render(settings)
    assert summary.exit_code == 0, text
    assert any("generating demo data" in line for line in lines)
    assert not summary.checks_failed and summary.checks_passed > len(OBJECTS)
    # every contract object is in raw with rows, and the summary shows each of them
    for obj in OBJECTS:
        row = [t for t in summary.tables if t[0] == f"raw.{obj.table}"]
        assert row and row[0][1] > 0, f"raw.{obj.table} is empty"
    assert f"raw.{OBJECTS[0].table}" in text and "published:" in text

    # the BI file holds every mart, read-only, with the same rows as the warehouse
    con = duckdb.connect(str(settings.marts), read_only=True)
    published = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    wh = duckdb.connect(str(settings.warehouse), read_only=True)
    marts = {
        r[0]
        for r in wh.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='marts'"
        ).fetchall()
    }
    assert marts and marts <= published
    for t in ("fct_opportunities", "rpt_rep_performance_quarterly", "fct_mrr_monthly"):
        assert (
            con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()
            == wh.execute(f"SELECT count(*) FROM marts.{t}").fetchone()
        )
    con.close()
    wh.close()  # a BI-style reader of the warehouse would block the next run's writes

    # the report has nothing blocking (the demo data has won deals without a linked Stripe customer on
    # purpose: a warning, not a blocker)
    report = json.loads((settings.report_dir / "summary.json").read_text())
    assert report["status"] in ("trusted", "warning"), report["headline"]
    assert not [i for i in report["issues"] if i["level"] != "warning"], report["issues"]
    assert summary.report and summary.report.exists()

    # a second run with nothing new loads nothing and keeps every table as it was
    again = run_pipeline(settings, say=lines.append)
    assert again.exit_code == 0
    assert sum(t[2] for t in again.tables) == 0
    # dbt's unit tests ran in the first run's builds; with the same code and settings, not in the second
    assert unit_tests_run(summary.run_id) >= 20
    assert unit_tests_run(again.run_id) == 0


def unit_tests_run(run_id: str) -> int:
    """dbt unit tests in the run_results.json of every dbt step of a run (target/<step>-<run id>-<n>)."""
    dirs = list((DBT_PROJECT_DIR / "target").glob(f"dbt_*-{run_id[:7]}-*"))
    assert len(dirs) == 3, dirs
    return sum(
        r["unique_id"].startswith("unit_test.")
        for d in dirs
        for r in json.loads((d / "run_results.json").read_text())["results"]
    )

"""A run with nothing new does nothing: `salesdw run`, the schedules and the landing sensor ask one question
(orchestration/changes.py) and, when nothing arrived and nothing changed, build, check and publish nothing."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import duckdb
import pytest

from ingestion.settings import PROJECT_ROOT, Settings, TargetSettings
from orchestration import changes
from orchestration.defs.automation.schedules import hourly_incremental_load, nightly_full_rebuild
from orchestration.defs.automation.sensors import landing_zone_files
from orchestration.defs.dbt.assets import step_env
from orchestration.defs.dbt.project import logic_fingerprint, salesdw_dbt_project
from orchestration.defs.resources import warehouse_from_settings
from orchestration.runner import dagster_instance, run_pipeline
from orchestration.targets import target_for
from salesdw_cli import main
from tests.conftest import write


# Contexts are closed after the tick: an open one leaves its Dagster instance's state storage set for the
# process, and a later test that loads the definitions would find that instance gone.
def _schedule(schedule, instance, settings):
    with dg.build_schedule_context(
        instance=instance, resources={"settings": settings, "duckdb": warehouse_from_settings(settings)}
    ) as ctx:
        return schedule(ctx)


def _sensor(settings):
    with dg.build_sensor_context(
        resources={"settings": settings, "duckdb": warehouse_from_settings(settings)}
    ) as ctx:
        return landing_zone_files(ctx)


def test_a_run_with_nothing_new_builds_nothing_and_leaves_the_published_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SALESDW_DEMO", "auto")
    monkeypatch.setenv("SALESDW_DEMO_SCALE", "0.02")
    monkeypatch.setenv("SALESDW_MARTS", str(tmp_path / "salesdw_marts.duckdb"))
    settings = Settings.from_env()
    assert not changes.what_changed(settings).nothing_new  # no run yet
    first = run_pipeline(settings, say=lambda *_: None)
    assert first.exit_code == 0, first.render(settings)
    assert changes.read_record(settings)["run_id"] == first.run_id
    # each incremental model records the code and settings it was built with (dbt_project/macros/model_logic.sql)
    logic = logic_fingerprint(
        salesdw_dbt_project(), step_env(settings, target_for(settings, TargetSettings.from_env()))
    )
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        records = con.execute(
            "select table_name from information_schema.tables where table_schema = 'dbt_state' and table_name like '%\\_\\_logic' escape '\\'"
        ).fetchall()
        assert {con.execute(f"select logic from dbt_state.{t}").fetchone()[0] for (t,) in records} == {logic}
    assert len(records) == 6  # every incremental model of the project

    instance = dagster_instance()
    runs_before = len(instance.get_runs())
    marts_bytes, marts_mtime = settings.marts.read_bytes(), settings.marts.stat().st_mtime_ns
    warehouse_mtime = settings.warehouse.stat().st_mtime_ns
    summary_before = json.loads((settings.report_dir / "summary.json").read_text())

    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert f"nothing new since run {first.run_id[:8]}" in out
    # the figures shown are the first run's, counted by that run
    for table, current, _, _ in first.tables:
        assert f"{table:<36}{current:>14,}" in out
    # no Dagster run, no warehouse write, the published file byte for byte and untouched
    assert len(dagster_instance().get_runs()) == runs_before
    assert settings.warehouse.stat().st_mtime_ns == warehouse_mtime
    assert settings.marts.read_bytes() == marts_bytes
    assert settings.marts.stat().st_mtime_ns == marts_mtime
    # the report says when it last looked, and still credits the checks to the run that ran them
    summary = json.loads((settings.report_dir / "summary.json").read_text())
    assert summary["last_check"]["outcome"] == "nothing new"
    assert summary["last_check"]["checks_ran"] is False
    assert summary["last_check"]["since_run"] == first.run_id
    for key in ("run_id", "validated_at", "counts", "verdict"):
        assert summary[key] == summary_before[key]

    # the schedules and the sensor start nothing either
    assert isinstance(_schedule(hourly_incremental_load, instance, settings), dg.SkipReason)
    assert isinstance(_schedule(nightly_full_rebuild, instance, settings), dg.SkipReason)
    assert isinstance(_sensor(settings), dg.SkipReason)

    # a changed setting is work for the next full run (not for a load of raw alone)
    monkeypatch.setenv("SALESDW_FISCAL_YEAR_START_MONTH", "4")
    assert any("settings" in r for r in changes.what_changed(settings).reasons)
    assert isinstance(_schedule(nightly_full_rebuild, instance, settings), dg.RunRequest)
    assert isinstance(_schedule(hourly_incremental_load, instance, settings), dg.SkipReason)
    monkeypatch.delenv("SALESDW_FISCAL_YEAR_START_MONTH")
    assert changes.what_changed(settings).nothing_new

    # a new landing file is work for every one of them; so is a stray file the loader would only report
    opp = next((settings.landing_dir / "crm/Opportunity").iterdir())
    write(settings.landing_dir, "crm/Opportunity/zz_new.csv", opp.read_bytes().replace(b"006", b"00N", 1))
    found = changes.what_changed(settings)
    assert found.new_files == {"crm__opportunity": ["crm/Opportunity/zz_new.csv"]}
    assert isinstance(_schedule(nightly_full_rebuild, instance, settings), dg.RunRequest)
    assert isinstance(_schedule(hourly_incremental_load, instance, settings), dg.RunRequest)
    request = _sensor(settings)
    assert request.asset_selection == [dg.AssetKey(["raw", "crm__opportunity"])]
    (settings.landing_dir / "crm/Opportunity/zz_new.csv").unlink()
    write(settings.landing_dir, "crm/notes.txt", "hello")
    assert changes.what_changed(settings).new_files == {None: ["crm/notes.txt"]}
    (settings.landing_dir / "crm/notes.txt").unlink()

    # a run that starts and does not succeed leaves no record: the next run works
    assert changes.what_changed(settings).nothing_new
    changes.forget_record(settings)
    assert not changes.what_changed(settings).nothing_new


@pytest.fixture
def project_copy(tmp_path):
    root = tmp_path / "project"
    for top in changes.CODE_ROOTS:
        shutil.copytree(PROJECT_ROOT / top, root / top, ignore=shutil.ignore_patterns(*changes.SKIPPED_PARTS))
    return root


def test_the_fingerprint_moves_with_a_model_a_macro_a_suite_or_a_setting(project_copy):
    settings = Settings.from_env()
    env = {"SALESDW_FISCAL_YEAR_START_MONTH": "1", "SALESDW_STRIPE_API_KEY": "sk_test_1"}
    base = changes.fingerprint(settings, env, project_copy)
    assert changes.fingerprint(settings, env, project_copy) == base
    # a secret is no input: a rotated key rebuilds nothing
    assert changes.fingerprint(settings, {**env, "SALESDW_STRIPE_API_KEY": "sk_test_2"}, project_copy) == base
    assert (
        changes.fingerprint(settings, {**env, "SALESDW_FISCAL_YEAR_START_MONTH": "4"}, project_copy) != base
    )

    model = next((project_copy / "dbt_project/models/marts").rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    assert changes.fingerprint(settings, env, project_copy) != base
    # dbt's own output is not an input
    model.write_text(model.read_text().removesuffix("\n-- edited\n"))
    (project_copy / "dbt_project/target").mkdir()
    (project_copy / "dbt_project/target/manifest.json").write_text("{}")
    assert changes.fingerprint(settings, env, project_copy) == base
    for path in ("dbt_project/macros/new.sql", "expectations/new_suite.json", "ingestion/contract.py"):
        (project_copy / path).write_text(
            (project_copy / path).read_text() + " " if (project_copy / path).exists() else "x"
        )
        assert changes.fingerprint(settings, env, project_copy) != base, path
        base = changes.fingerprint(settings, env, project_copy)

"""The dbt command of each step: a partition window becomes dbt vars, the whole history none."""

import json
from datetime import UTC, datetime

from orchestration.defs.dbt.assets import DBT_STEPS, PARTITIONED_TAG, dbt_build_args


def test_unpartitioned_build_is_plain():
    assert dbt_build_args(None) == ["build"]


def test_window_is_passed_as_vars_end_exclusive():
    args = dbt_build_args((datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC)))
    assert args[:3] == ["build", "--exclude-resource-type", "unit_test"]
    assert json.loads(args[args.index("--vars") + 1]) == {
        "partition_start": "2025-03-01",
        "partition_end": "2025-05-01",
    }


def test_history_marts_are_built_by_their_own_step_only():
    assert DBT_STEPS["dbt_history"].select == f"tag:{PARTITIONED_TAG}"
    assert DBT_STEPS["dbt_history"].partitioned
    assert DBT_STEPS["dbt_marts"].exclude == f"tag:{PARTITIONED_TAG}"
    assert not any(s.partitioned for name, s in DBT_STEPS.items() if name != "dbt_history")


def test_unit_tests_can_be_left_out_of_an_unpartitioned_build():
    assert dbt_build_args(None, unit_tests=False) == ["build", "--exclude-resource-type", "unit_test"]


def test_unit_tests_rerun_after_any_change_to_the_code_or_environment(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from orchestration.defs.dbt.project import mark_unit_tests_passed, unit_tests_passed

    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1 as x\n")
    project = SimpleNamespace(project_dir=tmp_path, target_path="target")
    monkeypatch.setenv("SALESDW_FISCAL_YEAR_START_MONTH", "1")

    assert not unit_tests_passed(project, "dbt_staging")
    mark_unit_tests_passed(project, "dbt_staging")
    assert unit_tests_passed(project, "dbt_staging")
    assert not unit_tests_passed(project, "dbt_marts")  # per step: each step has its own unit tests

    model.write_text("select 2 as x\n")  # an edited model: its unit tests must run again
    assert not unit_tests_passed(project, "dbt_staging")
    mark_unit_tests_passed(project, "dbt_staging")
    assert unit_tests_passed(project, "dbt_staging")

    monkeypatch.setenv("SALESDW_FISCAL_YEAR_START_MONTH", "4")  # a setting the models read
    assert not unit_tests_passed(project, "dbt_staging")
    monkeypatch.setenv("SALESDW_FISCAL_YEAR_START_MONTH", "1")
    assert unit_tests_passed(project, "dbt_staging")

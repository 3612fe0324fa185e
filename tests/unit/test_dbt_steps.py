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

    from orchestration.defs.dbt.project import mark_unit_tests_passed, unit_tests_marker

    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    (tmp_path / "profiles.yml").write_text("p: {target: dev}\n")
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1 as x\n")
    project = SimpleNamespace(project_dir=tmp_path, target_path="target")
    monkeypatch.setenv("SALESDW_FISCAL_YEAR_START_MONTH", "1")

    def passed(step: str = "dbt_staging", selection: str = "path:models/staging") -> bool:
        return unit_tests_marker(project, step, selection).exists()

    assert not passed()
    mark_unit_tests_passed(unit_tests_marker(project, "dbt_staging", "path:models/staging"))
    assert passed()
    assert not passed("dbt_marts")  # per step: each step has its own unit tests
    assert not passed(selection="path:models/staging path:models/extra")  # a model moved into the step

    marker = unit_tests_marker(project, "dbt_staging", "path:models/staging")
    model.write_text(
        "select 2 as x\n"
    )  # edited while dbt ran: the marker computed before stays the old code's
    mark_unit_tests_passed(marker)
    assert not passed()  # the edited model's unit tests must run again
    mark_unit_tests_passed(unit_tests_marker(project, "dbt_staging", "path:models/staging"))
    assert passed()

    (tmp_path / "profiles.yml").write_text("p: {target: dev, threads: 4}\n")  # the connection settings
    assert not passed()
    mark_unit_tests_passed(unit_tests_marker(project, "dbt_staging", "path:models/staging"))

    monkeypatch.setenv("SALESDW_FISCAL_YEAR_START_MONTH", "4")  # a setting the models read
    assert not passed()
    monkeypatch.setenv("SALESDW_FISCAL_YEAR_START_MONTH", "1")
    assert passed()

    # where the files are is not what the logic does: another warehouse or landing zone keeps the record
    monkeypatch.setenv("SALESDW_WAREHOUSE", str(tmp_path / "elsewhere" / "warehouse.duckdb"))
    monkeypatch.setenv("SALESDW_LANDING_DIR", str(tmp_path / "elsewhere" / "landing"))
    assert passed()
    monkeypatch.setenv("DBT_TARGET", "postgres")  # another target runs them again
    assert not passed()


def test_forgetting_passed_unit_tests_forgets_one_environment_only(tmp_path):
    """The bench's full run forgets its own records; a test session's other processes, with other settings,
    keep theirs (one of them asserts that its second run does not repeat its unit tests)."""
    from types import SimpleNamespace

    from orchestration.defs.dbt.project import (
        forget_unit_tests_passed,
        mark_unit_tests_passed,
        unit_tests_marker,
    )

    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    project = SimpleNamespace(project_dir=tmp_path, target_path="target")
    selections = {name: step.selection for name, step in DBT_STEPS.items()}
    bench = {"SALESDW_DEMO": "0", "SALESDW_WAREHOUSE": str(tmp_path / "bench.duckdb")}
    other = {"SALESDW_DEMO": "auto", "SALESDW_DEMO_SCALE": "0.05"}
    for env in (bench, other):
        for step, selection in selections.items():
            mark_unit_tests_passed(unit_tests_marker(project, step, selection, env))
    assert len(list((tmp_path / "target" / "unit_tests_passed").iterdir())) == 6

    forget_unit_tests_passed(project, selections, {**bench, "SALESDW_WAREHOUSE": str(tmp_path / "elsewhere")})

    for step, selection in selections.items():
        assert not unit_tests_marker(project, step, selection, bench).exists()
        assert unit_tests_marker(project, step, selection, other).exists()

"""An incremental model whose code or settings changed is rebuilt from scratch (dbt_project/macros/model_logic.sql).

An incremental build rewrites only what new data touched, so rows computed by earlier code would otherwise stay
as they were. Here the held rows of every incremental model are altered to stand for "what the old code computed"
(a value no build produces). A build with the same fingerprint (SALESDW_DBT_LOGIC) keeps them, which shows the
test can fail; a build with another one gives exactly the rows of the first build again. A build for a partition
window with a new fingerprint rewrites only its window, and the next build without a window rebuilds the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from orchestration.defs.dbt.project import logic_fingerprint
from tests.warehouses import assert_ok, dbt_build, loaded_demo_warehouse

pytestmark = pytest.mark.slow

SELECT = ("-s", "+fct_activities +fct_pipeline_snapshot_daily", "--exclude-resource-type", "unit_test")
# incremental model -> (a text column the old code is made to have computed, columns compared). The fifth,
# int_activity_match_keys, compares every lookup with its live value in each build: it keeps no computed row.
ALTERED = {
    "intermediate.int_activity_participants": ("participant_domain", "*"),
    "intermediate.int_activities_matched": ("subject", "* EXCLUDE (matched_at)"),
    "marts.fct_activities": ("subject", "*"),
    "marts.fct_pipeline_snapshot_daily": ("stage_name", "*"),
}
OLD = "computed-by-old-code"
WINDOW = {"partition_start": "2025-01-01", "partition_end": "2025-02-01"}


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _build(warehouse: Path, work: Path, logic: str, *extra: str) -> None:
    assert_ok(dbt_build(warehouse, work, *SELECT, *extra, settings={"SALESDW_DBT_LOGIC": logic}))


def _alter(warehouse: Path) -> None:
    for table, (column, _) in ALTERED.items():
        _query(warehouse, f"update {table} set {column} = '{OLD}' where {column} is not null")


def _old_rows(warehouse: Path, table: str, where: str = "true") -> int:
    column = ALTERED[table][0]
    return _query(warehouse, f"select count(*) from {table} where {column} = '{OLD}' and {where}")[0][0]


def _differences(warehouse: Path, table: str) -> int:
    """Rows in one of the table and its first build's copy and not the other (EXCEPT ALL both ways)."""
    columns, copy = ALTERED[table][1], f"first_build.{table.split('.')[1]}"
    return _query(
        warehouse,
        f"select count(*) from ((select {columns} from {table} except all select {columns} from {copy})"
        f" union all (select {columns} from {copy} except all select {columns} from {table}))",
    )[0][0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("model_logic")
    warehouse = loaded_demo_warehouse(work)
    _build(warehouse, work, "v1")
    _query(warehouse, "create schema first_build")
    for table in ALTERED:
        _query(warehouse, f"create table first_build.{table.split('.')[1]} as select * from {table}")
    return warehouse, work


def test_changed_logic_rebuilds_every_incremental_model_and_the_same_logic_keeps_its_rows(built):
    warehouse, work = built
    assert all(_query(warehouse, f"select count(*) from {table}")[0][0] > 0 for table in ALTERED)
    _alter(warehouse)

    _build(warehouse, work, "v1")
    for table in ALTERED:
        assert _old_rows(warehouse, table) > 0, (
            f"{table}: an incremental build with the same logic kept no held row"
        )

    _build(warehouse, work, "v2")
    for table in ALTERED:
        assert _old_rows(warehouse, table) == 0, table
        assert _differences(warehouse, table) == 0, table
    records = _query(
        warehouse,
        "select table_name from information_schema.tables where table_name like '%\\_\\_logic' escape '\\'",
    )
    assert len(records) == 5  # the incremental models of SELECT
    for (record,) in records:
        assert _query(warehouse, f"select logic from dbt_state.{record}") == [("v2",)], record


def test_a_partition_window_rewrites_its_window_only_and_the_next_full_build_the_rest(built):
    warehouse, work = built
    table = "marts.fct_pipeline_snapshot_daily"
    in_window = (
        f"snapshot_date >= '{WINDOW['partition_start']}' and snapshot_date < '{WINDOW['partition_end']}'"
    )
    _alter(warehouse)
    assert _old_rows(warehouse, table, in_window) > 0
    assert _old_rows(warehouse, table, f"not ({in_window})") > 0

    args = ("--vars", json.dumps(WINDOW))
    assert_ok(
        dbt_build(
            warehouse, work, "-s", "fct_pipeline_snapshot_daily", *args, settings={"SALESDW_DBT_LOGIC": "v3"}
        )
    )
    assert _old_rows(warehouse, table, in_window) == 0
    assert _old_rows(warehouse, table, f"not ({in_window})") > 0  # not rebuilt whole from one window
    assert _query(warehouse, "select logic from dbt_state.fct_pipeline_snapshot_daily__logic") != [("v3",)]

    _build(warehouse, work, "v3")
    for altered in ALTERED:
        assert _old_rows(warehouse, altered) == 0, altered
        assert _differences(warehouse, altered) == 0, altered


def test_the_logic_fingerprint_follows_code_and_settings_not_locations(tmp_path):
    project = SimpleNamespace(project_dir=tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1 as x\n")
    env = {"SALESDW_FISCAL_YEAR_START_MONTH": "1", "SALESDW_WAREHOUSE": "/a/warehouse.duckdb"}
    first = logic_fingerprint(project, env)

    assert logic_fingerprint(project, {**env, "SALESDW_WAREHOUSE": "/b/warehouse.duckdb"}) == first
    assert logic_fingerprint(project, {**env, "SALESDW_FISCAL_YEAR_START_MONTH": "2"}) != first
    model.write_text("select 2 as x\n")
    assert logic_fingerprint(project, env) != first

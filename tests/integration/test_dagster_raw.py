"""The Dagster code location loads, and materialising every raw asset works on a temporary warehouse."""

from __future__ import annotations

from dataclasses import replace

import dagster as dg

from ingestion.contract import OBJECTS
from ingestion.settings import Settings
from orchestration.defs.resources import salesdw_resources
from tests.conftest import write
from tests.integration.test_loader import csv, opp


def _defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def test_definitions_load_with_one_raw_asset_per_contract_object():
    defs = _defs()
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    for obj in OBJECTS:
        assert f"raw/{obj.table}" in keys
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    for obj in OBJECTS:
        assert (f"raw/{obj.table}", "ge_suite") in checks
    assert defs.resolve_job_def("full_pipeline") is not None


def test_materialise_all_raw_assets(tmp_path, landing):
    write(
        landing,
        "crm/Opportunity/b1.csv",
        csv(opp("006000000000001AAA"), opp("006000000000002AAA", amount="oops")),
    )
    write(
        landing,
        "crm/OpportunityStage/b1.csv",
        "Id,MasterLabel,SortOrder,IsClosed,IsWon,DefaultProbability,ForecastCategoryName,IsActive\n"
        "01J000000000001AAA,Prospecting,1,false,false,10,Pipeline,true\n",
    )
    write(landing, "crm/Account/b1.csv", "Name,Type\nAcme,Customer\n")  # no Id column: refused
    from orchestration.defs.raw.assets import raw_assets
    from orchestration.defs.raw.checks import raw_checks

    settings = replace(Settings.from_env(), warehouse=tmp_path / "w.duckdb", landing_dir=landing)
    result = dg.materialize([*raw_assets, *raw_checks], resources=salesdw_resources(settings))
    assert result.success
    mats = result.get_asset_materialization_events()
    assert len(mats) == len(OBJECTS)  # one per contract object, none silently skipped
    meta = {m.asset_key.to_user_string(): m.step_materialization_data.materialization.metadata for m in mats}
    assert meta["raw/crm__opportunity"]["rows_loaded"].value == 1
    assert meta["raw/crm__opportunity"]["rows_quarantined"].value == 1
    assert meta["raw/crm__account"]["files_refused"].value == 1
    evals = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert evals[("raw/crm__opportunity", "ge_suite")].passed, evals[
        ("raw/crm__opportunity", "ge_suite")
    ].description
    refused = evals[("raw/crm__account", "no_refused_files")]
    assert not refused.passed and "crm/Account/b1.csv" in refused.description

"""The landing-zone sensor: a run for landing entries the loader has not logged, none once they are."""

from __future__ import annotations

import dagster as dg

from ingestion.contract import OBJECTS
from ingestion.loader import load_landing
from ingestion.settings import Settings
from ingestion.warehouse import connect
from orchestration.defs.automation.sensors import landing_zone_files
from orchestration.defs.resources import WarehouseResource
from tests.conftest import write
from tests.integration.test_loader import csv, opp


def _tick(landing, tmp_path):
    ctx = dg.build_sensor_context(
        resources={
            "settings": Settings.from_env(),
            "duckdb": WarehouseResource(path=str(tmp_path / "w.duckdb"), landing_dir=str(landing)),
        },
    )
    return landing_zone_files(ctx)


def _load(landing, tmp_path):
    """What the requested run does: load the landing zone (and log every entry)."""
    with connect(tmp_path / "w.duckdb") as con:
        load_landing(con, landing)


def test_new_entries_trigger_one_run_for_their_objects_and_nothing_once_logged(landing, tmp_path):
    assert isinstance(_tick(landing, tmp_path), dg.SkipReason)

    write(landing, "crm/Opportunity/b1.csv", csv(opp("006A")))
    result = _tick(landing, tmp_path)
    assert isinstance(result, dg.RunRequest)
    assert result.asset_selection == [dg.AssetKey(["raw", "crm__opportunity"])]
    assert _tick(landing, tmp_path).run_key == result.run_key  # not loaded yet: the same request, one run

    _load(landing, tmp_path)
    assert isinstance(_tick(landing, tmp_path), dg.SkipReason)  # nothing changed

    # the same bytes delivered again under another name: the loader logs it as a duplicate, so a run is due,
    # and after that run nothing more
    write(landing, "crm/Opportunity/b1_again.csv", (landing / "crm/Opportunity/b1.csv").read_bytes())
    assert _tick(landing, tmp_path).asset_selection == [dg.AssetKey(["raw", "crm__opportunity"])]
    _load(landing, tmp_path)
    assert isinstance(_tick(landing, tmp_path), dg.SkipReason)
    (landing / "crm/Opportunity/b1.csv").unlink()  # archived: nothing new either
    assert isinstance(_tick(landing, tmp_path), dg.SkipReason)

    write(landing, "billing/invoices/b1.jsonl", '{"id": "in_1"}\n')
    write(landing, "crm/Opportunity/b2.csv", csv(opp("006B")))
    result = _tick(landing, tmp_path)
    assert isinstance(result, dg.RunRequest)
    assert sorted(k.to_user_string() for k in result.asset_selection) == [
        "raw/billing__invoice",
        "raw/crm__opportunity",
    ]


def test_a_file_the_loader_would_only_report_is_new_until_reported(landing, tmp_path):
    write(landing, "crm/Opportunity/notes.txt", "not a batch file")
    write(landing, "stray.csv", "Id\n1\n")
    result = _tick(landing, tmp_path)
    assert isinstance(result, dg.RunRequest)
    # an entry outside every object's folder is reported by the first object a run loads
    assert sorted(k.to_user_string() for k in result.asset_selection) == sorted(
        {"raw/crm__opportunity", f"raw/{OBJECTS[0].table}"}
    )
    _load(landing, tmp_path)
    assert isinstance(_tick(landing, tmp_path), dg.SkipReason)


def test_a_busy_warehouse_defers_the_tick(landing, tmp_path):
    from tests.conftest import held_for_writing

    write(landing, "crm/Opportunity/b1.csv", csv(opp("006A")))
    _load(landing, tmp_path)
    write(landing, "crm/Opportunity/b2.csv", csv(opp("006B")))
    with held_for_writing(tmp_path / "w.duckdb"):
        result = _tick(landing, tmp_path)
    assert isinstance(result, dg.SkipReason) and "in use" in result.skip_message

"""The landing-zone sensor: one run for new files, none for a re-delivery of the same content."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.raw.sensors import landing_zone_files
from orchestration.defs.resources import WarehouseResource
from tests.conftest import write
from tests.integration.test_loader import csv, opp


def _tick(landing, tmp_path, cursor):
    ctx = dg.build_sensor_context(
        cursor=cursor,
        resources={"duckdb": WarehouseResource(path=str(tmp_path / "w.duckdb"), landing_dir=str(landing))},
    )
    result = landing_zone_files(ctx)
    return result, ctx.cursor


def test_new_file_triggers_one_run_for_its_object_and_redelivery_triggers_none(landing, tmp_path):
    result, cursor = _tick(landing, tmp_path, None)
    assert isinstance(result, dg.SkipReason)

    write(landing, "crm/Opportunity/b1.csv", csv(opp("006A")))
    result, cursor = _tick(landing, tmp_path, cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.asset_selection == [dg.AssetKey(["raw", "crm__opportunity"])]

    result, cursor = _tick(landing, tmp_path, cursor)  # nothing changed
    assert isinstance(result, dg.SkipReason)

    # the same bytes delivered again under another name (and again after the original was archived)
    write(landing, "crm/Opportunity/b1_again.csv", (landing / "crm/Opportunity/b1.csv").read_bytes())
    (landing / "crm/Opportunity/b1.csv").unlink()
    result, cursor = _tick(landing, tmp_path, cursor)
    assert isinstance(result, dg.SkipReason)

    write(landing, "billing/invoices/b1.jsonl", '{"id": "in_1"}\n')
    write(landing, "crm/Opportunity/b2.csv", csv(opp("006B")))
    result, cursor = _tick(landing, tmp_path, cursor)
    assert isinstance(result, dg.RunRequest)
    assert sorted(k.to_user_string() for k in result.asset_selection) == [
        "raw/billing__invoice",
        "raw/crm__opportunity",
    ]

"""Schedules, off by default (turn them on in the UI, Automation tab). A tick whose run would find nothing
new starts no run: orchestration/changes.py decides, as it does for `salesdw run` and the file sensor."""

import dagster as dg

from ingestion.settings import Settings
from orchestration import changes
from orchestration.defs.automation.sensors import INPUTS_TAG, settings_for
from orchestration.defs.jobs import full_pipeline, load_raw
from orchestration.defs.resources import WarehouseResource


@dg.schedule(
    name="hourly_incremental_load",
    job=load_raw,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly at :05, load new landing files (no run when none arrived); marts follow through "
    "declarative automation.",
)
def hourly_incremental_load(
    context: dg.ScheduleEvaluationContext, settings: dg.ResourceParam[Settings], duckdb: WarehouseResource
):
    found = changes.what_changed(settings_for(settings, duckdb), landing_only=True)
    if found.nothing_new:
        return dg.SkipReason("no new landing files since the last load")
    return dg.RunRequest(tags={"salesdw/trigger": "hourly_incremental_load"})


@dg.schedule(
    name="nightly_full_rebuild",
    job=full_pipeline,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 UTC: load, rebuild every model with its tests and gates; no run when nothing arrived "
    "and no code or setting changed since the last successful run.",
)
def nightly_full_rebuild(
    context: dg.ScheduleEvaluationContext, settings: dg.ResourceParam[Settings], duckdb: WarehouseResource
):
    settings = settings_for(settings, duckdb)
    found = changes.what_changed(settings)
    last = context.instance.get_runs(dg.RunsFilter(job_name=full_pipeline.name), limit=1)
    if found.nothing_new and (not last or last[0].status == dg.DagsterRunStatus.SUCCESS):
        return dg.SkipReason(f"nothing new since run {found.last_run['run_id'][:8]}")
    # The inputs as this tick saw them: recorded with the run if it succeeds (sensors.py).
    return dg.RunRequest(
        tags={"salesdw/trigger": "nightly_full_rebuild", INPUTS_TAG: changes.fingerprint(settings)}
    )

"""Sensors on the landing zone and on pipeline runs, around one question: is there anything new since the
last successful run (orchestration/changes.py)?

- `landing_zone_files`: landing entries the loader has not logged yet start a load of just their objects.
- `record_successful_run` / `forget_after_failed_run`: a `full_pipeline` run started by a schedule or the
  UI leaves the same record `salesdw run` does, so a later tick or `salesdw run` with nothing new does nothing,
  and a failed run never counts as "nothing to do".
"""

import dataclasses
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ingestion.contract import BY_TABLE, OBJECTS
from ingestion.settings import Settings
from orchestration import changes
from orchestration.defs.jobs import full_pipeline, load_raw
from orchestration.defs.raw.assets import raw_key
from orchestration.defs.resources import WarehouseResource
from orchestration.targets import Target

INPUTS_TAG = "salesdw/inputs"  # the code and settings fingerprint a scheduled run was requested for


def settings_for(settings: Settings, duckdb: WarehouseResource) -> Settings:
    """The deployment's settings, with the warehouse and landing zone the resource points at."""
    return dataclasses.replace(settings, warehouse=Path(duckdb.path), landing_dir=Path(duckdb.landing_dir))


@dg.sensor(
    name="landing_zone_files",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Every minute: landing entries not yet loaded or reported start a load of their objects.",
    asset_selection=dg.AssetSelection.groups("raw_crm", "raw_billing", "raw_activity"),
)
def landing_zone_files(
    context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings], duckdb: WarehouseResource
):
    found = changes.what_changed(settings_for(settings, duckdb), landing_only=True)
    if found.nothing_new:
        return dg.SkipReason("no new landing entries")
    if not found.new_files:  # the warehouse is busy: the next tick looks again
        return dg.SkipReason("; ".join(found.reasons))
    files = sorted(f for fs in found.new_files.values() for f in fs)
    # Entries outside every object's folder are reported by the first object a run loads.
    tables = sorted({t or OBJECTS[0].table for t in found.new_files})
    return dg.RunRequest(
        # One run per set of new entries: a tick before that run has logged them requests nothing again.
        run_key=hashlib.sha256("\n".join(files).encode()).hexdigest()[:32],
        asset_selection=[raw_key(BY_TABLE[t]) for t in tables],
        tags={"salesdw/trigger": "landing_zone_files", "salesdw/files": str(len(files))},
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[full_pipeline],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a successful full_pipeline run requested with its inputs' fingerprint (the nightly "
    "schedule), record it as the last successful run.",
)
def record_successful_run(
    context: dg.RunStatusSensorContext,
    settings: dg.ResourceParam[Settings],
    target: dg.ResourceParam[Target],
    duckdb: WarehouseResource,
):
    run = context.dagster_run
    if not target.records_success:  # the record compares the DuckDB serving file (Target.records_success)
        return dg.SkipReason(f"the {target.name} target keeps no record: every run works")
    inputs = run.tags.get(INPUTS_TAG)
    if not inputs:  # started without a fingerprint (the UI): its inputs are unknown, record nothing
        return dg.SkipReason("run has no inputs fingerprint")
    stats = context.instance.get_run_stats(run.run_id)
    ended = datetime.fromtimestamp(stats.end_time, UTC) if stats.end_time else None
    changes.record_success(settings_for(settings, duckdb), run.run_id, inputs, {}, until=ended)
    return dg.SkipReason(f"recorded run {run.run_id[:8]} as the last successful run")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.FAILURE,
    monitored_jobs=[full_pipeline, load_raw],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a failed pipeline or load run, forget the last successful run: the next tick works.",
)
def forget_after_failed_run(
    context: dg.RunStatusSensorContext, settings: dg.ResourceParam[Settings], duckdb: WarehouseResource
):
    changes.forget_record(settings_for(settings, duckdb))
    return dg.SkipReason(f"run {context.dagster_run.run_id[:8]} failed: the next run has work to do")

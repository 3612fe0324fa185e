"""Jobs and schedules. Schedules are off by default: turn them on in the UI (Automation tab)."""

import dagster as dg

RAW_GROUPS = ("raw_crm", "raw_billing", "raw_activity")

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    # The report is rebuilt separately after each run (it must also run when a gate fails).
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("report"),
    description="Load every new landing file, then build and gate everything downstream.",
)

load_raw = dg.define_asset_job(
    "load_raw",
    selection=dg.AssetSelection.groups(*RAW_GROUPS),
    description="Load whatever arrived in the landing zone into raw (with the raw gates).",
)

hourly_incremental_load = dg.ScheduleDefinition(
    name="hourly_incremental_load",
    job=load_raw,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly at :05, load new landing files; marts follow through declarative automation.",
)

nightly_full_rebuild = dg.ScheduleDefinition(
    name="nightly_full_rebuild",
    job=full_pipeline,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 UTC: load, rebuild every model with its tests and gates.",
)


@dg.definitions
def defs() -> dg.Definitions:
    # Every op that touches the warehouse is in the `warehouse_writer` pool (limit 1), so steps never
    # run in parallel and the multiprocess executor would only add a Python process per step (seconds
    # each: imports and the code location load again). The in-process executor still claims the pool's
    # slot for every step, so two runs started together take turns on the warehouse. This is the
    # default for every job of the code location: these two, build_report, the runs the landing-zone
    # sensor and declarative automation request, and materialisations started in the UI.
    return dg.Definitions(
        jobs=[full_pipeline, load_raw],
        schedules=[hourly_incremental_load, nightly_full_rebuild],
        executor=dg.in_process_executor,
    )

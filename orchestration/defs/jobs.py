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
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly at :05, load new landing files; marts follow through declarative automation.",
)

nightly_full_rebuild = dg.ScheduleDefinition(
    name="nightly_full_rebuild",
    job=full_pipeline,
    cron_schedule="0 2 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 UTC: load, rebuild every model with its tests and gates.",
)

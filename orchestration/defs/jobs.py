"""Jobs; their schedules are in defs/automation/."""

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
        executor=dg.in_process_executor,
    )

"""Jobs: the whole pipeline once, in dependency order."""

import dagster as dg

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Load every new landing file, then build and gate everything downstream.",
)

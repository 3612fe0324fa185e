"""A sensor on the landing zone: new batch files trigger a load of just the objects they belong to."""

import hashlib
import json

import dagster as dg

from ingestion.contract import BY_TABLE
from ingestion.landing_scan import scan_landing
from orchestration.defs.raw.assets import raw_key
from orchestration.defs.resources import WarehouseResource


@dg.sensor(
    name="landing_zone_files",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Every minute: new (by content) batch files in the landing zone start a load of their objects.",
    asset_selection=dg.AssetSelection.groups("raw_crm", "raw_billing", "raw_activity"),
)
def landing_zone_files(context: dg.SensorEvaluationContext, duckdb: WarehouseResource):
    seen = json.loads(context.cursor) if context.cursor else {}
    new, state = scan_landing(duckdb.landing, seen)
    context.update_cursor(json.dumps(state, sort_keys=True))
    if not new:
        return dg.SkipReason("no new batch files")
    files = sorted(f for fs in new.values() for f in fs)
    return dg.RunRequest(
        run_key=hashlib.sha256("\n".join(files).encode()).hexdigest()[:32],
        asset_selection=[raw_key(BY_TABLE[t]) for t in sorted(new)],
        tags={"salesdw/trigger": "landing_zone_files", "salesdw/files": str(len(files))},
    )

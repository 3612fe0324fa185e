"""Blocking gates on every raw asset: nothing downstream builds on raw data that breaks its keys."""

import dagster as dg

from ingestion.contract import OBJECTS, SourceObject
from ingestion.raw_checks import raw_integrity
from orchestration.defs.raw.assets import raw_key
from orchestration.defs.resources import WRITER_POOL, WarehouseResource


def _integrity_check(obj: SourceObject) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(obj),
        name="keys_unique_and_required_fields_present",
        blocking=True,
        pool=WRITER_POOL,
        description=f"raw.{obj.table}__current: one row per {obj.key}, every required field filled.",
    )
    def _check(duckdb: WarehouseResource) -> dg.AssetCheckResult:
        with duckdb.connect() as con:
            r = raw_integrity(con, obj)
        return dg.AssetCheckResult(
            passed=r.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None
            if r.passed
            else f"{r.duplicate_keys} duplicate {obj.key}s, empty required fields: {r.null_required}",
            metadata={
                "rows": r.rows,
                "duplicate_keys": r.duplicate_keys,
                "null_required_fields": dg.MetadataValue.json(r.null_required),
                "sample_duplicate_keys": dg.MetadataValue.json(r.sample_duplicate_keys),
            },
        )

    return _check


def _refused_check(obj: SourceObject) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(obj),
        name="no_refused_files",
        pool=WRITER_POOL,
        description="Warns when a delivered file of this object could not be read at all in this run.",
    )
    def _check(context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource) -> dg.AssetCheckResult:
        with duckdb.connect() as con:
            rows = con.execute(
                "SELECT message FROM audit.load_log WHERE raw_table = ? AND run_id = ? AND status = 'refused' "
                "ORDER BY file",
                [obj.table, context.run.run_id],
            ).fetchall()
        return dg.AssetCheckResult(
            passed=not rows,
            severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(r[0] for r in rows)[:2000] if rows else None,
            metadata={"refused_files": len(rows)},
        )

    return _check


raw_checks = [_integrity_check(o) for o in OBJECTS] + [_refused_check(o) for o in OBJECTS]

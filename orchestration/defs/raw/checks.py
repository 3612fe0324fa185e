"""Blocking gates on every raw asset: nothing downstream builds on raw data that breaks its keys."""

import dagster as dg

from ingestion.contract import OBJECTS, SourceObject
from orchestration.defs.gates import suite_check
from orchestration.defs.raw.assets import raw_key
from orchestration.defs.resources import WRITER_POOL, WarehouseResource, takes_turns


def _suite_check(obj: SourceObject) -> dg.AssetChecksDefinition:
    return suite_check(
        raw_key(obj),
        f"raw.{obj.table}__current",
        "required fields, unique keys, id formats and accepted values of the latest versions",
    )


def _refused_check(obj: SourceObject) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(obj),
        name="no_refused_files",
        pool=WRITER_POOL,
        description="Warns when a delivered file of this object could not be read at all in this run.",
    )
    @takes_turns
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


raw_checks = [_suite_check(o) for o in OBJECTS] + [_refused_check(o) for o in OBJECTS]

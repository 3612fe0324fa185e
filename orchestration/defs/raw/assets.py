"""One Dagster asset per contract object: load that object's new landing files into raw.

Every target loads in DuckDB (the landing and validation engine); the same step then hands what it loaded to
the target (`Target.after_raw_load`: Postgres replicates the raw and audit tables, Spark writes them to the
lake), so the target's raw layer equals DuckDB's whenever the asset is materialised (file drops, connector
pulls, backfills), and the asset graph, its gates and the schedules and sensors that request it are the same
for every target.
"""

import dagster as dg

from ingestion.contract import OBJECTS, SourceObject
from ingestion.loader import Loader
from ingestion.warehouse import current_rows_sql
from orchestration.defs.resources import WRITER_POOL, WarehouseResource, takes_turns
from orchestration.targets import Target


def raw_key(obj: SourceObject) -> dg.AssetKey:
    return dg.AssetKey(["raw", obj.table])


def raw_group(obj: SourceObject) -> str:
    return f"raw_{obj.source}"


def _build(obj: SourceObject) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(obj),
        group_name=raw_group(obj),
        kinds={"duckdb", "python"},
        pool=WRITER_POOL,
        description=(
            f"Every version of {obj.source} {obj.name} records delivered to "
            f"<landing>/{obj.source}/{obj.name}/, with load metadata; latest versions in "
            f"raw.{obj.table}__current. Bad rows go to audit.quarantine."
        ),
        metadata={"landing_folder": f"{obj.source}/{obj.name}", "table": f"raw.{obj.table}"},
    )
    @takes_turns
    def _load(
        context: dg.AssetExecutionContext, duckdb: WarehouseResource, target: dg.ResourceParam[Target]
    ) -> dg.MaterializeResult:
        def progress(fr):
            context.log.info(
                f"{fr.file}: {fr.status}, {fr.rows_loaded} loaded, {fr.rows_quarantined} quarantined"
                + (f" — {fr.message}" if fr.message else "")
            )

        with duckdb.connect() as con:
            result = Loader(con, duckdb.landing, run_id=context.run.run_id).load_object(obj, on_file=progress)
            total_rows = con.execute(current_rows_sql(obj)).fetchone()[0]
            replicated = _hand_to_target(context, target, con, obj)
        for fr in result.refused:
            context.log.error(f"refused {fr.message}")
        for fr in result.ignored:
            context.log.warning(f"ignored {fr.message}")
        return dg.MaterializeResult(
            metadata={
                "files_loaded": len(result.new_files),
                "files_refused": len(result.refused),
                "entries_ignored": len(result.ignored),
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "current_rows": total_rows,
                "refused": dg.MetadataValue.md("\n".join(f"- {f.message}" for f in result.refused) or "none"),
                "ignored": dg.MetadataValue.md("\n".join(f"- {f.message}" for f in result.ignored) or "none"),
                **replicated,
            }
        )

    return _load


def _hand_to_target(context: dg.AssetExecutionContext, target: Target, con, obj: SourceObject) -> dict:
    """The target's copy of what this load wrote; its metadata for the materialisation (none for DuckDB)."""
    meta = dict(target.after_raw_load(con, [obj]))
    if "log" in meta:
        context.log.info(meta.pop("log"))
    return {k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in meta.items()}


raw_assets = [_build(o) for o in OBJECTS]

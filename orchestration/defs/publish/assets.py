"""Publish: make the audited marts what BI reads (the target's serving side), atomically."""

import dagster as dg

from orchestration.defs.dbt.project import manifest_models
from orchestration.defs.dbt.translator import SalesdwTranslator
from orchestration.defs.resources import WRITER_POOL, takes_turns
from orchestration.selection import pipeline_run_id
from orchestration.targets import Target


def build_publish_asset() -> dg.AssetsDefinition:
    translator = SalesdwTranslator()
    # BI reads the marts; metric queries (bi/metrics.py) also need MetricFlow's time spine beside them
    marts = manifest_models("marts") + manifest_models("semantic")
    mart_keys = [translator.get_asset_key(m) for m in marts]
    tables = sorted(m.get("alias") or m["name"] for m in marts)

    @dg.asset(
        key=["publish", "marts"],
        group_name="publish",
        deps=mart_keys,
        pool=WRITER_POOL,
        kinds={"duckdb"},
        description=(
            "The serving file BI tools read (SALESDW_MARTS, default data/salesdw_marts.duckdb, schema marts): "
            "replaced atomically, and only when every upstream model built and every blocking gate passed."
        ),
    )
    @takes_turns
    def publish(context: dg.AssetExecutionContext, target: dg.ResourceParam[Target]) -> dg.MaterializeResult:
        outcome = target.publish(pipeline_run_id(context.run), tables)
        context.log.info(f"published {len(outcome.tables)} marts to {outcome.location}{outcome.note}")
        return dg.MaterializeResult(
            metadata={
                "path": outcome.location,
                "tables": len(outcome.tables),
                "rows": dg.MetadataValue.json(dict(outcome.tables)),
                **{
                    k: dg.MetadataValue.json(v) if isinstance(v, list | dict) else v
                    for k, v in outcome.metadata.items()
                },
            }
        )

    return publish


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_publish_asset()])

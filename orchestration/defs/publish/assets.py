"""Publish: copy the audited marts into the read-only serving file (or Postgres database), atomically."""

import dagster as dg

from ingestion.publish import publish_marts
from ingestion.settings import Settings, TargetSettings
from orchestration.defs.dbt.project import manifest_models
from orchestration.defs.dbt.translator import SalesdwTranslator
from orchestration.defs.resources import WRITER_POOL, WarehouseResource, current_target, postgres_target


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
    def publish(context: dg.AssetExecutionContext, duckdb: WarehouseResource) -> dg.MaterializeResult:
        if TargetSettings.from_env().target == "spark":  # TEMPORARY (h/spark): the target interface
            target = current_target()
            outcome = target.publish(context.run.run_id, tables)
            context.log.info(f"published {len(outcome.tables)} marts to {target.serving_location}")
            return dg.MaterializeResult(
                metadata={
                    "path": outcome.location,
                    "tables": len(outcome.tables),
                    "rows": dg.MetadataValue.json(dict(outcome.tables)),
                }
            )
        if (pg_target := postgres_target()) is not None:
            return _publish_postgres(context, pg_target, tables)
        target = Settings.from_env().marts
        result = publish_marts(duckdb.path, target, run_id=context.run.run_id, tables=tables)
        context.log.info(
            f"published {len(result.tables)} marts to {result.path} "
            f"({len(result.copied)} copied anew, the others unchanged since the last publish)"
        )
        return dg.MaterializeResult(
            metadata={
                "path": str(result.path),
                "tables": len(result.tables),
                "rows": dg.MetadataValue.json(result.tables),
                "copied": dg.MetadataValue.json(result.copied),
            }
        )

    return publish


def _publish_postgres(context: dg.AssetExecutionContext, target, tables: list[str]) -> dg.MaterializeResult:
    """SALESDW_TARGET=postgres: the marts dbt built in Postgres go to the serving database's `marts` schema."""
    from ingestion.targets import postgres as pg

    serving = pg.marts_dsn(target.postgres_dsn, target.postgres_marts_dsn)
    result = pg.publish(target.postgres_dsn, serving, context.run.run_id, tables=tables)
    context.log.info(
        f"published {len(result.tables)} marts to {result.target} (schema marts, role {pg.BI_ROLE})"
    )
    return dg.MaterializeResult(
        metadata={
            "path": result.target,  # the serving database, password masked
            "tables": len(result.tables),
            "rows": dg.MetadataValue.json(result.tables),
            "bi_role": pg.BI_ROLE,
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_publish_asset()])

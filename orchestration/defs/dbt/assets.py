"""dbt models as Dagster assets: staging, intermediate and marts, built with `dbt build`."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import DBT_EXECUTABLE, dbt_env, ensure_manifest, salesdw_dbt_project
from orchestration.defs.dbt.translator import SalesdwTranslator
from orchestration.defs.resources import WRITER_POOL

# The dbt graph is split where a gate stands: models downstream of a gated model inside one
# `dbt build` would still build, so staging + intermediate and the marts are separate steps, and the
# gates on the former block the latter.
DBT_STEPS = {
    "dbt_staging": "path:models/staging path:models/intermediate",
    "dbt_marts": "path:models/marts",
}


def build_dbt_assets(name: str, select: str) -> dg.AssetsDefinition:
    project = salesdw_dbt_project()
    manifest = ensure_manifest(project)

    @dbt_assets(
        manifest=manifest,
        project=project,
        select=select,
        dagster_dbt_translator=SalesdwTranslator(),
        pool=WRITER_POOL,
        name=name,
    )
    def _models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        expected = len(context.selected_asset_keys)
        built = 0
        invocation = dbt.cli(["build"], context=context)
        try:
            for event in invocation.stream():
                if isinstance(event, dg.Output | dg.AssetMaterialization):
                    built += 1
                yield event
        finally:
            # If this step fails mid-stream, dbt must not live on holding the warehouse's write lock.
            if invocation.process.poll() is None:
                invocation.process.terminate()
                invocation.process.wait(timeout=60)
        # A selection that matches nothing "succeeds" with zero materialisations: that is a failure here.
        if built < expected:
            raise dg.Failure(f"dbt built {built} of the {expected} selected models; see the dbt log above")

    return _models


@dg.definitions
def defs() -> dg.Definitions:
    project = salesdw_dbt_project()
    # dbt runs as a subprocess that inherits this environment: give it the warehouse path.
    os.environ.update({k: v for k, v in dbt_env().items() if k not in os.environ})
    return dg.Definitions(
        assets=[build_dbt_assets(name, select) for name, select in DBT_STEPS.items()],
        resources={
            "dbt": DbtCliResource(
                project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=DBT_EXECUTABLE
            )
        },
    )

"""dbt models as Dagster assets: staging, intermediate and marts, built with `dbt build`."""

import json
import os
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
from dagster_dbt import dbt_assets

from ingestion.settings import Settings
from orchestration.defs.dbt.project import (
    LOGIC_ENV,
    ensure_manifest,
    forget_unit_tests_passed,
    keep_partial_parse,
    logic_fingerprint,
    mark_unit_tests_passed,
    prune_step_targets,
    salesdw_dbt_project,
    step_target_path,
    unit_tests_marker,
)
from orchestration.defs.dbt.resource import SalesdwDbtCliResource, dbt_env
from orchestration.defs.dbt.translator import SalesdwTranslator
from orchestration.defs.resources import WRITER_POOL, takes_turns
from orchestration.selection import pipeline_run_id
from orchestration.targets import Target

# Models tagged so in dbt are the partitioned history marts (one row per day or month of history).
PARTITIONED_TAG = "partitioned_monthly"


@dataclass(frozen=True)
class DbtStep:
    """One `dbt build` step of the graph."""

    select: str
    exclude: str = ""
    partitioned: bool = False

    @property
    def selection(self) -> str:
        """select and exclude as one string: what a record of the step's passed unit tests is for."""
        return f"{self.select}|{self.exclude}"


# The dbt graph is split where a gate stands: models downstream of a gated model inside one `dbt build`
# would still build, so staging + intermediate and the marts are separate steps, and the gates on the
# former block the latter. The partitioned history marts are a step of their own (a step has one
# partitions definition); they read only staging and intermediate models, and the marts that read them
# come after them.
DBT_STEPS = {
    "dbt_staging": DbtStep("path:models/staging path:models/intermediate"),
    "dbt_history": DbtStep(f"tag:{PARTITIONED_TAG}", partitioned=True),
    # models/semantic holds MetricFlow's time spine, a table published with the marts for metric queries
    "dbt_marts": DbtStep("path:models/marts path:models/semantic", exclude=f"tag:{PARTITIONED_TAG}"),
}


def history_partitions(settings: Settings | None = None) -> dg.MonthlyPartitionsDefinition:
    """Monthly partitions from SALESDW_HISTORY_START up to and including the current month.

    Both history marts share one definition (a month of daily snapshots; a month of MRR) because a Dagster
    asset job holds one partitions definition, and the nightly full rebuild must build them together with
    everything else.
    """
    settings = settings or Settings.from_env()
    return dg.MonthlyPartitionsDefinition(start_date=settings.history_start, end_offset=1, timezone="UTC")


def dbt_build_args(window: tuple[datetime, datetime] | None, unit_tests: bool = True) -> list[str]:
    """`dbt build` for a time window [start, end) of a partitioned step, or the whole history (None).

    A partitioned run rebuilds the rows of its window only; unit tests pin logic, not a window, so they run
    in unpartitioned builds only, and there only while they have not yet passed for the current code
    (`unit_tests=False` then, see project.unit_tests_marker).
    """
    args = ["build"] if window is None and unit_tests else ["build", "--exclude-resource-type", "unit_test"]
    if window is None:
        return args
    start, end = window
    window_vars = {"partition_start": start.strftime("%Y-%m-%d"), "partition_end": end.strftime("%Y-%m-%d")}
    return [*args, "--vars", json.dumps(window_vars)]


def step_env(settings: Settings, target: Target) -> dict[str, str]:
    """What a dbt step's subprocess sees: the process environment and dbt_env. It keys the step's partial-parse
    state and the record of its passed unit tests."""
    return {**os.environ, **dbt_env(settings, target)}


def forget_steps_unit_tests(settings: Settings, target: Target) -> None:
    """The next run with these settings and target runs every dbt step's unit tests; other settings' records
    stay (project.forget_unit_tests_passed)."""
    selections = {name: step.selection for name, step in DBT_STEPS.items()}
    forget_unit_tests_passed(salesdw_dbt_project(), selections, step_env(settings, target))


def build_dbt_assets(name: str, step: DbtStep) -> dg.AssetsDefinition:
    project = salesdw_dbt_project()
    manifest = ensure_manifest(project)

    @dbt_assets(
        manifest=manifest,
        project=project,
        select=step.select,
        exclude=step.exclude or None,
        dagster_dbt_translator=SalesdwTranslator(),
        pool=WRITER_POOL,
        name=name,
        partitions_def=history_partitions() if step.partitioned else None,
        # A backfill of many months is one `dbt build` over the whole range, not one per month.
        backfill_policy=dg.BackfillPolicy.single_run() if step.partitioned else None,
    )
    @takes_turns
    def _models(
        context: dg.AssetExecutionContext,
        dbt: SalesdwDbtCliResource,
        settings: dg.ResourceParam[Settings],
        target: dg.ResourceParam[Target],
    ):
        window = None
        if step.partitioned and context.has_partition_key_range:
            tw = context.partition_time_window
            window = (tw.start, tw.end)
        expected = len(context.selected_asset_keys)
        built = 0
        env = step_env(settings, target)
        extra_env = {**dbt_env(settings, target), LOGIC_ENV: logic_fingerprint(project, env)}
        windowed = window is not None  # its --vars: a partial-parse state of its own
        target_path = step_target_path(project, name, pipeline_run_id(context.run), env, windowed)
        passed_marker = unit_tests_marker(project, name, step.selection, env)
        unit_tests = window is None and not passed_marker.exists()
        target.ensure_running()  # before dbt connects (Spark: a local Thrift Server)
        args = dbt_build_args(window, unit_tests)
        invocation = dbt.cli(args, context=context, target_path=target_path, env=extra_env)
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
            keep_partial_parse(project, target_path, env, windowed)
            prune_step_targets(project)
        # A selection that matches nothing "succeeds" with zero materialisations: that is a failure here.
        if built < expected:
            raise dg.Failure(f"dbt built {built} of the {expected} selected models; see the dbt log above")
        if unit_tests and invocation.is_successful():
            mark_unit_tests_passed(passed_marker)

    return _models


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_dbt_assets(name, step) for name, step in DBT_STEPS.items()])

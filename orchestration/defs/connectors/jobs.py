"""Connector pulls (Salesforce, Stripe, a billing database) as one ops job, and the load run that follows.

The pulls are ops, not assets: they write into the raw tables the `raw/*` assets own, and an asset key has
one definition. After a successful pull, `raw_after_connector_pull` materialises the raw assets whose tables
received rows, so the raw gates run over them and declarative automation carries the change to the marts,
exactly as after a file drop. Unconfigured connectors (no credentials in the environment) skip quietly.
"""

import dagster as dg

from ingestion.contract import BY_TABLE
from ingestion.settings import ConnectorSettings
from ingestion.sources._common import PullResult
from ingestion.sources.registry import CONNECTORS, Connector
from orchestration.defs.jobs import load_raw
from orchestration.defs.raw.assets import raw_key
from orchestration.defs.resources import WRITER_POOL, WarehouseResource, takes_turns

CHANGED_TAG = "salesdw/raw_tables_changed"


def _report(context: dg.OpExecutionContext, result: PullResult) -> dg.Output[list[str]]:
    changed = sorted({f.object for f in result.files if f.rows_loaded})
    if changed:
        # Read by raw_after_connector_pull; tags are how a finished run tells a sensor what it did.
        prior = context.run.tags.get(CHANGED_TAG, "")
        merged = sorted(set(filter(None, prior.split(","))) | set(changed))
        context.instance.add_run_tags(context.run_id, {CHANGED_TAG: ",".join(merged)})
    for f in result.files:
        if f.rows_quarantined:
            context.log.warning(f"{f.file}: {f.rows_quarantined} rows quarantined (see audit.quarantine)")
    return dg.Output(
        changed,
        metadata={**result.summary(), "raw_tables_changed": dg.MetadataValue.json(changed)},
    )


def _skip(context: dg.OpExecutionContext, what: str, env: str) -> dg.Output[list[str]]:
    context.log.info(f"{what} is not configured ({env} unset); nothing pulled")
    return dg.Output([], metadata={"configured": False})


def _pull_op(connector: Connector) -> dg.OpDefinition:
    """One op of pull_connectors: pull `connector` when its settings are there, else skip quietly."""

    @dg.op(name=connector.op_name, pool=WRITER_POOL, description=connector.description)
    @takes_turns
    def pull(
        context: dg.OpExecutionContext,
        duckdb: WarehouseResource,
        connectors: dg.ResourceParam[ConnectorSettings],
    ) -> dg.Output[list[str]]:
        settings = connectors
        if not connector.configured(settings):
            return _skip(context, connector.title, connector.switch)
        with duckdb.connect() as con:
            return _report(context, connector.build(con, settings, run_id=context.run_id).pull())

    return pull


PULL_OPS = [_pull_op(c) for c in CONNECTORS]


@dg.job(
    name="pull_connectors",
    description="Pull every configured connector into raw (" + ", ".join(c.title for c in CONNECTORS) + ").",
    tags={"salesdw/kind": "connector_pull"},
)
def pull_connectors():
    for pull in PULL_OPS:
        pull()


hourly_connector_pull = dg.ScheduleDefinition(
    name="hourly_connector_pull",
    job=pull_connectors,
    cron_schedule="50 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly at :50, pull the configured connectors (incremental, with look-back).",
)


def changed_raw_keys(tags: dict[str, str]) -> list[dg.AssetKey]:
    names = [t for t in tags.get(CHANGED_TAG, "").split(",") if t in BY_TABLE]
    return [raw_key(BY_TABLE[t]) for t in sorted(set(names))]


@dg.run_status_sensor(
    name="raw_after_connector_pull",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[pull_connectors],
    request_job=load_raw,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="After a connector pull that added rows, materialise those raw assets (gates, then automation).",
)
def raw_after_connector_pull(context: dg.RunStatusSensorContext):
    keys = changed_raw_keys(context.dagster_run.tags)
    if not keys:
        return dg.SkipReason("the pull added no rows")
    return dg.RunRequest(
        run_key=f"after-pull-{context.dagster_run.run_id}",
        asset_selection=keys,
        tags={"salesdw/trigger": "raw_after_connector_pull", "salesdw/pull_run": context.dagster_run.run_id},
    )

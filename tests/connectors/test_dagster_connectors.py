"""The pull_connectors job: skips unconfigured connectors, pulls configured ones, and hands changed tables
to the raw load through raw_after_connector_pull."""

from __future__ import annotations

import dagster as dg

from ingestion.settings import ConnectorSettings
from ingestion.warehouse import connect
from orchestration.defs.connectors.jobs import CHANGED_TAG, pull_connectors, raw_after_connector_pull
from orchestration.defs.resources import WarehouseResource
from tests.servers.demo import batches, count
from tests.servers.salesforce_api import SalesforceServer

TOKEN = "00Dtest!dagster-token"


def _resources(tmp_path) -> dict:
    """The job's resources as the definitions make them, the connector settings read from the environment now."""
    return {
        "duckdb": WarehouseResource(path=str(tmp_path / "w.duckdb"), landing_dir=str(tmp_path / "landing")),
        "connectors": ConnectorSettings.from_env(),
    }


def test_without_credentials_every_pull_skips_and_the_run_succeeds(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = pull_connectors.execute_in_process(resources=_resources(tmp_path), instance=instance)
    assert result.success
    assert result.output_for_node("pull_salesforce") == []
    assert CHANGED_TAG not in instance.get_run_by_id(result.run_id).tags
    ctx = dg.build_run_status_sensor_context(
        sensor_name="raw_after_connector_pull",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        dagster_event=result.get_run_success_event(),
    )
    assert isinstance(raw_after_connector_pull(ctx), dg.SkipReason)


def test_configured_pull_loads_raw_and_requests_the_raw_assets_it_changed(
    tmp_path, demo_landing, monkeypatch
):
    with SalesforceServer(TOKEN) as server:
        for _, files in batches(demo_landing, "crm"):
            for obj, path in files:
                server.upsert_csv(obj, path)
        monkeypatch.setenv("SALESDW_SALESFORCE_INSTANCE_URL", server.url)
        monkeypatch.setenv("SALESDW_SALESFORCE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("SALESDW_CONNECTOR_SPOOL", str(tmp_path / "spool"))
        instance = dg.DagsterInstance.ephemeral()
        result = pull_connectors.execute_in_process(resources=_resources(tmp_path), instance=instance)
        assert result.success
        changed = result.output_for_node("pull_salesforce")
        assert "crm__opportunity" in changed and len(changed) == 12
        run = instance.get_run_by_id(result.run_id)
        ctx = dg.build_run_status_sensor_context(
            sensor_name="raw_after_connector_pull",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=result.get_run_success_event(),
        )
        request = raw_after_connector_pull(ctx)
        assert isinstance(request, dg.RunRequest)
        assert sorted(k.path[1] for k in request.asset_selection) == sorted(changed)
    con = connect(tmp_path / "w.duckdb", read_only=True)
    assert count(con, "SELECT count(*) FROM raw.crm__opportunity") == len(server.records["Opportunity"])
    # The loader's run id is the Dagster run's: load_log ties every page to the run that pulled it.
    assert count(con, "SELECT count(DISTINCT run_id) FROM audit.load_log") == 1
    assert con.execute("SELECT any_value(run_id) FROM audit.load_log").fetchone()[0] == result.run_id
    con.close()

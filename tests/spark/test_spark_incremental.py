"""On Spark, the incremental models equal a full rebuild: the delete+insert strategy and the row deletes of the
hooks run as copy-on-write rewrites of Parquet tables (macros/cross_db/dml.sql).

The same deliveries as the DuckDB and Postgres proofs (tests/dbt/test_incremental_*.py): a build, then a delta
built incrementally (with the selection's dbt tests), then the same raw data built from scratch (--full-refresh)
on the same server; the tables are compared row for row from their Parquet files. The first build and the
rebuild are `dbt run`: their data tests would repeat what the incremental build's and test_spark_target's
(the same demo data) already assert.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_landing
from ingestion.targets import spark as sp
from ingestion.warehouse import connect
from tests.dbt import test_incremental_activities as activities
from tests.dbt import test_incremental_pipeline_snapshot as snapshot
from tests.spark.helpers import dbt, finished, fresh_catalog, replicate
from tests.warehouses import built_demo_warehouse, loaded_demo_warehouse

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# bookkeeping of the incremental runs, not compared (a full rebuild stamps its own time)
SKIP = {"matched_at", "changed_at"}
# the unit tests do not read the data (test_spark_target runs every one of them)
NO_UNIT_TESTS = ("--exclude", "test_type:unit")


@pytest.fixture
def settings(spark_server, tmp_path: Path):
    return fresh_catalog(spark_server, tmp_path / "lake")


def build(command: str, warehouse: Path, work: Path, settings, *args: str) -> None:
    env = sp.dbt_env(sp.endpoint(settings))
    finished(dbt(command, "spark", warehouse, work, *args, env=env), f"Spark {command} " + " ".join(args))


def rows(settings, table: str, where: str = "true") -> Counter:
    schema, name = table.split(".")
    folder = settings.home / "warehouse" / f"{schema}.db" / name
    con = duckdb.connect()
    try:
        rel = con.sql(f"SELECT * FROM read_parquet('{folder}/*.parquet') WHERE {where}")
        keep = [i for i, c in enumerate(rel.columns) if c not in SKIP]
        return Counter(tuple(r[i] for i in keep) for r in rel.fetchall())
    finally:
        con.close()


def test_activity_models_incremental_run_equals_full_rebuild_on_spark(settings, tmp_path: Path):
    warehouse = loaded_demo_warehouse(tmp_path)
    landing = tmp_path / "landing"
    replicate(warehouse, settings, full=True)
    build("run", warehouse, tmp_path / "first", settings, *activities.SELECT, "--full-refresh")

    events = activities.latest_events(landing)
    ids = sorted(events)
    participants = {e.lower() for ev in events.values() for e in ev["participant_emails"] or []}
    _, contacts = activities._latest_crm(landing, "Contact")
    _, accounts = activities._latest_crm(landing, "Account")
    contact = next(i for i in sorted(contacts) if contacts[i]["Email"].lower() in participants)
    with_site = [i for i in sorted(accounts) if accounts[i]["Website"]]
    batch = "2026-06-01T000000_0001"
    activities.write_crm_versions(
        landing, batch, "Contact", {contact: {"Email": "moved." + contacts[contact]["Email"]}}
    )
    activities.write_crm_versions(
        landing, batch, "Account", {with_site[1]: {"Website": accounts[with_site[0]]["Website"]}}
    )
    activities.write_events(
        landing,
        batch,
        [
            # an id Spark must escape twice over (a quote, a backslash): the changed ids are SQL literals (ids_in)
            {**events[ids[0]], "id": "evt_spark_new_o'neil\\3"},
            activities.bumped(
                events[ids[1]], participant_emails=[contacts[contact]["Email"]], crm_account_id=None
            ),
            activities.bumped(events[ids[2]], is_deleted=True),
        ],
    )
    with connect(warehouse) as con:
        load_landing(con, landing)
    replicate(warehouse, settings)
    build("build", warehouse, tmp_path / "inc", settings, *activities.SELECT, *NO_UNIT_TESTS)
    incremental = {t: rows(settings, t, activities.TABLES[t][1]) for t in activities.TABLES}
    build("run", warehouse, tmp_path / "full", settings, *activities.SELECT, "--full-refresh")
    for table in activities.TABLES:
        full = rows(settings, table, activities.TABLES[table][1])
        assert incremental[table] == full, (
            table,
            len(incremental[table] - full),
            len(full - incremental[table]),
        )
        assert sum(full.values()) > 0, table


def test_pipeline_snapshot_incremental_run_equals_full_rebuild_on_spark(
    settings, tmp_path_factory, tmp_path: Path
):
    built = built_demo_warehouse(tmp_path_factory.mktemp("snapshot_duck"), *snapshot.SELECT)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built, warehouse)
    replicate(warehouse, settings, full=True)
    build("run", warehouse, tmp_path / "first", settings, *snapshot.SELECT, "--full-refresh")
    first = rows(settings, snapshot.TABLE)
    con = duckdb.connect(str(warehouse))
    try:
        _, expected, _ = snapshot.apply_deltas(con)  # new raw versions, chosen from the DuckDB build's models
    finally:
        con.close()
    assert expected
    replicate(warehouse, settings)
    build("build", warehouse, tmp_path / "inc", settings, *snapshot.SELECT, *NO_UNIT_TESTS)
    incremental = rows(settings, snapshot.TABLE)
    build("run", warehouse, tmp_path / "full", settings, *snapshot.SELECT, "--full-refresh")
    full = rows(settings, snapshot.TABLE)
    assert incremental == full, (len(incremental - full), len(full - incremental))
    assert incremental != first and sum(full.values()) > 10_000

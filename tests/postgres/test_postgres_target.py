"""The Postgres target gives the same marts as DuckDB: replication, dbt on both targets, publish, BI role.

One scale-0.05 demo dataset is loaded by the DuckDB loader (the session's `demo_build`, which dbt built on
DuckDB), replicated into a real PostgreSQL server and built there by dbt (every model, data test, unit test
and contract must pass on each target). Then
every BI-facing mart (`dbt_project/models/marts/**`) is compared row for row: same columns, matching
types, the same multiset of rows with exact values (numeric vs decimal compared as numbers, timestamps in
UTC; no tolerance, not even for DOUBLE ratios).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg2
import pytest
from psycopg2 import errors

from expectations.suites_models import model_suites
from ingestion.loader import load_landing
from ingestion.targets import postgres as pg
from ingestion.warehouse import connect
from tests.pg_server import fresh_database, pg_dsn  # noqa: F401
from tests.warehouses import copy_built

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")


def dbt_build(target: str, warehouse: Path, work: Path, dsn: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "SALESDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for name in ("SALESDW_AS_OF_DATE", "SALESDW_FISCAL_YEAR_START_MONTH", "SALESDW_CORPORATE_CURRENCY"):
        env.pop(name, None)
    if dsn:
        env.update(pg.dbt_env(dsn))
    cmd = [
        str(DBT), "build", "--target", target,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / f"target_{target}"), "--log-path", str(work / f"logs_{target}"),
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(proc: subprocess.Popen, target: str) -> None:
    out, _ = proc.communicate(timeout=900)
    if proc.returncode != 0:
        failing = [line for line in out.splitlines() if "ERROR" in line or "FAIL" in line]
        pytest.fail(f"dbt build --target {target} failed:\n" + "\n".join(failing[:30]) + "\n" + out[-3000:])


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, pg_dsn: str, demo_build: Path):  # noqa: F811
    """(DuckDB warehouse path, Postgres warehouse DSN, dbt target dir) after building both targets. The DuckDB
    build is the session's (`demo_build`, tests/conftest.py: the same data, every model and test built), in a
    copy of this module's; Postgres is built here from its raw layer."""
    work = tmp_path_factory.mktemp("pg_target")
    warehouse = copy_built(demo_build, work)
    con = connect(warehouse)
    try:
        dsn = fresh_database(pg_dsn, "salesdw_equality")
        report = pg.replicate_raw(con, dsn)
        assert report.rows_copied > 20_000
    finally:
        con.close()
    finished(dbt_build("postgres", warehouse, work, dsn), "postgres")
    return warehouse, dsn, demo_build / "target"


def bi_marts(target_dir: Path) -> list[str]:
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return sorted(
        n["alias"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["original_file_path"].startswith("models/marts/")
    )


def norm(value):
    """A value both drivers agree on: aware timestamps in UTC, NaN comparable, JSON as canonical text."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value  # Decimal compares by value: Decimal("1.0") == Decimal("1.000000")


PG_TYPE_OF = {
    "VARCHAR": {"character varying", "text"},
    "BIGINT": {"bigint"},
    "INTEGER": {"integer"},
    "BOOLEAN": {"boolean"},
    "DATE": {"date"},
    "DOUBLE": {"double precision"},
    "TIMESTAMP": {"timestamp without time zone"},
    "TIMESTAMP WITH TIME ZONE": {"timestamp with time zone"},
}


def expected_pg_types(duck_type: str) -> set[str]:
    if duck_type.startswith("DECIMAL("):
        return {"numeric" + duck_type[len("DECIMAL") :].replace(" ", "")}
    return PG_TYPE_OF[duck_type]


def duck_columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()


def pg_columns(cur, schema: str, table: str) -> list[tuple[str, str]]:
    return list(pg._pg_columns(cur, schema, table).items())


def assert_marts_equal(warehouse: Path, dsn: str, marts: list[str]) -> dict[str, int]:
    """Each mart of schema `marts` in the DuckDB file equals the one in the Postgres database of `dsn`:
    same columns, matching types, the same multiset of rows. Returns the rows compared per mart."""
    duck = duckdb.connect(str(warehouse), read_only=True)
    duck.execute("SET TimeZone = 'UTC'")
    con = pg.connect(dsn)
    compared = {}
    try:
        with con.cursor() as cur:
            for mart in marts:
                dcols, pcols = duck_columns(duck, "marts", mart), pg_columns(cur, "marts", mart)
                assert [c for c, _ in dcols] == [c for c, _ in pcols], f"{mart}: columns differ"
                for (col, dtype), (_, ptype) in zip(dcols, pcols, strict=True):
                    assert ptype in expected_pg_types(dtype), (
                        f"{mart}.{col}: DuckDB {dtype}, Postgres {ptype}"
                    )
                drows = Counter(
                    tuple(map(norm, r)) for r in duck.execute(f'SELECT * FROM marts."{mart}"').fetchall()
                )
                cur.execute(f'SELECT * FROM marts."{mart}"')
                prows = Counter(tuple(map(norm, r)) for r in cur.fetchall())
                only_duck, only_pg = drows - prows, prows - drows
                assert not only_duck and not only_pg, (
                    f"{mart}: {sum(only_duck.values())} rows only on DuckDB, e.g. {list(only_duck)[:2]}; "
                    f"{sum(only_pg.values())} only on Postgres, e.g. {list(only_pg)[:2]}"
                )
                compared[mart] = drows.total()
    finally:
        con.close()
        duck.close()
    return compared


def test_every_bi_mart_is_identical_on_duckdb_and_postgres(both):
    warehouse, dsn, target_dir = both
    marts = bi_marts(target_dir)
    assert len(marts) >= 13, marts
    compared = assert_marts_equal(warehouse, dsn, marts)
    # Not vacuous: the demo data fills every mart, and money columns really are exact decimals.
    assert all(n > 0 for n in compared.values()), compared
    assert compared["fct_opportunities"] > 500 and compared["fct_pipeline_snapshot_daily"] > 10_000
    print("marts compared row for row:", json.dumps(compared))


def _values(con_rows) -> Counter:
    return Counter(tuple(map(norm, r)) for r in con_rows)


def test_raw_replica_equals_the_duckdb_raw_layer(both):
    warehouse, dsn, _ = both
    duck = duckdb.connect(str(warehouse), read_only=True)
    duck.execute("SET TimeZone = 'UTC'")
    con = pg.connect(dsn)
    try:
        with con.cursor() as cur:
            tables = duck.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('raw', 'audit') ORDER BY 1, 2"
            ).fetchall()
            assert len(tables) > 30  # history tables, __current views, load log, quarantine
            for schema, table in tables:
                dcols = duck_columns(duck, schema, table)
                pcols = pg_columns(cur, schema, table)
                assert [c.lower() for c, _ in dcols] == [c for c, _ in pcols], f"{schema}.{table}"
                for (col, dtype), (_, ptype) in zip(dcols, pcols, strict=True):
                    want = {"jsonb"} if dtype == "JSON" else expected_pg_types(dtype)
                    assert ptype in want, f"{schema}.{table}.{col}: {dtype} -> {ptype}"
                json_cols = [i for i, (_, t) in enumerate(dcols) if t == "JSON"]
                drows = []
                for r in duck.execute(f'SELECT * FROM {schema}."{table}"').fetchall():
                    r = list(r)
                    for i in json_cols:
                        r[i] = None if r[i] is None else json.loads(r[i])
                    drows.append(r)
                cur.execute(f'SELECT * FROM {schema}."{table}"')
                assert _values(drows) == _values(cur.fetchall()), f"{schema}.{table} differs"
    finally:
        con.close()
        duck.close()


def test_replication_is_incremental_by_load(both, tmp_path, pg_dsn):  # noqa: F811
    warehouse, _, _ = both
    copy = tmp_path / "w.duckdb"  # its own warehouse and database: the module's builds stay as they were
    copy.write_bytes(warehouse.read_bytes())
    dsn = fresh_database(pg_dsn, "salesdw_incremental")
    con = connect(copy)
    try:
        first = pg.replicate_raw(con, dsn)
        assert all(t.rows_copied == t.rows_total for t in first.tables)  # an empty database: everything
        assert first.rows_copied > 20_000
        again = pg.replicate_raw(con, dsn)
        modes = {t.table: t.mode for t in again.tables}
        assert modes.pop("audit.load_log") == "full"  # small, and updated in place: always copied whole
        assert set(modes.values()) == {"unchanged"}
        assert again.rows_copied == con.execute("SELECT count(*) FROM audit.load_log").fetchone()[0]

        landing = tmp_path / "landing" / "crm" / "Account"
        landing.mkdir(parents=True)
        (landing / "2099-01-01T000000_0001.csv").write_text(
            "Id,Name,OwnerId,CreatedDate,SystemModstamp,IsDeleted,Website,AnnualRevenue\n"
            '001ZZ0000000001AAA,"Quote "" and, comma",005X,2099-01-01T00:00:00.000Z,2099-01-01T00:00:00.000Z,'
            "false,,1234567.125\n"
            '001ZZ0000000002AAA,"two\nlines",005X,2099-01-01T00:00:00.000Z,2099-01-01T01:02:03.456Z,false,'
            '"",0.000001\n'
            "001ZZ0000000003AAA,,005X,2099-01-01T00:00:00.000Z,2099-01-01T00:00:00.000Z,false,,\n"
        )
        load_landing(con, tmp_path / "landing")
        third = pg.replicate_raw(con, dsn)
        changed = {t.table: t.rows_copied for t in third.tables if t.mode == "incremental"}
        assert changed == {"raw.crm__account": 2, "audit.quarantine": 1}  # the row without a Name
        with pg.connect(dsn) as pcon, pcon.cursor() as cur:
            cur.execute(
                "SELECT id, name, annualrevenue, systemmodstamp FROM raw.crm__account__current "
                "WHERE id LIKE '001ZZ%%' ORDER BY id"
            )
            assert cur.fetchall() == [
                ("001ZZ0000000001AAA", 'Quote " and, comma', Decimal("1234567.125000"),
                 dt.datetime(2099, 1, 1, tzinfo=dt.UTC)),
                ("001ZZ0000000002AAA", "two\nlines", Decimal("0.000001"),
                 dt.datetime(2099, 1, 1, 1, 2, 3, 456000, tzinfo=dt.UTC)),
            ]  # fmt: skip
            cur.execute("SELECT website FROM raw.crm__account WHERE id LIKE '001ZZ%%' ORDER BY id")
            duck_websites = con.execute(
                "SELECT Website FROM raw.crm__account WHERE Id LIKE '001ZZ%' ORDER BY Id"
            ).fetchall()
            assert cur.fetchall() == duck_websites  # NULL stays NULL and '' stays '' through the CSV hop
    finally:
        con.close()


def test_publish_gives_bi_the_marts_and_nothing_else(both, pg_dsn):  # noqa: F811
    _, dsn, target_dir = both
    serving = fresh_database(pg_dsn, "salesdw_equality_marts")
    first = pg.publish(dsn, serving, "run-one")
    assert set(bi_marts(target_dir)) <= set(first.tables)
    admin = psycopg2.connect(pg_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS bi_reader")
        cur.execute("CREATE ROLE bi_reader LOGIN PASSWORD 'bi-secret' IN ROLE salesdw_bi")
    admin.close()
    second = pg.publish(dsn, serving, "run-two")  # grants survive a re-publish (new tables each time)
    reader = pg.dsn_parts(serving)
    as_bi = f"postgresql://bi_reader:bi-secret@{reader['host']}:{reader['port']}/{reader['dbname']}"
    bi = psycopg2.connect(as_bi)
    bi.autocommit = True
    try:
        with bi.cursor() as cur:
            for table, rows in second.tables.items():
                cur.execute(f'SELECT count(*) FROM marts."{table}"')
                assert cur.fetchone()[0] == rows
            cur.execute("SELECT run_id FROM marts._published")
            assert cur.fetchall() == [("run-two",)]
            cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'marts__%%'")
            assert cur.fetchone()[0] == 0
            for stmt in (
                "INSERT INTO marts.dim_users (user_id) VALUES ('x')",
                "DELETE FROM marts.fct_opportunities",
                "CREATE TABLE marts.bi_scratch (x int)",
                "CREATE TABLE public.bi_scratch (x int)",
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    cur.execute(stmt)
    finally:
        bi.close()
    # In the warehouse database BI can read nothing: not raw, not dbt's build schema.
    wh = pg.dsn_parts(dsn)
    bi_wh = psycopg2.connect(f"postgresql://bi_reader:bi-secret@{wh['host']}:{wh['port']}/{wh['dbname']}")
    bi_wh.autocommit = True
    try:
        with bi_wh.cursor() as cur:
            for table in (
                "raw.crm__opportunity",
                "raw.crm__opportunity__current",
                "audit.load_log",
                "marts.dim_users",
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    cur.execute(f"SELECT * FROM {table} LIMIT 1")
    finally:
        bi_wh.close()


def test_a_bad_dsn_is_reported_without_its_password(pg_dsn):  # noqa: F811
    parts = pg.dsn_parts(pg_dsn)
    wrong = f"postgresql://{parts['user']}:sup3r-secret@127.0.0.1:{parts['port']}/no_such_database"
    with pytest.raises(pg.PostgresTargetError) as info:
        pg.connect(wrong)
    assert "sup3r-secret" not in str(info.value) and "***" in str(info.value)
    assert "no_such_database" in str(info.value)
    assert pg.masked("host=h user=u password=p@ss dbname=d") == "host=h user=u password=*** dbname=d"


def _suite_outcomes(where, layers: tuple[str, ...]) -> dict[str, tuple]:
    from expectations.runner import validate
    from expectations.suites import all_suites

    out = {}
    for name, suite in all_suites().items():
        if name.split(".", 1)[0] in layers:
            result = validate(where, suite)
            assert result.error is None, f"{name}: {result.error}"
            for r in result.results:
                out[f"{name}: {r.name}"] = (r.success, r.unexpected_count, r.exception)
    return out


def test_staging_and_intermediate_gates_judge_postgres_as_duckdb(both):
    warehouse, dsn, _ = both
    on_duck = _suite_outcomes(warehouse, ("staging", "intermediate"))
    on_pg = _suite_outcomes(pg.sqlalchemy_url(dsn), ("staging", "intermediate"))
    assert len(on_duck) >= 15  # every rule of every staging and intermediate suite
    assert on_pg == on_duck
    assert not any(exc for _, _, exc in on_pg.values())


def test_mart_gates_judge_postgres_as_duckdb(both):
    warehouse, dsn, _ = both
    on_duck = _suite_outcomes(warehouse, ("marts",))
    on_pg = _suite_outcomes(pg.sqlalchemy_url(dsn), ("marts",))
    mart_rules = sum(len(s.expectations) for name, s in model_suites().items() if name.startswith("marts."))
    assert len(on_duck) == mart_rules >= 7  # every rule of every mart suite
    assert on_pg == on_duck


def test_salesdw_run_with_the_postgres_target_runs_through_dagster(both, pg_dsn, monkeypatch, tmp_path):  # noqa: F811
    """`salesdw run` with SALESDW_TARGET=postgres: the job full_pipeline loads, replicates, builds, gates and
    publishes; the serving database's marts equal the DuckDB build of the same demo data."""
    import dagster as dg

    from ingestion.contract import OBJECTS
    from ingestion.settings import Settings
    from orchestration.runner import run_pipeline

    warehouse, _, target_dir = both
    dsn = fresh_database(pg_dsn, "salesdw_run")
    serving = fresh_database(pg_dsn, "salesdw_run_marts")
    monkeypatch.setenv("SALESDW_LANDING_DIR", str(warehouse.parent / "landing"))
    monkeypatch.setenv("SALESDW_MARTS", str(tmp_path / "salesdw_marts.duckdb"))
    monkeypatch.setenv("SALESDW_TARGET", "postgres")
    monkeypatch.setenv("SALESDW_POSTGRES_DSN", dsn)
    monkeypatch.setenv("SALESDW_POSTGRES_MARTS_DSN", serving)
    # Loading the definitions exports dbt's settings into the process environment: through monkeypatch, so
    # that DBT_TARGET=postgres cannot leak into a later test's DuckDB build.
    for name, value in {**pg.dbt_env(dsn), "DBT_TARGET": "postgres"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    lines: list[str] = []
    summary = run_pipeline(settings, say=lines.append)
    text = summary.render(settings) + "\n" + "\n".join(lines)
    assert summary.exit_code == 0, text
    assert "job full_pipeline, target postgres" in text and "published:" in text

    # Through Dagster: the run is in the instance, as job full_pipeline, with every asset of the graph.
    instance = dg.DagsterInstance.get()
    run = instance.get_run_by_id(summary.run_id)
    assert run.job_name == "full_pipeline" and run.status == dg.DagsterRunStatus.SUCCESS
    materialized = {
        r.asset_key.to_user_string()
        for r in instance.get_records_for_run(
            summary.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        if r.asset_key
    }
    assert {f"raw/{o.table}" for o in OBJECTS} | {"publish/marts", "marts/fct_opportunities"} <= materialized

    # Every gate ran and passed: the raw suites and refused-file checks, and each model suite.
    from expectations.suites import all_suites

    assert not summary.checks_failed and not summary.failures, text
    assert summary.checks_passed >= len(all_suites()) + len(OBJECTS), text
    # dbt built in Postgres only: the run's DuckDB file holds raw and audit, no model schema. So the model
    # gates that passed above can only have read Postgres.
    duck = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        found = duck.execute("SELECT DISTINCT table_schema FROM information_schema.tables").fetchall()
        schemas = {r[0] for r in found}
        raw_rows = duck.execute("SELECT sum(rows_loaded) FROM audit.load_log").fetchone()[0]
    finally:
        duck.close()
    assert {"raw", "audit"} <= schemas and not schemas & {"staging", "intermediate", "marts"}, schemas
    # Each raw asset replicated its loads: every loaded row reached Postgres, plus the audit tables.
    assert raw_rows > 20_000 and summary.rows_replicated > raw_rows, (raw_rows, summary.rows_replicated)

    # The serving database holds this run's marts, equal row for row to the DuckDB build of the same data.
    marts = bi_marts(target_dir)
    compared = assert_marts_equal(warehouse, serving, marts)
    assert len(compared) == len(marts) >= 13 and all(n > 0 for n in compared.values()), compared
    with pg.connect(serving) as con, con.cursor() as cur:
        cur.execute("SELECT run_id FROM marts._published")
        assert cur.fetchall() == [(summary.run_id,)]
        cur.execute("SELECT has_table_privilege('salesdw_bi', 'marts.fct_opportunities', 'SELECT')")
        assert cur.fetchone()[0]

    # The DSN's password shows nowhere: not in the summary, the progress lines or the saved gate results.
    password = pg.dsn_parts(dsn)["password"]
    assert password not in text and "***" in text
    assert not [
        f for f in settings.report_dir.rglob("*") if f.is_file() and password in f.read_text(errors="replace")
    ]

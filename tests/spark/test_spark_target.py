"""The Spark target gives the same marts as DuckDB: raw in the lake, dbt on Spark, gates, publish, a full run.

`salesdw run` with SALESDW_TARGET=spark on the session's Spark server (tests/spark/conftest.py) loads the
scale-0.05 demo data through Dagster (raw and audit to Parquet in the lake, registered in Spark's catalog),
builds every model with its data tests, unit tests and contracts on Spark, runs every gate there and publishes.
The DuckDB build of the same data is the session's (`demo_build`, tests/conftest.py), which other tests read too.
Then every BI mart is compared row for row (exact decimals, doubles and timestamps; the same column types, read
back from Spark's Parquet and from Spark's catalog), the published set too, and the model gates the run applied
on Spark must judge as the same suites judge DuckDB.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.targets import spark as sp
from ingestion.warehouse import connect
from tests.spark.compare import assert_marts_equal
from tests.spark.helpers import (
    DBT_PROJECT_DIR,
    MODEL_SETTINGS,
    bi_marts,
    fresh_catalog,
    spark_marts,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

MODEL_LAYERS = ("staging", "intermediate", "marts")


@pytest.fixture(scope="module")
def spark_run(spark_server, demo_build: Path, tmp_path_factory: pytest.TempPathFactory):
    """`salesdw run` with the Spark target on the landing zone of the session's DuckDB build (scale-0.05 demo
    data), which is the reference: read-only, as every reader of it."""
    from orchestration.runner import run_pipeline

    work = tmp_path_factory.mktemp("spark_target")
    settings = fresh_catalog(spark_server, work / "lake")
    landing = work / "landing"
    shutil.copytree(demo_build / "landing", landing)  # the shared build stays as it is: the run gets a copy
    reference = demo_build / "warehouse.duckdb"
    env = {
        "SALESDW_TARGET": "spark",
        "SALESDW_LANDING_DIR": str(landing),
        "SALESDW_WAREHOUSE": str(work / "warehouse.duckdb"),
        "SALESDW_MARTS": str(work / "salesdw_marts.duckdb"),
        "SALESDW_REPORT_DIR": str(work / "reports"),
        "SALESDW_LAKE_DIR": settings.lake_dir,
        "SALESDW_SPARK_HOME": str(settings.home),
        "SALESDW_SPARK_PORT": str(settings.port),
        "SALESDW_SPARK_DRIVER_MEMORY": settings.driver_memory,
        "DBT_TARGET": "spark",
        "DAGSTER_HOME": str(
            work / "dagster_home"
        ),  # module-scoped: tests/conftest.py's isolation is per test
        "SALESDW_DEMO": "0",
        **sp.dbt_env(sp.endpoint(settings)),
    }
    (work / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name in MODEL_SETTINGS:
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        from ingestion.settings import Settings

        run_settings = Settings.from_env()
        lines: list[str] = []
        # the server is running: the run uses it and leaves it running (Target.session)
        summary = run_pipeline(run_settings, say=lines.append)
        text = summary.render(run_settings) + "\n" + "\n".join(lines)
        import dagster as dg

        run = dg.DagsterInstance.get().get_run_by_id(summary.run_id)
        assert sp.local_server(settings).running(), "the run stopped the server it did not start"
        yield {"summary": summary, "text": text, "run": run, "settings": settings, "run_settings": run_settings,
               "reference": reference, "reference_target": demo_build / "target"}  # fmt: skip


def test_salesdw_run_with_the_spark_target_runs_through_dagster(spark_run):
    import dagster as dg

    from expectations.suites import all_suites
    from ingestion.contract import OBJECTS

    summary, text = spark_run["summary"], spark_run["text"]
    assert summary.exit_code == 0, text
    assert "job full_pipeline, target spark" in text and "published:" in text
    run = spark_run["run"]
    assert run.job_name == "full_pipeline" and run.status == dg.DagsterRunStatus.SUCCESS
    assert not summary.checks_failed and not summary.failures, text
    assert summary.checks_passed >= len(all_suites()) + len(OBJECTS), text
    # dbt built in Spark only: the run's DuckDB file holds raw and audit, no model schema
    duck = duckdb.connect(str(spark_run["run_settings"].warehouse), read_only=True)
    try:
        schemas = {
            r[0]
            for r in duck.execute("SELECT DISTINCT table_schema FROM information_schema.tables").fetchall()
        }
        raw_rows = duck.execute("SELECT sum(rows_loaded) FROM audit.load_log").fetchone()[0]
    finally:
        duck.close()
    assert {"raw", "audit"} <= schemas and not schemas & {"staging", "intermediate", "marts"}, schemas
    assert raw_rows > 20_000 and summary.rows_replicated > raw_rows, (raw_rows, summary.rows_replicated)


def test_every_bi_mart_built_on_spark_equals_duckdb(spark_run):
    settings, reference = spark_run["settings"], spark_run["reference"]
    marts = bi_marts(spark_run["reference_target"])
    assert len(marts) >= 13, marts
    folders, types = spark_marts(settings, marts)
    compared = assert_marts_equal(reference, folders, types)
    assert all(n > 0 for n in compared.values()), compared
    assert compared["fct_opportunities"] > 500 and compared["fct_pipeline_snapshot_daily"] > 10_000
    print("marts compared row for row:", json.dumps(compared))


def test_published_set_is_this_runs_marts_and_duckdb_reads_it(spark_run):
    settings, reference, summary = spark_run["settings"], spark_run["reference"], spark_run["summary"]
    info = sp.published_info(settings.lake_dir)
    assert info["run_id"] == summary.run_id
    marts = bi_marts(spark_run["reference_target"])
    assert set(marts) <= set(info["tables"])
    folders = {m: Path(settings.lake_dir) / sp.PUBLISHED / info["version"] / m for m in marts}
    _, types = spark_marts(settings, marts)
    assert assert_marts_equal(reference, folders, types) == {m: info["tables"][m] for m in marts}
    # BI's DuckDB route: the serving file's views read that version, read-only
    serving = duckdb.connect(str(spark_run["run_settings"].marts), read_only=True)
    try:
        assert serving.execute("SELECT run_id FROM marts._published").fetchall() == [(summary.run_id,)]
        n = serving.execute("SELECT count(*) FROM marts.fct_opportunities").fetchone()[0]
        assert n == info["tables"]["fct_opportunities"] > 500
    finally:
        serving.close()


def _outcome(name: str, success, unexpected_count, exception) -> tuple[str, tuple]:
    return name, (success, unexpected_count, exception)


def test_model_gates_judge_spark_as_duckdb(spark_run):
    """The gates the run applied on Spark (its stored results) give, expectation by expectation, the outcome the
    same suites give on the DuckDB build of the same data."""
    from expectations.runner import validate
    from expectations.store import load_run
    from expectations.suites import all_suites

    suites = {n: s for n, s in all_suites().items() if n.split(".", 1)[0] in MODEL_LAYERS}
    stored = {
        d["suite"]: d for d in load_run(spark_run["run_settings"].report_dir, spark_run["summary"].run_id)
    }
    assert set(suites) <= set(stored), sorted(set(suites) - set(stored))
    on_spark, on_duck = {}, {}
    for name, suite in suites.items():
        assert stored[name]["error"] is None, f"{name} on Spark: {stored[name]['error']}"
        on_spark.update(
            _outcome(f"{name}: {r['name']}", r["success"], r["unexpected_count"], r["exception"])
            for r in stored[name]["expectations"]
        )
        result = validate(spark_run["reference"], suite)
        assert result.error is None, f"{name} on DuckDB: {result.error}"
        on_duck.update(
            _outcome(f"{name}: {r.name}", r.success, r.unexpected_count, r.exception) for r in result.results
        )
    assert len(on_duck) >= 24  # every rule of every model suite
    assert on_spark == on_duck
    assert not any(exc for _, _, exc in on_spark.values())


def test_raw_lake_equals_the_duckdb_raw_layer_and_grows_by_load(spark_run, tmp_path):
    settings, run_settings = spark_run["settings"], spark_run["run_settings"]
    duck = duckdb.connect(str(run_settings.warehouse), read_only=True)
    duck.execute("SET TimeZone = 'UTC'")
    try:
        tables = sp.duck_tables(duck)
        assert len(tables) > 20
        for qualified, columns in tables.items():
            schema, table = qualified.split(".", 1)
            lake = Path(settings.lake_dir) / schema / table
            cols = ", ".join(f'"{c}"' for c, _ in columns)
            expect = sorted(map(repr, duck.execute(f'SELECT {cols} FROM {schema}."{table}"').fetchall()))
            files = sorted(lake.glob("*.parquet"))
            got = (
                sorted(
                    map(
                        repr,
                        duck.execute(
                            f"SELECT {cols} FROM read_parquet(?, union_by_name = true)",
                            [[str(f) for f in files]],
                        ).fetchall(),
                    )
                )
                if files
                else []
            )
            assert got == expect, qualified
        # nothing new: nothing written but the load log
        copy = tmp_path / "w.duckdb"
        copy.write_bytes(Path(run_settings.warehouse).read_bytes())
    finally:
        duck.close()
    con = connect(copy)
    try:
        again = sp.export_raw(con, settings.lake_dir)
        modes = {t.table: t.mode for t in again.tables}
        assert modes.pop("audit.load_log") == "full"
        assert set(modes.values()) == {"unchanged"}
    finally:
        con.close()


def test_profile_session_settings_match_the_target_module():
    import yaml

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    params = profile["salesdw"]["outputs"]["spark"]["server_side_parameters"]
    assert {k: str(v) for k, v in params.items()} == sp.SESSION_CONF

"""The Spark target gives the same marts as DuckDB: raw in the lake, dbt on Spark, gates, publish, a full run.

One local Spark Thrift Server per test module (a JVM start costs 30-60 s): `salesdw run` with SALESDW_TARGET=spark
loads the scale-0.05 demo data through Dagster (raw and audit to Parquet in the lake, registered in Spark's
catalog), builds every model with its data tests, unit tests and contracts on Spark, runs every gate there and
publishes. A DuckDB build of the same data runs beside it. Then every BI mart is compared row for row (exact
decimals, doubles and timestamps; the same column types, read back from Spark's Parquet and from Spark's
catalog), the published set too, and the model gates must judge Spark as they judge DuckDB. A CRM-only landing
zone (with a February fiscal year) is built on both targets and compared the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingestion.demo.generator import generate
from ingestion.loader import load_landing
from ingestion.settings import SparkSettings
from ingestion.targets import spark as sp
from ingestion.warehouse import connect, ensure_raw_schema
from tests.spark.compare import assert_marts_equal

pytestmark = [pytest.mark.slow, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
SCALE = 0.05
MODEL_SETTINGS = ("SALESDW_AS_OF_DATE", "SALESDW_FISCAL_YEAR_START_MONTH", "SALESDW_CORPORATE_CURRENCY")

if shutil.which("java") is None:
    pytest.skip(
        "the Spark target needs Java 17 (`.ci/run` installs openjdk-17-jre-headless)", allow_module_level=True
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_settings(work: Path) -> SparkSettings:
    return SparkSettings.from_env(
        {
            "SALESDW_LAKE_DIR": str(work / "lake"),
            "SALESDW_SPARK_HOME": str(work / "spark"),
            "SALESDW_SPARK_PORT": str(free_port()),
            "SALESDW_SPARK_DRIVER_MEMORY": "2g",
        }
    )


def dbt_build(
    target: str, warehouse: Path, work: Path, *args: str, env: dict | None = None
) -> subprocess.Popen:
    full_env = {**os.environ, "SALESDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for name in (*MODEL_SETTINGS, "DBT_TARGET"):
        full_env.pop(name, None)
    full_env.update(env or {})
    cmd = [
        str(DBT), "build", "--target", target, *args,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / f"target_{target}"), "--log-path", str(work / f"logs_{target}"),
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(proc: subprocess.Popen, what: str) -> None:
    out, _ = proc.communicate(timeout=2400)
    if proc.returncode != 0:
        failing = [line for line in out.splitlines() if "ERROR" in line or "FAIL" in line]
        pytest.fail(f"dbt build ({what}) failed:\n" + "\n".join(failing[:30]) + "\n" + out[-3000:])


def load(landing: Path, warehouse: Path) -> None:
    con = connect(warehouse)
    try:
        ensure_raw_schema(con)
        load_landing(con, landing)
    finally:
        con.close()


def bi_marts(target_dir: Path) -> list[str]:
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return sorted(
        n["alias"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["original_file_path"].startswith("models/marts/")
    )


def spark_marts(settings: SparkSettings, marts: list[str]) -> tuple[dict[str, Path], dict[str, list]]:
    """Where Spark keeps each mart's Parquet files (managed tables of schema marts), and its catalog types."""
    types = {}
    with sp.cursor(sp.endpoint(settings)) as cur:
        for mart in marts:
            types[mart] = list(sp._spark_columns(cur, f"marts.{mart}").items())
    folders = {m: settings.home / "warehouse" / "marts.db" / m for m in marts}
    return folders, types


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory: pytest.TempPathFactory):
    """`salesdw run` with the Spark target on scale-0.05 demo data, and a DuckDB build of the same data."""
    from orchestration.runner import run_pipeline

    work = tmp_path_factory.mktemp("spark_target")
    landing = work / "landing"
    generate(landing, scale=SCALE, seed=7)
    reference = work / "duckdb_reference.duckdb"
    load(landing, reference)
    duck = dbt_build("dev", reference, work)  # beside the Spark run: they share nothing but the sources

    settings = spark_settings(work)
    server = sp.local_server(settings)
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
        try:
            summary = run_pipeline(run_settings, say=lines.append)
            text = summary.render(run_settings) + "\n" + "\n".join(lines)
            # the instance this run was recorded in (tests/conftest.py gives each test its own DAGSTER_HOME)
            import dagster as dg

            run = dg.DagsterInstance.get().get_run_by_id(summary.run_id)
            finished(duck, "DuckDB reference")
            # the run stopped the server it started; the comparisons below read Spark's catalog
            server.ensure()
            yield {"summary": summary, "text": text, "run": run, "settings": settings, "run_settings": run_settings,
                   "reference": reference, "work": work}  # fmt: skip
        finally:
            server.stop()


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
    marts = bi_marts(spark_run["work"] / "target_dev")
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
    marts = bi_marts(spark_run["work"] / "target_dev")
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


def test_model_gates_judge_spark_as_duckdb(spark_run):
    settings, reference = spark_run["settings"], spark_run["reference"]
    layers = ("staging", "intermediate", "marts")
    on_duck = _suite_outcomes(reference, layers)
    on_spark = _suite_outcomes(sp.sqlalchemy_url(sp.endpoint(settings)), layers)
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


def test_crm_only_landing_builds_the_same_marts_on_spark(tmp_path: Path):
    """No billing or activity files, some CRM objects absent: the same marts on both, fiscal year from February."""
    landing = tmp_path / "landing"
    generate(landing, scale=SCALE, seed=11)
    shutil.rmtree(landing / "billing")
    shutil.rmtree(landing / "activity")
    for absent in ("OpportunityHistory", "Contact", "Lead"):
        shutil.rmtree(landing / "crm" / absent)
    warehouse, reference = tmp_path / "warehouse.duckdb", tmp_path / "reference.duckdb"
    load(landing, warehouse)
    shutil.copyfile(warehouse, reference)
    fiscal = {"SALESDW_FISCAL_YEAR_START_MONTH": "2"}
    duck = dbt_build("dev", reference, tmp_path, "--exclude", "test_type:unit", env=fiscal)
    settings = spark_settings(tmp_path)
    server = sp.local_server(settings)
    try:
        ep = sp.ensure_running(settings)
        con = connect(warehouse)
        try:
            sp.replicate_raw(con, ep, settings.lake_dir)
        finally:
            con.close()
        spark = dbt_build(
            "spark", warehouse, tmp_path, "--exclude", "test_type:unit", env={**fiscal, **sp.dbt_env(ep)}
        )
        finished(duck, "DuckDB, CRM only")
        finished(spark, "Spark, CRM only")
        marts = bi_marts(tmp_path / "target_dev")
        folders, types = spark_marts(settings, marts)
        compared = assert_marts_equal(reference, folders, types)
    finally:
        server.stop()
    assert compared["fct_opportunities"] > 500 and compared["fct_mrr_monthly"] == 0, compared
    print("CRM-only marts compared row for row:", json.dumps(compared))


def test_profile_session_settings_match_the_target_module():
    import yaml

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    params = profile["salesdw"]["outputs"]["spark"]["server_side_parameters"]
    assert {k: str(v) for k, v in params.items()} == sp.SESSION_CONF

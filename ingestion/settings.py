"""Every environment variable salesdw reads, with its default, in one place.

Read at call time (`Settings.from_env()`), never at import time, so tests and Dagster runs can point
the same code at temporary folders.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.sources import stripe_versions

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# name -> (default, what it is). The README's configuration table is written from this.
VARIABLES: dict[str, tuple[str, str]] = {
    "SALESDW_LANDING_DIR": ("data/landing", "landing zone the loaders read batch files from"),
    "SALESDW_WAREHOUSE": ("data/warehouse.duckdb", "the DuckDB warehouse file (raw, audit, staging, marts)"),
    "SALESDW_MARTS": (
        "data/salesdw_marts.duckdb",
        # Not marts.duckdb: DuckDB names the catalog after the file, and a catalog `marts` beside the
        # schema `marts` makes every `marts.<table>` reference ambiguous for BI tools.
        "the published, read-only marts file BI tools read (schema marts)",
    ),
    "SALESDW_REPORT_DIR": ("data/reports", "where the data-quality report is written"),
    "SALESDW_DEMO": ("auto", "'auto': generate demo data when the landing zone is empty; '0': never"),
    "SALESDW_DEMO_SCALE": ("1", "size of the generated demo dataset (1 = ~100 reps, 20k opportunities)"),
    "SALESDW_DEMO_SEED": ("7", "seed of the generated demo dataset"),
    "SALESDW_DUCKDB_THREADS": ("", "DuckDB threads (empty: DuckDB's default, all cores)"),
    "SALESDW_DUCKDB_MEMORY_LIMIT": (
        "",
        "DuckDB memory limit, e.g. '8GB' (empty: DuckDB's default, 80% of RAM)",
    ),
    "SALESDW_HISTORY_START": (
        "2020-01-01",
        "first month of the partitioned history marts (Dagster's monthly partitions start here)",
    ),
}


def location_settings() -> tuple[str, ...]:
    """The settings that only say where salesdw keeps its files (their defaults are under data/): the landing
    zone, the warehouse, the published marts, the report, the lake, the local Spark's home, the connectors'
    spool. Moving one changes where the pipeline reads and writes, never what it computes."""
    return tuple(name for name, (default, _) in VARIABLES.items() if default.startswith("data/"))


def _path(value: str) -> Path:
    p = Path(value).expanduser()
    # Defaults are relative to the project; a value from the environment is relative to where you are.
    return p if p.is_absolute() else (Path.cwd() / p)


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse: Path
    marts: Path
    report_dir: Path
    demo: str
    demo_scale: float
    demo_seed: int
    duckdb_threads: int | None
    duckdb_memory_limit: str | None
    history_start: str = VARIABLES["SALESDW_HISTORY_START"][0]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str:
            if name in env and env[name] != "":
                return env[name]
            return VARIABLES[name][0]

        def path(name: str) -> Path:
            if name in env and env[name] != "":
                return _path(env[name])
            return PROJECT_ROOT / VARIABLES[name][0]

        demo = get("SALESDW_DEMO").strip().lower()
        if demo not in ("auto", "0", "1"):
            raise ValueError(f"SALESDW_DEMO must be 'auto', '1' or '0', not {demo!r}")
        threads = get("SALESDW_DUCKDB_THREADS")
        history_start = get("SALESDW_HISTORY_START").strip()
        if not re.fullmatch(r"\d{4}-\d{2}-01", history_start):
            raise ValueError(
                f"SALESDW_HISTORY_START must be the first day of a month, YYYY-MM-01, not {history_start!r}"
            )
        return cls(
            landing_dir=path("SALESDW_LANDING_DIR"),
            warehouse=path("SALESDW_WAREHOUSE"),
            marts=path("SALESDW_MARTS"),
            report_dir=path("SALESDW_REPORT_DIR"),
            demo=demo,
            demo_scale=float(get("SALESDW_DEMO_SCALE")),
            demo_seed=int(get("SALESDW_DEMO_SEED")),
            duckdb_threads=int(threads) if threads else None,
            duckdb_memory_limit=get("SALESDW_DUCKDB_MEMORY_LIMIT") or None,
            history_start=history_start,
        )


# Warehouse target (README "Postgres target"). Separate from Settings so the DuckDB defaults stay untouched.
VARIABLES.update(
    {
        "SALESDW_TARGET": (
            "duckdb",
            "'duckdb' (embedded, default), 'postgres' (raw, dbt, gates and marts in Postgres) or 'spark' "
            "(raw and marts as Parquet in SALESDW_LAKE_DIR, dbt and gates on Spark)",
        ),
        "SALESDW_POSTGRES_DSN": (
            "",
            "the Postgres warehouse, e.g. postgresql://user:password@host:5432/salesdw",
        ),
        "SALESDW_POSTGRES_MARTS_DSN": (
            "",
            "where BI reads the published marts (empty: database <warehouse>_marts)",
        ),
        # SALESDW_TARGET=spark (docs/targets.md, ingestion/targets/spark.py)
        "SALESDW_LAKE_DIR": (
            "data/lake",
            "Spark target: where raw, audit and the published marts are written as Parquet "
            "(a local path, or an s3://, gs:// or abfss:// URL the cluster reads)",
        ),
        "SALESDW_SPARK_HOST": (
            "",
            "Spark target: host of the cluster's Spark Thrift Server (empty: salesdw starts a local one)",
        ),
        "SALESDW_SPARK_PORT": ("10000", "Spark target: Thrift Server port (HTTP method: 443)"),
        "SALESDW_SPARK_METHOD": (
            "thrift",
            "Spark target: dbt-spark connection method, 'thrift' or 'http' (Databricks / HTTP transport)",
        ),
        "SALESDW_SPARK_USER": ("salesdw", "Spark target: user name sent to the Thrift Server"),
        "SALESDW_SPARK_TOKEN": ("", "Spark target: access token for the 'http' method (secret)"),
        "SALESDW_SPARK_CLUSTER": ("", "Spark target: cluster id for the 'http' method (Databricks)"),
        "SALESDW_SPARK_HOME": (
            "data/spark",
            "Spark target, local server: its metastore, warehouse directory, logs and state",
        ),
        "SALESDW_SPARK_DRIVER_MEMORY": ("4g", "Spark target, local server: JVM heap of the local Spark"),
    }
)

SPARK_METHODS = ("thrift", "http")


@dataclass(frozen=True)
class SparkSettings:
    """Where the Spark target's lake, server and credentials are. The token is kept out of repr."""

    lake_dir: str  # a local absolute path or an object-store URL
    host: str | None  # None: a local Thrift Server started from the pyspark wheel
    port: int
    method: str
    user: str
    token: str = field(repr=False)
    cluster: str
    home: Path
    driver_memory: str

    @property
    def local(self) -> bool:
        return self.host is None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SparkSettings:
        env = os.environ if env is None else env

        def get(name: str) -> str:
            value = (env.get(name) or "").strip()
            return value or VARIABLES[name][0]

        lake = get("SALESDW_LAKE_DIR")
        if "://" not in lake:
            lake = str(_path(lake) if env.get("SALESDW_LAKE_DIR", "").strip() else PROJECT_ROOT / lake)
        method = get("SALESDW_SPARK_METHOD").lower()
        if method not in SPARK_METHODS:
            raise ValueError(
                f"SALESDW_SPARK_METHOD must be one of {', '.join(SPARK_METHODS)}, not {method!r}"
            )
        home = get("SALESDW_SPARK_HOME")
        port = get("SALESDW_SPARK_PORT")
        if not port.isdigit():
            raise ValueError(f"SALESDW_SPARK_PORT must be a port number, not {port!r}")
        host = get("SALESDW_SPARK_HOST") or None
        if host is None and "://" in lake:
            raise ValueError(
                "SALESDW_LAKE_DIR is an object-store URL, which the local Spark cannot reach without the "
                "cluster's connector jars: set SALESDW_SPARK_HOST to the cluster's Thrift Server"
            )
        return cls(
            lake_dir=lake.rstrip("/"),
            host=host,
            port=int(port),
            method=method,
            user=get("SALESDW_SPARK_USER"),
            token=(env.get("SALESDW_SPARK_TOKEN") or "").strip(),
            cluster=get("SALESDW_SPARK_CLUSTER"),
            home=_path(home) if env.get("SALESDW_SPARK_HOME", "").strip() else PROJECT_ROOT / home,
            driver_memory=get("SALESDW_SPARK_DRIVER_MEMORY"),
        )


TARGETS = ("duckdb", "postgres", "spark")


@dataclass(frozen=True)
class TargetSettings:
    target: str
    postgres_dsn: str | None
    postgres_marts_dsn: str | None
    spark: SparkSettings | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TargetSettings:
        env = os.environ if env is None else env
        target = (env.get("SALESDW_TARGET") or "duckdb").strip().lower()
        if target not in TARGETS:
            raise ValueError(f"SALESDW_TARGET must be one of {', '.join(TARGETS)}, not {target!r}")
        dsn = env.get("SALESDW_POSTGRES_DSN") or None
        if target == "postgres" and not dsn:
            raise ValueError(
                "SALESDW_TARGET=postgres needs SALESDW_POSTGRES_DSN, e.g. "
                "postgresql://salesdw:<password>@127.0.0.1:5432/salesdw"
            )
        spark = SparkSettings.from_env(env) if target == "spark" else None
        return cls(target, dsn, env.get("SALESDW_POSTGRES_MARTS_DSN") or None, spark)


# API and database connectors (ingestion/sources/). Kept apart from Settings so that a warehouse-only setup
# never has to know about them; secrets are excluded from repr so they cannot reach a log by accident.
CONNECTOR_VARIABLES: dict[str, tuple[str, str]] = {
    "SALESDW_CONNECTOR_SPOOL": ("data/spool", "where connectors write each fetched page before loading it"),
    "SALESDW_SALESFORCE_INSTANCE_URL": ("", "Salesforce instance, e.g. https://acme.my.salesforce.com"),
    "SALESDW_SALESFORCE_ACCESS_TOKEN": ("", "Salesforce OAuth access token (secret)"),
    # Winter '27, the release every org runs since October 2026; an org that lacks it is named in the error.
    "SALESDW_SALESFORCE_API_VERSION": ("68.0", "Salesforce API version (REST query and Bulk API 2.0)"),
    "SALESDW_SALESFORCE_LOOKBACK_MINUTES": ("60", "re-read this much before the SystemModstamp cursor"),
    "SALESDW_SALESFORCE_BULK_OBJECTS": (
        "OpportunityHistory,Contact,Lead",
        "objects always read through Bulk API 2.0 query jobs (comma-separated; 'none': only by count)",
    ),
    "SALESDW_SALESFORCE_BULK_THRESHOLD": (
        "10000",
        "other objects go through Bulk API 2.0 when the org's record count (/limits/recordCount) is above this",
    ),
    "SALESDW_SALESFORCE_BULK_PAGE_SIZE": (
        "50000",
        "records per Bulk API 2.0 result page (maxRecords); each page is one batch file and one load",
    ),
    "SALESDW_STRIPE_API_KEY": ("", "Stripe secret or restricted (read-only) API key (secret)"),
    "SALESDW_STRIPE_API_BASE": ("https://api.stripe.com", "Stripe API base URL"),
    "SALESDW_STRIPE_LOOKBACK_MINUTES": ("60", "re-read this much before the created / event cursors"),
    "SALESDW_STRIPE_API_VERSION": (
        stripe_versions.CURRENT,
        "Stripe API version sent as Stripe-Version on every request (either shape loads; see docs/connectors.md)",
    ),
    "SALESDW_SQL_SOURCE_URL": ("", "SQLAlchemy URL of a billing database to replicate (secret)"),
    "SALESDW_SQL_SOURCE_SCHEMA": ("", "schema of the billing tables (empty: the connection's default)"),
    "SALESDW_SQL_SOURCE_UPDATED_COLUMN": ("updated_at", "column each billing table is incremental on"),
    "SALESDW_SQL_SOURCE_LOOKBACK_MINUTES": ("60", "re-read this much before the updated-at cursor"),
}
VARIABLES.update(CONNECTOR_VARIABLES)


@dataclass(frozen=True)
class ConnectorSettings:
    spool_dir: Path
    salesforce_instance_url: str
    salesforce_access_token: str = field(repr=False)
    salesforce_api_version: str
    salesforce_lookback_minutes: float
    salesforce_bulk_objects: tuple[str, ...]
    salesforce_bulk_threshold: int
    salesforce_bulk_page_size: int
    stripe_api_key: str = field(repr=False)
    stripe_api_base: str
    stripe_lookback_minutes: float
    stripe_api_version: str
    sql_source_url: str = field(repr=False)
    sql_source_schema: str | None
    sql_source_updated_column: str
    sql_source_lookback_minutes: float

    @property
    def salesforce_configured(self) -> bool:
        return bool(self.salesforce_instance_url and self.salesforce_access_token)

    @property
    def stripe_configured(self) -> bool:
        return bool(self.stripe_api_key)

    @property
    def sql_source_configured(self) -> bool:
        return bool(self.sql_source_url)

    @property
    def sql_configured(self) -> bool:
        """The registry's name for the SQL source (ingestion/sources/registry.py)."""
        return self.sql_source_configured

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ConnectorSettings:
        env = os.environ if env is None else env

        def get(name: str) -> str:
            value = env.get(name, "")
            return value.strip() if value.strip() else CONNECTOR_VARIABLES[name][0]

        spool = env.get("SALESDW_CONNECTOR_SPOOL", "").strip()
        return cls(
            spool_dir=_path(spool)
            if spool
            else PROJECT_ROOT / CONNECTOR_VARIABLES["SALESDW_CONNECTOR_SPOOL"][0],
            salesforce_instance_url=get("SALESDW_SALESFORCE_INSTANCE_URL").rstrip("/"),
            salesforce_access_token=get("SALESDW_SALESFORCE_ACCESS_TOKEN"),
            salesforce_api_version=get("SALESDW_SALESFORCE_API_VERSION").lstrip("v"),
            salesforce_lookback_minutes=float(get("SALESDW_SALESFORCE_LOOKBACK_MINUTES")),
            salesforce_bulk_objects=_object_list(get("SALESDW_SALESFORCE_BULK_OBJECTS")),
            salesforce_bulk_threshold=_count("SALESDW_SALESFORCE_BULK_THRESHOLD", get, minimum=0),
            salesforce_bulk_page_size=_count("SALESDW_SALESFORCE_BULK_PAGE_SIZE", get, minimum=1),
            stripe_api_key=get("SALESDW_STRIPE_API_KEY"),
            stripe_api_base=get("SALESDW_STRIPE_API_BASE").rstrip("/"),
            stripe_lookback_minutes=float(get("SALESDW_STRIPE_LOOKBACK_MINUTES")),
            stripe_api_version=_stripe_version(get("SALESDW_STRIPE_API_VERSION")),
            sql_source_url=get("SALESDW_SQL_SOURCE_URL"),
            sql_source_schema=get("SALESDW_SQL_SOURCE_SCHEMA") or None,
            sql_source_updated_column=get("SALESDW_SQL_SOURCE_UPDATED_COLUMN"),
            sql_source_lookback_minutes=float(get("SALESDW_SQL_SOURCE_LOOKBACK_MINUTES")),
        )


def _object_list(value: str) -> tuple[str, ...]:
    if value.strip().lower() == "none":
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))


def _count(name: str, get, *, minimum: int) -> int:
    value = get(name)
    try:
        n = int(value)
    except ValueError:
        n = minimum - 1
    if n < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return n


def _stripe_version(value: str) -> str:
    try:
        return stripe_versions.check(value)
    except ValueError as exc:
        raise ValueError(f"SALESDW_STRIPE_API_VERSION: {exc}") from None

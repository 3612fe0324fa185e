"""Resources shared by every asset: the warehouse and the landing zone, configured from settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.settings import Settings, TargetSettings
from ingestion.warehouse import connect

WRITER_POOL = "warehouse_writer"  # DuckDB allows one writing process: every writer joins this pool


def postgres_target() -> TargetSettings | None:
    """SALESDW_TARGET=postgres and its DSNs, or None for the DuckDB default.

    Read when a step runs, like Settings.from_env() in the steps, and deliberately not resource config: the
    DSN carries a password, and resource config is shown in the Dagster UI. With Postgres, the raw loads
    still run in the DuckDB file above (the landing and validation engine) and each raw asset replicates
    what it loaded; dbt, the model gates and publish work in Postgres.
    """
    target = TargetSettings.from_env()
    return target if target.target == "postgres" else None


def current_target():
    """TEMPORARY (h/spark): the target of SALESDW_TARGET through target_for, for the Spark branches of the
    steps until they all call the target interface (the lead's rewiring replaces this)."""
    from orchestration.targets import target_for

    return target_for(Settings.from_env(), TargetSettings.from_env())


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the landing zone it loads from."""

    path: str
    landing_dir: str
    threads: int | None = None
    memory_limit: str | None = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.path, read_only=read_only, threads=self.threads, memory_limit=self.memory_limit)
        try:
            yield con
        finally:
            con.close()

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)


def warehouse_from_settings(settings: Settings | None = None) -> WarehouseResource:
    s = settings or Settings.from_env()
    return WarehouseResource(
        path=str(s.warehouse),
        landing_dir=str(s.landing_dir),
        threads=s.duckdb_threads,
        memory_limit=s.duckdb_memory_limit,
    )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"duckdb": warehouse_from_settings()})

"""Resources shared by every asset: the warehouse and the landing zone, configured from settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.settings import Settings
from ingestion.warehouse import connect

WRITER_POOL = "warehouse_writer"  # DuckDB allows one writing process: every writer joins this pool


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

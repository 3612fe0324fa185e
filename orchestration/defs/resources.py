"""Resources shared by every asset, all built from one configuration at the entry point.

An entry point (`salesdw run`, `dagster dev` loading orchestration/definitions.py, a test) reads the
environment once into `Settings`, chooses the warehouse target once (`target_for`), and hands both to the
steps as resources: `settings` (the typed configuration), `target` (what a step asks of the warehouse),
`duckdb` (the landing warehouse file and the landing zone) and `dbt`. Steps read neither the environment
nor the target's name. The target and settings are plain objects, not resource config: the Postgres DSN
and the Spark token they hold must never be shown in the Dagster UI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from ingestion.settings import ConnectorSettings, Settings, TargetSettings
from ingestion.warehouse import connect
from orchestration.targets import Target, target_for

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


def warehouse_from_settings(settings: Settings) -> WarehouseResource:
    return WarehouseResource(
        path=str(settings.warehouse),
        landing_dir=str(settings.landing_dir),
        threads=settings.duckdb_threads,
        memory_limit=settings.duckdb_memory_limit,
    )


def salesdw_resources(settings: Settings, target: Target | None = None) -> dict[str, Any]:
    """Every resource the steps use, from one configuration; ``target`` defaults to SALESDW_TARGET's."""
    from orchestration.defs.dbt.resource import dbt_resource

    target = target or target_for(settings, TargetSettings.from_env())
    return {
        "settings": settings,
        "target": target,
        "duckdb": warehouse_from_settings(settings),
        "dbt": dbt_resource(target),
        # the connectors' endpoints and credentials (secrets are kept out of its repr)
        "connectors": ConnectorSettings.from_env(),
    }

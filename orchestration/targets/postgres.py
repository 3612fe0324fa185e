"""Postgres: raw replicated from the DuckDB landing engine, dbt and the model gates in Postgres, marts
published to a serving database for the NOLOGIN role `salesdw_bi` (docs/targets.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ingestion.contract import SourceObject
from ingestion.targets import postgres as pg
from orchestration.targets.base import PublishOutcome, Target


@dataclass(frozen=True)
class PostgresTarget(Target):
    warehouse: Path  # the DuckDB landing engine's file
    dsn: str = field(repr=False)
    marts_dsn: str | None = field(default=None, repr=False)

    name = "postgres"
    dbt_target = "postgres"
    # expectations/report.py profiles the DuckDB warehouse and serving file; a report from the landing file
    # alone would call unchecked marts trustworthy.
    report_unavailable = "the data-quality report reads DuckDB only (SALESDW_TARGET=postgres)"
    bi_access = f"read-only for role {pg.BI_ROLE}"

    @property
    def serving_dsn(self) -> str:
        return pg.marts_dsn(self.dsn, self.marts_dsn)

    def dbt_env(self) -> dict[str, str]:
        return pg.dbt_env(self.dsn)

    def after_raw_load(
        self, con: duckdb.DuckDBPyConnection, objects: Iterable[SourceObject]
    ) -> dict[str, Any]:
        report = pg.replicate_raw(con, self.dsn, objects=list(objects))
        return {
            "rows_replicated": report.rows_copied,
            "replicated_to": pg.masked(self.dsn),
            "replication": {t.table: [t.mode, t.rows_copied] for t in report.tables},
            "log": f"{report.summary()} ({pg.masked(self.dsn)})",
        }

    def suite_source(self, layer: str) -> str:
        return str(self.warehouse) if layer == "raw" else pg.sqlalchemy_url(self.dsn)

    def publish(self, run_id: str, tables: list[str]) -> PublishOutcome:
        result = pg.publish(self.dsn, self.serving_dsn, run_id, tables=tables)
        return PublishOutcome(
            result.target,  # the serving database, password masked
            result.tables,
            sorted(result.tables),
            note=f" (schema marts, role {pg.BI_ROLE})",
            metadata={"bi_role": pg.BI_ROLE},
        )

    def published_info(self) -> dict | None:
        return pg.published_info(self.serving_dsn)

    @property
    def serving_location(self) -> str:
        return pg.masked(self.serving_dsn)

    def raw_copy_line(self, rows: int) -> str | None:
        return f"replicated {rows:,} rows into the Postgres raw layer ({pg.masked(self.dsn)})"

    def describe(self) -> list[tuple[str, str]]:
        return [
            ("warehouse", f"{pg.masked(self.dsn)} (raw replica, staging, intermediate, marts)"),
            ("loads", f"{self.warehouse} (DuckDB landing and validation engine, raw gates)"),
        ]

"""Spark: raw and audit as Parquet in a lake registered in Spark's catalog, dbt and the model gates on a Spark
Thrift Server, the audited marts published as a versioned Parquet set (docs/targets.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ingestion.contract import SourceObject
from ingestion.settings import SparkSettings
from ingestion.targets import spark as sp
from orchestration.targets.base import PublishOutcome, Target


@dataclass(frozen=True)
class SparkTarget(Target):
    warehouse: Path  # the DuckDB landing engine's file
    marts: (
        Path  # the DuckDB serving file: views over the published Parquet set, for BI tools that speak DuckDB
    )
    spark: SparkSettings

    name = "spark"
    dbt_target = "spark"
    report_unavailable = "the data-quality report reads DuckDB only (SALESDW_TARGET=spark)"

    @property
    def endpoint(self) -> sp.Endpoint:
        return sp.endpoint(self.spark)

    def ensure_running(self) -> sp.Endpoint:
        """The Thrift Server every client of this target uses; a local one is started when not running."""
        return sp.ensure_running(self.spark)

    @contextmanager
    def session(self) -> Iterator[None]:
        """For one `salesdw run`: the local server it starts is stopped afterwards (one already running, e.g.
        for `dagster dev`, is left as it was)."""
        server = sp.local_server(self.spark)
        started_here = server is not None and server.running() is None
        try:
            yield
        finally:
            if started_here:
                server.stop()

    def dbt_env(self) -> dict[str, str]:
        return sp.dbt_env(self.endpoint)

    def after_raw_load(
        self, con: duckdb.DuckDBPyConnection, objects: Iterable[SourceObject]
    ) -> dict[str, Any]:
        report = sp.replicate_raw(con, self.ensure_running(), self.spark.lake_dir, objects=list(objects))
        return {
            "rows_replicated": report.rows_written,
            "replicated_to": self.spark.lake_dir,
            "replication": {t.table: [t.mode, t.rows_written] for t in report.tables},
            "log": f"{report.summary()} ({self.spark.lake_dir}, {self.endpoint.masked()})",
        }

    def suite_source(self, layer: str) -> str:
        if layer == "raw":
            return str(self.warehouse)
        return sp.sqlalchemy_url(self.ensure_running())

    def publish(self, run_id: str, tables: list[str]) -> PublishOutcome:
        result = sp.publish(self.ensure_running(), self.spark.lake_dir, self.marts, run_id, tables)
        return PublishOutcome(result.location, result.tables, sorted(result.tables))

    def published_info(self) -> dict | None:
        return sp.published_info(self.spark.lake_dir)

    @property
    def serving_location(self) -> str:
        return f"{sp.lake_uri(self.spark.lake_dir, sp.PUBLISHED)} (DuckDB views: {self.marts})"

    def raw_copy_line(self, rows: int) -> str | None:
        return f"wrote {rows:,} rows as Parquet into the lake's raw layer"

    def describe(self) -> list[tuple[str, str]]:
        return [
            ("warehouse", f"{self.endpoint.masked()} (staging, intermediate, marts)"),
            ("lake", f"{self.spark.lake_dir} (raw, audit, published marts as Parquet)"),
            ("loads", f"{self.warehouse} (DuckDB landing and validation engine, raw gates)"),
        ]

"""DuckDB, the embedded default: dbt builds in the warehouse file, BI reads a read-only copy of the marts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestration.targets.base import PublishOutcome, Target


@dataclass(frozen=True)
class DuckDBTarget(Target):
    warehouse: Path
    marts: Path

    name = "duckdb"
    records_success = True

    def suite_source(self, layer: str) -> str:
        return str(self.warehouse)

    def publish(self, run_id: str, tables: list[str]) -> PublishOutcome:
        from ingestion.publish import publish_marts

        result = publish_marts(self.warehouse, self.marts, run_id=run_id, tables=tables)
        return PublishOutcome(
            str(result.path),
            result.tables,
            result.copied,
            note=f" ({len(result.copied)} copied anew, the others unchanged since the last publish)",
            metadata={"copied": result.copied},
        )

    def published_info(self) -> dict | None:
        from ingestion.publish import published_info

        return published_info(self.marts)

    @property
    def serving_location(self) -> str:
        return str(self.marts)

    def build_report(self, report_dir: Path, run_id: str | None) -> Path | None:
        from expectations.report import build_report

        return build_report(self.warehouse, report_dir, self.marts, run_id)

    def describe(self) -> list[tuple[str, str]]:
        return [("warehouse", str(self.warehouse))]

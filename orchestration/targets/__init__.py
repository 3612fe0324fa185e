"""Warehouse targets, one module each behind `Target` (base.py); `target_for` is the one place that chooses."""

from __future__ import annotations

from ingestion.settings import Settings, TargetSettings
from orchestration.targets.base import PublishOutcome, Target

__all__ = ["PublishOutcome", "Target", "target_for"]


def target_for(settings: Settings, target: TargetSettings) -> Target:
    """The target SALESDW_TARGET names, built from the settings of this entry point."""
    if target.target == "spark":
        from orchestration.targets.spark import SparkTarget

        return SparkTarget(settings.warehouse, settings.marts, target.spark)
    if target.target == "postgres":
        from orchestration.targets.postgres import PostgresTarget

        return PostgresTarget(settings.warehouse, target.postgres_dsn, target.postgres_marts_dsn)
    from orchestration.targets.duckdb import DuckDBTarget

    return DuckDBTarget(settings.warehouse, settings.marts)

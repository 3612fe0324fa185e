"""The interface every warehouse target implements: what a step asks of the warehouse, and nothing else.

The DuckDB loader is the landing engine for every target (its readers, the validation SQL, quarantine and the
load log); a target decides where dbt builds, where the model gates read, where the audited marts are
published for BI, and whether the HTML data-quality report can be built there. Steps call these methods and
never ask which target runs (CONVENTIONS.md, point 9).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from ingestion.contract import SourceObject


@dataclass(frozen=True)
class PublishOutcome:
    """What a publish did: where BI reads now (a path or a masked DSN/URL), each table's rows, and which
    tables were written anew (the others were kept from the previous publish)."""

    location: str
    tables: Mapping[str, int]
    copied: list[str] = field(default_factory=list)
    note: str = ""  # appended to the step's "published N marts to <location>" log line
    metadata: Mapping[str, Any] = field(default_factory=dict)  # target-specific materialisation metadata


class Target(ABC):
    """One warehouse target. Instances are cheap, immutable and built once per entry point from settings."""

    name: ClassVar[str]  # the SALESDW_TARGET value
    # Whether a successful run is recorded so that a later run with nothing new does nothing
    # (orchestration/changes.py): it compares the published DuckDB file, which only this target writes.
    records_success: ClassVar[bool] = False
    dbt_target: ClassVar[str | None] = None  # profiles.yml output; None: the profile's default (DuckDB)

    # --- a run ----------------------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[None]:
        """Around one `salesdw run`: what the target must hold up for its steps and release afterwards
        (Spark: a local Thrift Server the run started). Nothing for DuckDB and Postgres."""
        yield

    def ensure_running(self) -> Any:
        """Before a step that talks to the warehouse (a dbt step): start what it needs (Spark's local
        Thrift Server); a no-op for the others."""
        return None

    # --- dbt ------------------------------------------------------------------------------------------
    def dbt_env(self) -> dict[str, str]:
        """Extra environment for dbt's subprocess (profiles.yml reads it). May carry secrets: never log it."""
        return {}

    # --- raw ------------------------------------------------------------------------------------------
    def after_raw_load(
        self, con: duckdb.DuckDBPyConnection, objects: Iterable[SourceObject]
    ) -> dict[str, Any]:
        """Bring the target's raw and audit layers up to date with what the DuckDB landing engine just
        loaded for ``objects`` (in the same step, so every materialisation of a raw asset carries it).
        Returns metadata for the materialisation; the DuckDB target has nothing to do."""
        return {}

    # --- gates ----------------------------------------------------------------------------------------
    @abstractmethod
    def suite_source(self, layer: str) -> str:
        """Where a GE suite of ``layer`` (raw / staging / intermediate / marts) reads: a DuckDB file path or a
        SQLAlchemy URL. Raw suites always read the DuckDB landing warehouse, where raw is loaded."""

    # --- publish --------------------------------------------------------------------------------------
    @abstractmethod
    def publish(self, run_id: str, tables: list[str]) -> PublishOutcome:
        """Make the audited marts ``tables`` what BI reads, atomically: readers see the old or the new set."""

    @abstractmethod
    def published_info(self) -> dict | None:
        """What BI reads now: {run_id, published_at, tables, ...}, or None when nothing was published yet."""

    @property
    @abstractmethod
    def serving_location(self) -> str:
        """Where BI reads, for messages (passwords masked)."""

    bi_access: ClassVar[str] = "read-only"  # how BI may read the published marts, for the run summary

    # --- report ---------------------------------------------------------------------------------------
    def build_report(self, report_dir: Path, run_id: str | None) -> Path | None:
        """(Re)build the HTML data-quality report; None when this target cannot (``report_unavailable`` says
        why), in which case the gate results are still kept as JSON under ``report_dir``."""
        return None

    report_unavailable: ClassVar[str] = ""

    # --- the run summary ------------------------------------------------------------------------------
    @abstractmethod
    def describe(self) -> list[tuple[str, str]]:
        """(label, where) lines for the run summary: the warehouse, where loads run, where BI reads. No secrets."""

    def raw_copy_line(self, rows: int) -> str | None:
        """The run summary's line on what ``after_raw_load`` copied (``rows`` in all), or None: nothing to copy."""
        return None

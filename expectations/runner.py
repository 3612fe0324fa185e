"""Run a suite against the DuckDB warehouse with Great Expectations 1.x and report it per expectation.

``validate(warehouse_path, suite)`` opens the warehouse read-only through the buffered dialect
(``expectations.engine``), validates the whole table (or the suite's query) in an ephemeral GE
context, and returns a ``SuiteResult``: for each expectation its severity, counts, a sample of the
bad rows, any exception GE caught (reported as a failure, never as a pass) and GE's own result JSON
(the merged suite result is what Data Docs renders).

GE result formats, chosen for exact counts, whole-row samples and as few table scans as possible:
column-map expectations run with ``BASIC`` and no sample values (counts, bundled into one aggregate
query), then those that found bad rows run again with ``SUMMARY`` + ``include_unexpected_rows`` (GE
adds ``LIMIT <sample size>`` to each row query; ``COMPLETE`` would fetch *every* bad row of a 10M-row
table); unexpected-rows queries run with ``COMPLETE`` (their ``SUMMARY`` result holds only the count;
GE caps the rows at 200).
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
    Expectation,
    MulticolumnMapExpectation,
)
from great_expectations.validator.validation_statistics import calc_validation_statistics

from expectations.engine import held_open, warehouse_url
from expectations.sources_in_use import not_in_use_reason, sources_in_use
from expectations.suites import CRITICAL, WARNING, Suite, severity_of

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_SIZE = 20
MAX_SAMPLE_SIZE = 200  # GE fetches at most this many rows per query (great_expectations.constants)
_MAP_TYPES = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)


@dataclass
class ExpectationResult:
    name: str  # unique within the suite, e.g. "StageName: not be null"
    type: str  # GE expectation type, e.g. "expect_column_values_to_not_be_null"
    column: str | None
    severity: str  # "critical" | "warning"
    description: str
    success: bool
    element_count: int | None = None  # rows validated (None for unexpected-rows queries)
    unexpected_count: int | None = None  # bad rows
    unexpected_percent: float | None = None
    observed_value: Any = None  # aggregate expectations (e.g. a row count)
    # Up to sample_size bad rows as dicts of JSON-safe values: the whole row for column rules
    # (so the key is always there), the selected columns for unexpected-rows queries.
    sample: list[dict[str, Any]] = field(default_factory=list)
    unexpected_query: str | None = None  # SQL listing every bad row (key + value); set when some were found
    exception: str | None = None  # GE raised: the message; the expectation counts as failed
    ge_result: dict[str, Any] = field(default_factory=dict)  # ExpectationValidationResult JSON
    # Not evaluated, and why: a source it needs is not in use (expectations.sources_in_use). Counts as
    # neither passed nor failed.
    skipped: str | None = None

    @property
    def blocking(self) -> bool:
        return not self.success and self.severity == CRITICAL

    def summary(self) -> str:
        if self.skipped:
            return f"SKIP {self.name}: {self.skipped}"
        if self.success:
            return f"OK   {self.name}"
        if self.exception:
            what = f"error: {self.exception.splitlines()[0][:300]}"
        elif self.unexpected_count is not None:
            of = f" of {self.element_count}" if self.element_count is not None else ""
            what = f"{self.unexpected_count}{of} rows"
        else:
            what = f"observed {self.observed_value!r}"
        return f"{self.severity.upper():8} {self.name}: {what}. {self.description}"


@dataclass
class SuiteResult:
    suite: str
    results: list[ExpectationResult]
    validation_result: dict[str, Any]  # ExpectationSuiteValidationResult JSON, for Data Docs
    duration_seconds: float
    error: str | None = None  # the batch could not be read at all (every expectation failed with it)

    @property
    def passed(self) -> bool:
        """No critical expectation failed (warnings do not block)."""
        return not self.critical_failures

    @property
    def critical_failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success and r.severity == CRITICAL]

    @property
    def warnings(self) -> list[ExpectationResult]:
        """Failed warning-level expectations."""
        return [r for r in self.results if not r.success and r.severity == WARNING]

    @property
    def failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success]

    @property
    def skipped(self) -> list[ExpectationResult]:
        return [r for r in self.results if r.skipped]

    def summary(self) -> str:
        head = (
            f"{self.suite}: {'passed' if self.passed else 'FAILED'} "
            f"({len(self.results) - len(self.failures) - len(self.skipped)}/"
            f"{len(self.results) - len(self.skipped)} expectations met, "
            f"{len(self.critical_failures)} critical, {len(self.warnings)} warnings, "
            f"{len(self.skipped)} skipped, {self.duration_seconds:.1f}s)"
        )
        return "\n".join([head, *("  " + r.summary() for r in self.failures)])


def validate(
    warehouse_path: Path | str,
    suite: Suite,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    read_only: bool = True,
) -> SuiteResult:
    """Validate ``suite`` against the warehouse file; no connection stays open afterwards.

    Never raises for a data or database problem: an expectation GE could not evaluate, or a batch
    that could not be read (missing table, locked file), is a failed expectation with its message.

    An expectation that needs a source not in use (``Suite.sources_needed``; what is in use is read from
    the warehouse's load log) is not evaluated: its result says ``skipped`` and why.
    """
    if not 1 <= sample_size <= MAX_SAMPLE_SIZE:
        raise ValueError(f"sample_size must be between 1 and {MAX_SAMPLE_SIZE}")
    started = time.perf_counter()
    by_name = {Suite.expectation_name(e): e for e in suite.expectations}
    ge_results: dict[str, ExpectationValidationResult] = {}
    meta: dict[str, Any] = {}
    error: str | None = None
    skipped: dict[str, str] = {}
    try:
        # A SQLAlchemy URL (the Postgres target) needs no DuckDB file held open.
        opened = nullcontext() if _is_url(warehouse_path) else held_open(warehouse_path, read_only=read_only)
        with opened as engine:
            skipped = _skipped(suite, by_name, engine or warehouse_path)
            to_run = {n: e for n, e in by_name.items() if n not in skipped}
            if to_run:
                meta = _run_ge(warehouse_path, suite, to_run, sample_size, read_only, ge_results)
    except Exception as exc:  # the batch itself failed (missing table, locked file, bad SQL)
        log.warning("validating %s failed: %s", suite.name, exc)
        error = f"{type(exc).__name__}: {exc}"

    results = [
        _blank_result(name, e, success=True, skipped=skipped[name])
        if name in skipped
        else _result(name, e, ge_results.get(name), sample_size, error)
        for name, e in by_name.items()
    ]
    ordered = [ge_results[n] for n in by_name if n in ge_results]
    stats = calc_validation_statistics(ordered)
    validation = ExpectationSuiteValidationResult(
        success=stats.success and len(ordered) == len(by_name) - len(skipped),
        results=ordered,
        suite_name=suite.name,
        statistics={k: v for k, v in stats._asdict().items() if k != "success"},
        meta=meta,
    )
    return SuiteResult(
        suite=suite.name,
        results=results,
        validation_result=validation.to_json_dict(),
        duration_seconds=time.perf_counter() - started,
        error=error,
    )


def _register_dialect(target: Path | str) -> None:
    """The Spark target's URL scheme is registered when first used (it imports PyHive)."""
    if str(target).startswith("spark+salesdw://"):
        import expectations.engine_spark  # noqa: F401 - registers the scheme


def _skipped(suite: Suite, by_name: dict[str, Expectation], engine_or_url: Any) -> dict[str, str]:
    """Expectation name -> why it is skipped, for the rules that need a source not in use."""
    if not any(suite.sources_needed(e) for e in by_name.values()):
        return {}
    engine = engine_or_url
    if isinstance(engine_or_url, str):  # Postgres or Spark: their audit.load_log is the replicated one
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        _register_dialect(engine_or_url)
        engine = sa.create_engine(engine_or_url, poolclass=NullPool)
    try:
        with engine.connect() as con:
            in_use = sources_in_use(con)
    finally:
        if engine is not engine_or_url:
            engine.dispose()
    reasons = {n: not_in_use_reason(suite.sources_needed(e), in_use) for n, e in by_name.items()}
    return {n: r for n, r in reasons.items() if r}


def _is_url(target: Path | str) -> bool:
    """A SQLAlchemy URL (e.g. postgresql+psycopg2://…, SALESDW_TARGET=postgres) rather than a DuckDB file."""
    return isinstance(target, str) and "://" in target


def _run_ge(
    warehouse_path: Path | str,
    suite: Suite,
    by_name: dict[str, Expectation],
    sample_size: int,
    read_only: bool,
    into: dict[str, ExpectationValidationResult],
) -> dict[str, Any]:
    """Validate in an ephemeral GE context; fills ``into`` by expectation name, returns GE's run meta."""
    _register_dialect(warehouse_path)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_sql(
        name="warehouse",
        connection_string=str(warehouse_path)
        if _is_url(warehouse_path)
        else warehouse_url(warehouse_path, read_only=read_only).render_as_string(False),
    )
    meta: dict[str, Any] = {}
    try:
        if suite.query:
            asset = datasource.add_query_asset(name=suite.table, query=suite.query)
        else:
            with warnings.catch_warnings():
                # GE 1.x deprecates schema_name for "the schema in the connection configuration",
                # which a DuckDB URL cannot carry; the argument still works and keeps the schema
                # in the unexpected-rows queries GE renders.
                warnings.filterwarnings("ignore", "`schema_name` is deprecated", DeprecationWarning)
                asset = datasource.add_table_asset(
                    name=suite.table, table_name=suite.table, schema_name=suite.layer
                )
        batch = asset.add_batch_definition_whole_table("whole_table").get_batch()

        def run(names: list[str], result_format: dict[str, Any]) -> None:
            nonlocal meta
            if not names:
                return
            ge_suite = gx.ExpectationSuite(name=suite.name)
            for n in names:
                copy = by_name[n].copy(deep=True)
                copy.meta = {**(copy.meta or {}), "name": n}  # how results are matched back
                ge_suite.add_expectation(copy)
            validated = batch.validate(ge_suite, result_format=result_format)
            meta = meta or dict(validated.meta)
            for r in validated.results:
                into[r.expectation_config.meta["name"]] = r

        row_rules = [n for n, e in by_name.items() if isinstance(e, UnexpectedRowsExpectation)]
        column_rules = [n for n in by_name if n not in row_rules]
        # Pass 1, every column rule: counts only (one bundled aggregate query). No sample values
        # here: GE asks for them with one LIMIT query per rule, which scans the whole table or view
        # when the rule passes (1-3 s a rule on a raw __current view at scale 10). With zero asked
        # for, the dialect renders LIMIT 0 and DuckDB answers without reading (PostgreSQL stops at
        # a LIMIT 0 too); pass 2 fetches the bad rows of the rules that have some.
        run(column_rules, {"result_format": "BASIC", "partial_unexpected_count": 0})
        # Pass 2, only the rules that found bad rows: the bad rows themselves, with their key, and
        # the query listing them all. Fetching whole rows costs a scan of every column per rule,
        # which a passing rule would pay for nothing (2-3x the run time on a 1M-row view).
        with_bad_rows = [
            n for n in column_rules if n in into and (into[n].result or {}).get("unexpected_count")
        ]
        summary: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": sample_size,
            "include_unexpected_rows": True,
            "return_unexpected_index_query": True,
        }
        if suite.key:
            summary["unexpected_index_column_names"] = list(suite.key)
        run(with_bad_rows, summary)
        run(row_rules, {"result_format": "COMPLETE"})
    finally:
        _dispose(datasource)
    return meta


def _dispose(datasource: Any) -> None:
    """Drop GE's engines (NullPool already closes each connection; this is belt and braces) and what
    the buffered dialect remembered during this validation (row counts, rows kept for GE)."""
    for get in (lambda: datasource.get_engine(), lambda: datasource.get_execution_engine().engine):
        try:
            engine = get()
            engine.dispose()
            getattr(engine.dialect, "forget_results", lambda: None)()
        except Exception:  # pragma: no cover - nothing to release
            pass


def _blank_result(name: str, expectation: Expectation, **outcome: Any) -> ExpectationResult:
    """An expectation's result before GE's answer is read in: who it is, and ``outcome``."""
    return ExpectationResult(
        name=name,
        type=expectation.expectation_type,
        column=getattr(expectation, "column", None),
        severity=severity_of(expectation),
        description=(expectation.meta or {}).get("description") or expectation.description or "",
        **outcome,
    )


def _result(
    name: str,
    expectation: Expectation,
    ge: ExpectationValidationResult | None,
    sample_size: int,
    batch_error: str | None,
) -> ExpectationResult:
    out = _blank_result(name, expectation, success=False)
    if ge is None:
        out.exception = batch_error or "Great Expectations returned no result for this expectation"
        return out
    js = ge.to_json_dict()
    out.ge_result = js
    res: dict[str, Any] = js.get("result") or {}
    out.exception = _exception_message(js.get("exception_info"))
    out.element_count = res.get("element_count")
    out.unexpected_count = res.get("unexpected_count")
    out.unexpected_percent = res.get("unexpected_percent")
    out.observed_value = res.get("observed_value")
    out.unexpected_query = res.get("unexpected_index_query")
    out.success = bool(js.get("success")) and out.exception is None

    if isinstance(expectation, UnexpectedRowsExpectation):
        rows = (res.get("details") or {}).get("unexpected_rows") or []
        out.unexpected_count = out.observed_value
        out.sample = rows[:sample_size]
    else:
        out.sample = (
            res.get("unexpected_rows")
            or res.get("partial_unexpected_index_list")
            or [{"value": v} for v in res.get("partial_unexpected_list") or []]
        )[:sample_size]

    # A map expectation whose counts are missing was not really evaluated (GE calls an empty
    # result "vacuously true"): that is how the duckdb_engine fetch bug looked. Never a silent pass.
    if isinstance(expectation, _MAP_TYPES) and out.unexpected_count is None:
        if out.element_count == 0:  # an empty table: GE's SUM over no rows is NULL
            out.unexpected_count = 0
        elif out.exception is None:
            out.exception = (
                "Great Expectations returned no unexpected_count: the expectation was not evaluated"
            )
            out.success = False
    if out.exception is None and isinstance(expectation, UnexpectedRowsExpectation):
        if not isinstance(out.unexpected_count, int):
            out.exception = "The unexpected-rows query returned no row count"
            out.success = False
        elif out.unexpected_count and not out.sample:
            out.exception = f"The unexpected-rows query counted {out.unexpected_count} rows but returned none"
            out.success = False
    return out


def _exception_message(info: Any) -> str | None:
    """GE reports exceptions as one ExceptionInfo dict, or a dict of them keyed by metric id."""
    messages: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("raised_exception") or node.get("exception_message"):
                messages.append(str(node.get("exception_message") or "exception without a message"))
                return
            for value in node.values():
                walk(value)

    walk(info)
    return "; ".join(dict.fromkeys(messages)) or None

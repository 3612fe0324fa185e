"""`salesdw run` with SALESDW_TARGET=postgres: load, gate, replicate, dbt + gates in Postgres, publish.

The same stages as the Dagster job, in order, as plain calls: files land through the DuckDB loader (the
landing and validation engine) and the raw gates run there; the raw layer is replicated into Postgres;
dbt builds staging + intermediate in Postgres, their gates run in Postgres, then the marts and their
gates; only when no critical expectation failed are the marts published to the serving database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.loader import load_landing
from ingestion.settings import DBT_PROJECT_DIR, Settings, TargetSettings
from ingestion.targets import postgres as pg
from ingestion.warehouse import connect

DBT = str(Path(sys.executable).with_name("dbt"))
# Where a critical gate failure stops the run, and the dbt selection built before it.
STAGES = (
    ("raw", None),
    ("staging", "path:models/staging path:models/intermediate"),
    ("marts", "path:models/marts"),
)


@dataclass
class PostgresRunSummary:
    run_id: str
    warehouse: str  # masked DSN
    serving: str  # masked DSN
    success: bool = True
    seconds: float = 0.0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_replicated: int = 0
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    published: pg.PublishResult | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.success and not self.checks_failed and self.published else 1

    def render(self, settings: Settings | None = None) -> str:
        lines = [
            f"salesdw run {self.run_id[:8]} (target postgres) — {'succeeded' if self.exit_code == 0 else 'FAILED'} "
            f"in {self.seconds:.1f}s",
            f"loaded {self.rows_loaded:,} rows ({self.rows_quarantined:,} quarantined) through the DuckDB loader; "
            f"replicated {self.rows_replicated:,} rows into Postgres",
            f"checks: {self.checks_passed} passed, {len(self.checks_failed)} failed, "
            f"{len(self.checks_warned)} warnings",
            *(f"  FAILED  {c}" for c in self.checks_failed),
            *(f"  warning {c}" for c in self.checks_warned),
            *(f"step failed: {f}" for f in self.failures),
        ]
        if self.published:
            lines.append(
                f"published:   {self.serving} schema marts ({len(self.published.tables)} tables), "
                f"readable by role {pg.BI_ROLE}"
            )
        else:
            lines.append(
                f"NOT PUBLISHED: {self.serving} keeps the marts it had; BI tools keep reading those."
            )
        lines.append(f"warehouse:   {self.warehouse} (raw, audit, staging, intermediate, marts)")
        return "\n".join(lines)


def dbt_build(dsn: str, select: str, settings: Settings) -> subprocess.CompletedProcess:
    env = {**os.environ, **pg.dbt_env(dsn), "SALESDW_WAREHOUSE": str(settings.warehouse)}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    # As in orchestration/defs/dbt/project.py: a test runs with the step that builds all its parents.
    env.setdefault("DBT_INDIRECT_SELECTION", "buildable")
    cmd = [
        DBT, "build", "--target", "postgres", "--select", *select.split(),
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        # Its own target dir: the DuckDB manifest Dagster reads stays untouched.
        "--target-path", "target/postgres",
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True)


def _gate(summary: PostgresRunSummary, layer: str, where: str | Path, settings: Settings, say) -> bool:
    """Run every suite of a layer; False when a critical expectation failed."""
    from expectations.runner import validate
    from expectations.store import save_result
    from expectations.suites import all_suites

    layers = ("staging", "intermediate") if layer == "staging" else (layer,)
    blocked = False
    for name, suite in all_suites().items():
        if name.split(".", 1)[0] not in layers:
            continue
        result = validate(where, suite)
        save_result(settings.report_dir, summary.run_id, result)
        if result.critical_failures:
            blocked = True
            summary.checks_failed += [f"{name}: {r.summary()}" for r in result.critical_failures]
        elif result.warnings:
            summary.checks_warned += [f"{name}: {r.summary()}" for r in result.warnings]
        else:
            summary.checks_passed += 1
    say(f"  gates on {'/'.join(layers)}: {'BLOCKED' if blocked else 'passed'}")
    return not blocked


def run_postgres_pipeline(
    settings: Settings | None = None, target: TargetSettings | None = None, say=print
) -> PostgresRunSummary:
    settings = settings or Settings.from_env()
    target = target or TargetSettings.from_env()
    dsn = target.postgres_dsn
    if target.target != "postgres" or not dsn:
        raise ValueError("run_postgres_pipeline needs SALESDW_TARGET=postgres and SALESDW_POSTGRES_DSN")
    serving = pg.marts_dsn(dsn, target.postgres_marts_dsn)
    summary = PostgresRunSummary(uuid.uuid4().hex, pg.masked(dsn), pg.masked(serving))
    started = time.perf_counter()
    try:
        say(f"loading {settings.landing_dir} into {settings.warehouse} (DuckDB landing engine)…")
        con = connect(
            settings.warehouse, threads=settings.duckdb_threads, memory_limit=settings.duckdb_memory_limit
        )
        try:
            totals = load_landing(con, settings.landing_dir, run_id=summary.run_id).totals()
        finally:
            con.close()
        summary.rows_loaded, summary.rows_quarantined = totals["rows_loaded"], totals["rows_quarantined"]
        for layer, select in STAGES:
            if layer == "raw":
                # Raw gates run where raw was validated; the replica is an exact copy (tests/postgres).
                passed = _gate(summary, "raw", settings.warehouse, settings, say)
                con = connect(settings.warehouse, read_only=True)
                try:
                    report = pg.replicate_raw(con, dsn)
                finally:
                    con.close()
                summary.rows_replicated = report.rows_copied
                say(f"  {report.summary()} ({summary.warehouse})")
            else:
                say(f"dbt build --target postgres --select {select}…")
                proc = dbt_build(dsn, select, settings)
                if proc.returncode != 0:
                    errors = [ln for ln in proc.stdout.splitlines() if "ERROR" in ln or "FAIL" in ln]
                    summary.failures.append(f"dbt build ({layer}): " + "; ".join(errors[:5]))
                    summary.success = False
                    return summary
                passed = _gate(summary, layer, pg.sqlalchemy_url(dsn), settings, say)
            if not passed:
                return summary
        summary.published = pg.publish(dsn, serving, summary.run_id)
        say(f"published {len(summary.published.tables)} tables to {summary.serving}")
        return summary
    except pg.PostgresTargetError as exc:
        summary.failures.append(str(exc))
        summary.success = False
        return summary
    finally:
        summary.seconds = time.perf_counter() - started

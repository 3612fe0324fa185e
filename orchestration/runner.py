"""`salesdw run`: the whole pipeline once, in-process through Dagster, with a summary at the end.

Both warehouse targets run the same job (`full_pipeline`); with SALESDW_TARGET=postgres its steps replicate
raw into Postgres, build and gate the models there and publish to the serving database (docs/targets.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ingestion.loader import check_landing
from ingestion.publish import published_info
from ingestion.settings import PROJECT_ROOT, Settings, TargetSettings
from ingestion.targets import postgres as pg
from ingestion.warehouse import WarehouseLockedError, check_warehouse_path, connect
from orchestration import changes


def landing_is_empty(landing: Path) -> bool:
    return not any(p.is_file() for src in ("crm", "billing", "activity") for p in (landing / src).rglob("*"))


def ensure_demo_data(settings: Settings, say=print) -> bool:
    """Generate the demo dataset into an empty landing zone when SALESDW_DEMO allows it."""
    if settings.demo == "0" or (settings.demo == "auto" and not landing_is_empty(settings.landing_dir)):
        return False
    from ingestion.demo.generator import generate

    say(
        f"generating demo data (scale {settings.demo_scale}, seed {settings.demo_seed}) into {settings.landing_dir}"
    )
    t = time.perf_counter()
    generate(settings.landing_dir, scale=settings.demo_scale, seed=settings.demo_seed)
    say(f"  done in {time.perf_counter() - t:.1f}s")
    return True


def dagster_instance() -> dg.DagsterInstance:
    """A persistent instance under data/ so `make dev` shows the runs `make run` made."""
    if not os.environ.get("DAGSTER_HOME"):
        home = PROJECT_ROOT / "data" / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(home)
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(Path(__file__).parent / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.get()


def _process_started(pid: int) -> str:
    """The kernel's start tick of a process (Linux), '' where unknown: tells a live run from a reused pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _run_tags() -> dict[str, str]:
    pid = os.getpid()
    return {
        "salesdw/host": socket.gethostname(),
        "salesdw/pid": str(pid),
        "salesdw/pid_started": _process_started(pid),
    }


def _alive(tags: Mapping[str, str]) -> bool:
    pid = int(tags["salesdw/pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _process_started(pid) == tags.get("salesdw/pid_started", "")


def release_dead_runs(instance: dg.DagsterInstance, say=print) -> list[str]:
    """A `salesdw run` killed with -9 (OOM killer, power loss) stays STARTED in Dagster and keeps its
    warehouse_writer pool slot, so every later run would wait for it forever: on this host, mark runs
    whose process is gone as failed and free their slots."""
    released = []
    statuses = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
    for run in instance.get_runs(dg.RunsFilter(statuses=statuses)):
        tags = run.tags
        if tags.get("salesdw/host") != socket.gethostname() or "salesdw/pid" not in tags or _alive(tags):
            continue
        instance.report_run_failed(run, f"process {tags['salesdw/pid']} died before the run finished")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(
            f"run {run.run_id[:8]} was interrupted (its process is gone): marked failed, its warehouse slot freed"
        )
        released.append(run.run_id)
    return released


@dataclass
class RunSummary:
    run_id: str
    success: bool
    seconds: float
    tables: list[tuple[str, int, int, int]] = field(
        default_factory=list
    )  # table, current, loaded, quarantined
    refused: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # landing-zone entries not loaded, with the reason
    failures: list[str] = field(default_factory=list)
    published: bool = False
    serving: dict | None = None  # what the serving file holds after this run
    report: Path | None = None
    # The report's verdict on this run (summary.json "verdict", expectations/report_verdict.py): the one
    # count of failures and warnings, the same the report's headline says. None when it could not be made.
    verdict: dict | None = None
    # SALESDW_TARGET=postgres: the Postgres warehouse and serving database (passwords masked)
    postgres: str | None = None
    postgres_serving: str | None = None
    rows_replicated: int = 0
    # TEMPORARY (h/spark): SALESDW_TARGET=spark, (label, where) lines from Target.describe()
    spark: list[tuple[str, str]] | None = None
    spark_serving: str | None = None

    @property
    def checks_passed(self) -> int:
        return (self.verdict or {}).get("checks_passed", 0)

    @property
    def checks_failed(self) -> list[str]:
        return self._findings("blocked")

    @property
    def checks_warned(self) -> list[str]:
        return self._findings("warning")

    @property
    def report_headline(self) -> str:
        return (self.verdict or {}).get("headline", "")

    def _findings(self, level: str) -> list[str]:
        found = [f for f in (self.verdict or {}).get("findings", []) if f["level"] == level]
        return [f["check"] + (f" ({f['count']:,})" if f.get("count") is not None else "") for f in found]

    def recorded(self) -> dict:
        """What a later run with nothing new shows again (orchestration/changes.py)."""
        return {
            "tables": [(t, cur) for t, cur, _, _ in self.tables],
            "verdict": self.report_headline,
            "refused": self.refused,
            "ignored": self.ignored,
        }

    @property
    def exit_code(self) -> int:
        return 0 if self.success and not self.checks_failed else 1

    def render(self, settings: Settings) -> str:
        lines = [
            f"salesdw run {self.run_id[:8]} — {'succeeded' if self.exit_code == 0 else 'FAILED'} "
            f"in {self.seconds:.1f}s",
            "",
        ]
        lines.append(f"{'raw table':<36}{'current rows':>14}{'loaded now':>12}{'quarantined':>13}")
        for t, cur, loaded, quar in self.tables:
            lines.append(f"{t:<36}{cur:>14,}{loaded:>12,}{quar:>13,}")
        tot = [sum(x[i] for x in self.tables) for i in (1, 2, 3)]
        lines.append(f"{'total':<36}{tot[0]:>14,}{tot[1]:>12,}{tot[2]:>13,}")
        if self.postgres:
            lines.append(
                f"replicated {self.rows_replicated:,} rows into the Postgres raw layer ({self.postgres})"
            )
        if self.spark:
            lines.append(f"wrote {self.rows_replicated:,} rows as Parquet into the lake's raw layer")
        lines.append("")
        if self.verdict:
            lines.append(f"verdict: {self.verdict['headline']} ({self.verdict['counts_line']})")
        else:
            lines.append("verdict: unknown (the data-quality checks could not be read; see above)")
        lines += [f"  FAILED  {c}" for c in self.checks_failed]
        lines += [f"  warning {c}" for c in self.checks_warned]
        if self.refused:
            lines.append(f"refused files ({len(self.refused)}): fix and re-deliver them under a new name")
            lines += [f"  {m}" for m in self.refused]
        if self.ignored:
            lines.append(
                f"ignored in the landing zone ({len(self.ignored)}): not loaded; move or rename what should load"
            )
            lines += [f"  {m}" for m in self.ignored]
        lines += [f"step failed: {f}" for f in self.failures]
        lines.append("")
        serving = self.postgres_serving or self.spark_serving or settings.marts
        if self.published and self.serving:
            lines.append(
                f"published:   {serving} (schema marts, {len(self.serving['tables'])} tables, read-only"
                + (f" for role {pg.BI_ROLE})" if self.postgres else ")")
            )
        elif self.published:  # published, but the serving side could not be read back afterwards
            lines.append(f"published:   {serving} (schema marts)")
        elif self.serving:
            lines.append(
                f"NOT PUBLISHED: {serving} still holds the marts of run {self.serving['run_id'][:8]} "
                f"published {self.serving['published_at']:%Y-%m-%d %H:%M} UTC; BI tools keep reading those."
            )
        else:
            lines.append(f"NOT PUBLISHED: nothing has been published to {serving} yet.")
        if self.report:
            lines.append(f"report:      {self.report}")
        elif self.postgres or self.spark:
            lines.append(
                f"report:      none (the data-quality report reads DuckDB only); gate results: {settings.report_dir}"
            )
        if self.spark:
            lines += [f"{label + ':':<13}{where}" for label, where in self.spark]
        elif self.postgres:
            lines.append(f"warehouse:   {self.postgres} (raw replica, staging, intermediate, marts)")
            lines.append(
                f"loads:       {settings.warehouse} (DuckDB landing and validation engine, raw gates)"
            )
        else:
            lines.append(f"warehouse:   {settings.warehouse}")
        lines.append(f"landing:     {settings.landing_dir}")
        lines.append("quarantine:  audit.quarantine in the warehouse (load log: audit.load_log)")
        return "\n".join(lines)


def write_report(settings: Settings, run_id: str | None, say=print) -> tuple[Path | None, str]:
    """Rebuild the data-quality report; a report failure is reported, never fatal to the run."""
    index, verdict = report_verdict(settings, run_id, say)
    return index, (verdict or {}).get("headline", "")


def report_verdict(
    settings: Settings, run_id: str | None, say=print, *, html: bool = True
) -> tuple[Path | None, dict | None]:
    """The report (``html``) and its verdict on the run: the one count of failures and warnings.

    Without ``html`` (the Postgres target, whose marts the DuckDB report cannot read) only the verdict is
    made, from the same stored check results, dbt results and load log.
    """
    import json

    from expectations.report import build_report, collect_summary

    try:
        if not html:
            return None, collect_summary(settings.warehouse, settings.report_dir, None, run_id)["verdict"]
        index = build_report(settings.warehouse, settings.report_dir, settings.marts, run_id)
    except Exception as exc:  # the run's outcome stands; say why the report is missing
        say(f"the data-quality report could not be built: {type(exc).__name__}: {exc}")
        return None, None
    return index, json.loads((settings.report_dir / "summary.json").read_text())["verdict"]


def _postgres_outcome(summary: RunSummary, target: TargetSettings, result, say) -> None:
    """The Postgres side of the summary: replicated rows, what the serving database holds now."""
    serving = pg.marts_dsn(target.postgres_dsn, target.postgres_marts_dsn)
    summary.postgres, summary.postgres_serving = pg.masked(target.postgres_dsn), pg.masked(serving)
    for ev in result.get_asset_materialization_events():
        replicated = ev.materialization.metadata.get("rows_replicated")
        if replicated is not None:
            summary.rows_replicated += int(replicated.value)
    try:
        summary.serving = pg.published_info(serving)
    except pg.PostgresTargetError as exc:  # e.g. the serving database does not exist yet
        say(f"could not read what the serving database holds: {exc}")
    # expectations/report.py profiles the DuckDB warehouse and serving file; it has no Postgres reader yet.
    say("the data-quality report is built for the DuckDB target only; the gate results are saved as JSON")


def _spark_outcome(summary: RunSummary, target, result) -> None:
    """TEMPORARY (h/spark): the Spark side of the summary: rows written to the lake, what is published."""
    summary.spark, summary.spark_serving = target.describe(), target.serving_location
    for ev in result.get_asset_materialization_events():
        written = ev.materialization.metadata.get("rows_replicated")
        if written is not None:
            summary.rows_replicated += int(written.value)
    summary.serving = target.published_info()


def _current_rows_counted(result) -> dict[str, int]:
    """raw table -> `current_rows` of its materialisation in this run (orchestration/defs/raw/assets.py)."""
    counted = {}
    for ev in result.get_asset_materialization_events():
        path = ev.asset_key.path
        value = ev.materialization.metadata.get("current_rows")
        if len(path) == 2 and path[0] == "raw" and value is not None:
            counted[path[1]] = int(value.value)
    return counted


def run_pipeline(settings: Settings | None = None, say=print) -> RunSummary:
    settings = settings or Settings.from_env()
    # A warehouse path that is not a DuckDB file, or a missing landing zone nobody fills with demo data,
    # stop here, before any step runs (check_* raise with the path, the cause and what to do).
    check_warehouse_path(settings.warehouse)
    if settings.demo == "0" or settings.landing_dir.exists():
        check_landing(settings.landing_dir)
    # Assets and resources read their configuration from the environment; make ours the one they see.
    os.environ["SALESDW_LANDING_DIR"] = str(settings.landing_dir)
    os.environ["SALESDW_WAREHOUSE"] = str(settings.warehouse)
    os.environ["SALESDW_REPORT_DIR"] = str(settings.report_dir)
    os.environ["SALESDW_MARTS"] = str(settings.marts)
    target = TargetSettings.from_env()  # a bad SALESDW_TARGET / missing DSN stops here, before any work
    ensure_demo_data(settings, say)
    inputs = changes.fingerprint(settings)  # what this run builds from, recorded if it succeeds
    changes.forget_record(settings)

    from orchestration.definitions import defs as lazy_defs

    defs = lazy_defs()
    from orchestration.progress import failure_message, progress_logger

    job = defs.resolve_job_def("full_pipeline").with_logger_defs({"progress": progress_logger})
    logging.getLogger("dagster").setLevel(logging.WARNING)
    started = time.perf_counter()
    say(
        "running the pipeline through Dagster (job full_pipeline"
        + (f", target {target.target})…" if target.target != "duckdb" else ")…")
    )
    instance = dagster_instance()
    release_dead_runs(instance, say)
    from contextlib import nullcontext

    from orchestration.sqlite_events import faster_event_storage
    from orchestration.targets import target_for

    # TEMPORARY (h/spark): Target.session() around the run (Spark stops the local server the run started)
    session = target_for(settings, target).session() if target.target == "spark" else nullcontext()
    with session, faster_event_storage(Path(os.environ["DAGSTER_HOME"])):
        result = job.execute_in_process(
            run_config={"loggers": {"progress": {}}},
            instance=instance,
            raise_on_error=False,
            tags=_run_tags(),
        )
    summary = RunSummary(result.run_id, result.success, time.perf_counter() - started)

    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            summary.failures.append(f"{ev.step_key}: {failure_message(ev)}")

    summary.published = any(
        e.asset_key == dg.AssetKey(["publish", "marts"]) for e in result.get_asset_materialization_events()
    )
    if target.target == "spark":  # TEMPORARY (h/spark)
        _spark_outcome(summary, target_for(settings, target), result)
        summary.verdict = report_verdict(settings, result.run_id, say, html=False)[1]
    elif target.target == "postgres":
        _postgres_outcome(summary, target, result, say)
        summary.verdict = report_verdict(settings, result.run_id, say, html=False)[1]
    else:
        summary.serving = published_info(settings.marts)
        summary.report, summary.verdict = report_verdict(settings, result.run_id, say)

    try:
        con = connect(settings.warehouse, read_only=True)
    except WarehouseLockedError as exc:
        summary.failures.append(f"could not read the load summary: {exc}")
        return summary
    with con:
        from ingestion.contract import OBJECTS

        per_run = dict(
            (
                (t, (loaded, quar))
                for t, loaded, quar in con.execute(
                    "SELECT raw_table, sum(rows_loaded), sum(rows_quarantined) FROM audit.load_log "
                    "WHERE run_id = ? GROUP BY 1",
                    [result.run_id],
                ).fetchall()
            )
        )
        # Each raw asset of this run counted its latest versions right after loading (nothing else writes
        # raw within the run); count again only the objects whose load did not run or failed. A count over
        # a __current view deduplicates the whole raw table (0.4 s for all objects at scale 1, linear in rows).
        counted = _current_rows_counted(result)
        for obj in OBJECTS:
            cur = counted.get(obj.table)
            if cur is None:
                cur = con.execute(f'SELECT count(*) FROM raw."{obj.table}__current"').fetchone()[0]
            loaded, quar = per_run.get(obj.table, (0, 0))
            summary.tables.append((f"raw.{obj.table}", cur, int(loaded or 0), int(quar or 0)))
        for status, message in con.execute(
            "SELECT status, message FROM audit.load_log WHERE run_id = ? AND status IN ('refused', 'ignored') "
            "ORDER BY file",
            [result.run_id],
        ).fetchall():
            (summary.refused if status == "refused" else summary.ignored).append(message)
    if summary.exit_code == 0 and target.target == "duckdb":
        changes.record_success(settings, summary.run_id, inputs, summary.recorded())
    return summary

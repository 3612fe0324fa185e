"""`salesdw run`: the whole pipeline once, in-process through Dagster, with a summary at the end.

Every warehouse target runs the same job (`full_pipeline`) with the resources of one configuration: the
settings given, and the target SALESDW_TARGET chooses, read once here (docs/targets.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ingestion.loader import check_landing
from ingestion.settings import PROJECT_ROOT, Settings, TargetSettings
from ingestion.warehouse import (
    WarehouseLockedError,
    check_catalog_name,
    check_warehouse_path,
    connect,
    current_rows_sql,
)
from orchestration import changes
from orchestration.selection import (
    COMPARED_STEPS,
    PART_OF_RUN_TAG,
    PHASE_TAG,
    PUBLISH_KEY,
    RunPlan,
    Selection,
    build_selection,
    compared_after,
    load_selection,
    plan_run,
    step_selection,
)
from orchestration.targets import Target, target_for


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


def dagster_home(home: Path | None = None) -> Path:
    """``home``, else DAGSTER_HOME, else data/dagster: a persistent instance so `make dev` shows the runs
    `make run` made."""
    home = Path(home or os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / "data" / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(Path(__file__).parent / "dagster.yaml", home / "dagster.yaml")
    return home


def dagster_instance(home: Path | None = None) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home or dagster_home()))


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


REASON_CHARS = 300  # of a failed check's reason in the summary


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
    # From the target (no secrets): (label, where) lines, where BI reads, how, and the raw copy it made
    where: list[tuple[str, str]] = field(default_factory=list)
    serving_location: str = ""
    bi_access: str = "read-only"
    report_unavailable: str = ""
    rows_replicated: int = 0
    raw_copy: str | None = None
    # "full run: <why>" or "delta run: <which raw tables received rows, how many models it built>"
    plan: str = ""
    # a delta run whose new files added no rows: nothing to build or publish, BI reads what it read
    nothing_to_build: bool = False

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

    def _found(self, level: str) -> list[dict]:
        return [f for f in (self.verdict or {}).get("findings", []) if f["level"] == level]

    def _findings(self, level: str) -> list[str]:
        return [
            f["check"] + (f" ({f['count']:,})" if f.get("count") is not None else "")
            for f in self._found(level)
        ]

    def _reasons(self, level: str) -> list[str]:
        """Each finding's sentence on one line, cut at REASON_CHARS (a dbt error can run to pages; the report
        and dbt's log have it whole)."""
        out = []
        for f in self._found(level):
            text = " ".join(f["text"].split())
            out.append(text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…")
        return out

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
            *([self.plan] if self.plan else []),
            "",
        ]
        lines.append(f"{'raw table':<36}{'current rows':>14}{'loaded now':>12}{'quarantined':>13}")
        for t, cur, loaded, quar in self.tables:
            lines.append(f"{t:<36}{cur:>14,}{loaded:>12,}{quar:>13,}")
        tot = [sum(x[i] for x in self.tables) for i in (1, 2, 3)]
        lines.append(f"{'total':<36}{tot[0]:>14,}{tot[1]:>12,}{tot[2]:>13,}")
        if self.raw_copy:
            lines.append(self.raw_copy)
        lines.append("")
        if self.verdict:
            lines.append(f"verdict: {self.verdict['headline']} ({self.verdict['counts_line']})")
        else:
            lines.append("verdict: unknown (the data-quality checks could not be read; see above)")
        if self.plan.startswith("delta run") and self.verdict:
            lines.append(
                "  (checks ran on what this run rebuilt; the others count with their last result, "
                "which the report credits to the run that ran them)"
            )
        for check, reason in zip(self.checks_failed, self._reasons("blocked"), strict=True):
            lines += [f"  FAILED  {check}", f"          {reason}"]
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
        serving = self.serving_location or settings.marts
        if self.nothing_to_build and self.serving:
            lines.append(
                f"published:   {serving} unchanged: the marts of run {self.serving['run_id'][:8]} "
                "(no raw table received rows, so nothing was rebuilt)"
            )
        elif self.published and self.serving:
            lines.append(
                f"published:   {serving} (schema marts, {len(self.serving['tables'])} tables, {self.bi_access})"
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
        elif self.report_unavailable:
            lines.append(
                f"report:      none (the data-quality report reads DuckDB only); gate results: {settings.report_dir}"
            )
        lines += [f"{label + ':':<13}{where}" for label, where in self.where]
        lines.append(f"landing:     {settings.landing_dir}")
        lines.append("quarantine:  audit.quarantine in the warehouse (load log: audit.load_log)")
        return "\n".join(lines)


def write_report(settings: Settings, run_id: str | None, say=print) -> tuple[Path | None, str]:
    """Rebuild the data-quality report; a report failure is reported, never fatal to the run."""
    from orchestration.targets.duckdb import DuckDBTarget

    # `salesdw report` reads the DuckDB warehouse and serving files, whichever target the runs used.
    index, verdict = report_verdict(settings, DuckDBTarget(settings.warehouse, settings.marts), run_id, say)
    return index, (verdict or {}).get("headline", "")


def report_verdict(
    settings: Settings, target: Target, run_id: str | None, say=print
) -> tuple[Path | None, dict | None]:
    """The report and its verdict on the run: the one count of failures and warnings.

    Where the target cannot build the HTML report (its marts are not in DuckDB) only the verdict is made,
    from the same stored check results, dbt results and load log.
    """
    import json

    from expectations.report import collect_summary

    try:
        if target.report_unavailable:
            return None, collect_summary(settings.warehouse, settings.report_dir, None, run_id)["verdict"]
        index = target.build_report(settings.report_dir, run_id)
    except Exception as exc:  # the run's outcome stands; say why the report is missing
        say(f"the data-quality report could not be built: {type(exc).__name__}: {exc}")
        return None, None
    return index, json.loads((settings.report_dir / "summary.json").read_text())["verdict"]


def _target_outcome(summary: RunSummary, target: Target, materialized, say) -> None:
    """The target's side of the summary: where it keeps what, what it copied of raw, what BI reads now."""
    summary.where, summary.serving_location = target.describe(), target.serving_location
    summary.bi_access, summary.report_unavailable = target.bi_access, target.report_unavailable
    for ev in materialized:
        copied = ev.materialization.metadata.get("rows_replicated")
        if copied is not None:
            summary.rows_replicated += int(copied.value)
    summary.raw_copy = target.raw_copy_line(summary.rows_replicated)
    try:
        summary.serving = target.published_info()
    except Exception as exc:  # e.g. the serving database does not exist yet
        say(f"could not read what the serving side holds: {exc}")
    if target.report_unavailable:
        say(f"no HTML data-quality report: {target.report_unavailable}; the gate results are saved as JSON")


def _current_rows_counted(materialized) -> dict[str, int]:
    """raw table -> `current_rows` of its materialisation in this run (orchestration/defs/raw/assets.py)."""
    counted = {}
    for ev in materialized:
        path = ev.asset_key.path
        value = ev.materialization.metadata.get("current_rows")
        if len(path) == 2 and path[0] == "raw" and value is not None:
            counted[path[1]] = int(value.value)
    return counted


def _plan(found: changes.Changes | None, target: Target, generated: bool) -> RunPlan:
    if generated:
        return RunPlan(reason="demo data was just generated into the landing zone")
    if not target.records_success:
        return RunPlan(reason=f"the {target.name} target keeps no record of a last successful run")
    return plan_run(found)


def run_pipeline(
    settings: Settings | None = None,
    say=print,
    *,
    home: Path | None = None,
    found: changes.Changes | None = None,
) -> RunSummary:
    """The pipeline through Dagster on ``settings`` (default: the environment's), its runs kept in the
    Dagster instance at ``home`` (default: dagster_home()). ``found``: what changed since the last successful
    run (changes.what_changed); when it is only new files under object folders, the run builds only their
    share (orchestration/selection.py), else, and without it, everything."""
    settings = settings or Settings.from_env()
    # A warehouse path that is not a DuckDB file, or a missing landing zone nobody fills with demo data,
    # stop here, before any step runs (check_* raise with the path, the cause and what to do).
    check_warehouse_path(settings.warehouse)
    check_catalog_name(settings.marts, "SALESDW_MARTS")
    if settings.demo == "0" or settings.landing_dir.exists():
        check_landing(settings.landing_dir)
    # A bad SALESDW_TARGET / missing DSN stops here, before any work. The steps get these settings and this
    # target as resources: nothing below reads the environment again.
    target = target_for(settings, TargetSettings.from_env())
    generated = ensure_demo_data(settings, say)
    inputs = changes.fingerprint(settings)  # what this run builds from, recorded if it succeeds
    plan = _plan(found, target, generated)
    say(plan.headline())
    changes.forget_record(settings)
    from orchestration.defs.dbt import warm

    warm.warm_up()  # dbt's imports (orchestration/defs/dbt/warm.py) run while the loads go on

    from orchestration.definitions import build_definitions

    defs = build_definitions(settings, target)
    job = defs.resolve_job_def("full_pipeline")
    logging.getLogger("dagster").setLevel(logging.WARNING)
    started = time.perf_counter()
    say(
        "running the pipeline through Dagster (job full_pipeline"
        + (f", target {target.name})…" if target.name != "duckdb" else ")…")
    )
    home = dagster_home(home)
    instance = dagster_instance(home)
    release_dead_runs(instance, say)
    from orchestration.sqlite_events import faster_event_storage

    with target.session(), faster_event_storage(home):
        if plan.delta:
            delta = DeltaRun(settings, defs, job, instance, say)
            delta.run(plan)
            # a record a sensor wrote has no figures: those tables are counted again
            recorded = (found.last_run or {}).get("summary") or {}
            phases, plan_line, known = delta.phases, delta.line, dict(recorded.get("tables", []))
        else:
            phases, plan_line, known = [_execute(job, instance)], plan.headline(), {}
    summary = _summarise(
        settings, target, phases, plan_line, time.perf_counter() - started, inputs, say, known
    )
    summary.nothing_to_build = plan.delta and len(phases) == 1 and phases[0].success
    return summary


def _execute(
    job: dg.JobDefinition, instance, selection: Selection | None = None, part_of: str = "", phase=""
):
    """One Dagster run of `job`, or of its subset to `selection`; `part_of`: the run it belongs to."""
    from orchestration.progress import progress_logger

    if selection is not None:
        job = job.get_subset(asset_selection=selection.assets, asset_check_selection=selection.checks)
    tags = (
        _run_tags() | ({PHASE_TAG: phase} if phase else {}) | ({PART_OF_RUN_TAG: part_of} if part_of else {})
    )
    return job.with_logger_defs({"progress": progress_logger}).execute_in_process(
        run_config={"loggers": {"progress": {}}},
        instance=instance,
        raise_on_error=False,
        tags=tags,
    )


@dataclass
class DeltaRun:
    """The phases of a delta run (orchestration/selection.py): load; then, when rows arrived, a phase per
    compared dbt step (two when a value-compared model moved), build."""

    settings: Settings
    defs: dg.Definitions
    job: dg.JobDefinition
    instance: dg.DagsterInstance
    say: object = print
    phases: list = field(default_factory=list)
    line: str = ""

    def run(self, plan: RunPlan) -> None:
        graph = self.defs.resolve_asset_graph()
        job_assets = set(self.job.asset_layer.selected_asset_keys)
        load = self._phase(load_selection(graph, plan.tables), "load")
        self.line = plan.headline()
        if not load.success:
            self._scope(plan, [], built=False)
            self.line = f"delta run: loading raw tables {', '.join(plan.tables)} failed; nothing was built"
            return
        with_rows = tables_with_rows(self.settings, load.run_id)
        self._scope(plan, with_rows, built=False)
        if not with_rows:
            self._said(
                f"delta run: no raw table received rows (new files for {', '.join(plan.tables)}); "
                "nothing to build, nothing to publish"
            )
            return
        self._build(plan, with_rows, graph, job_assets)

    def _build(self, plan: RunPlan, with_rows: list[str], graph, job_assets: set[dg.AssetKey]) -> None:
        """Every phase after the load; each stops the run when it fails. `unchanged`: the compared models a
        phase left as they were, whose readers later phases need not rebuild. A step runs a second phase when
        its first moved a value-compared model that models of the same step read (selection.step_selection)."""
        unchanged: list[dg.AssetKey] = []
        done: set[dg.AssetKey] = set()
        for step in COMPARED_STEPS:
            while (selection := step_selection(graph, with_rows, job_assets, unchanged, done, step)).assets:
                self._scope(plan, with_rows, built=True)
                compared = base_tables(self.settings, compared_after(graph, selection.assets))
                kept = self._compared(selection, step, compared)
                if kept is None:
                    self.line = f"delta run: {step} failed or did not pass its checks; nothing else was built"
                    return
                unchanged += kept
                done |= selection.assets
        build = build_selection(graph, with_rows, job_assets, unchanged, built_before=done)
        models = {k for k in job_assets if k.path[0] not in ("raw", "publish")}
        built = build.models | {k for k in done if k in models}
        self._said(
            f"delta run: raw tables {', '.join(with_rows)} received rows; "
            f"building {len(built)} of {len(models)} models"
            + (f" ({', '.join(sorted(k.path[-1] for k in unchanged))} unchanged)" if unchanged else "")
        )
        self._scope(plan, with_rows, built=bool(built))
        self._phase(build, "build")

    def _compared(
        self, selection: Selection, name: str, compared: list[dg.AssetKey]
    ) -> list[dg.AssetKey] | None:
        """Run a phase; the models of `compared` whose content it left as it was (None: the phase failed)."""
        before = {k: table_content(self.settings, k) for k in compared}
        if not self._phase(selection, name).success:
            return None
        return [k for k in compared if before[k] is not None and table_content(self.settings, k) == before[k]]

    def _scope(self, plan: RunPlan, with_rows: list[str], built: bool) -> None:
        """What the report says of this run: it checked only what it rebuilt (expectations/store.py)."""
        from expectations.store import save_scope

        scope = {"tables_with_new_files": list(plan.tables), "tables_with_rows": with_rows, "built": built}
        save_scope(self.settings.report_dir, self.phases[0].run_id, scope)

    def _phase(self, selection: Selection, name: str):
        part_of = self.phases[0].run_id if self.phases else ""
        result = _execute(self.job, self.instance, selection, part_of, name)
        self.phases.append(result)
        return result

    def _said(self, line: str) -> None:
        self.line = line
        self.say(line)


def tables_with_rows(settings: Settings, run_id: str) -> list[str]:
    """The raw tables the load of `run_id` added rows to (audit.load_log)."""
    with connect(settings.warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT raw_table FROM audit.load_log WHERE run_id = ? AND raw_table IS NOT NULL "
            "GROUP BY 1 HAVING sum(rows_loaded) > 0 ORDER BY 1",
            [run_id],
        ).fetchall()
    return [r[0] for r in rows]


def base_tables(settings: Settings, keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """The models of `keys` stored as tables in the warehouse, sorted. Only a table has a "before": a view is a
    query over raw, which already shows the new rows before its phase rebuilds it, so it would always compare
    unchanged (docs/orchestration.md)."""
    keys = sorted(keys, key=lambda k: k.path)
    if not keys:
        return []
    with connect(settings.warehouse, read_only=True) as con:
        tables = set(
            con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        )
    return [k for k in keys if (k.path[0], k.path[-1]) in tables]


def table_content(settings: Settings, key: dg.AssetKey) -> tuple | None:
    """A model's content signature (ingestion.publish.table_signature: columns, row count, an order-free hash
    of its rows); None when it cannot be read (then it counts as changed)."""
    from ingestion.publish import table_signature

    schema, name = key.path[0], key.path[-1]
    try:
        with connect(settings.warehouse, read_only=True) as con:
            catalog = con.execute("SELECT current_database()").fetchone()[0]
            return table_signature(con, catalog, schema, name)
    except Exception:  # a missing table, a locked file: rebuild its readers
        return None


def _summarise(
    settings: Settings,
    target: Target,
    phases: list,
    plan_line: str,
    seconds: float,
    inputs: str,
    say,
    known_rows: Mapping[str, int],
) -> RunSummary:
    """One summary of the run's phases: the first is the run (its id, its loads), failures from all.
    `known_rows`: the current rows of raw tables this run did not load, as the last successful run left them
    (a delta run; counting them again reads every raw table)."""
    from orchestration.progress import failure_message

    result = phases[0]
    summary = RunSummary(result.run_id, all(r.success for r in phases), seconds, plan=plan_line)
    for phase in phases:
        for ev in phase.all_events:
            if ev.event_type_value == "STEP_FAILURE":
                summary.failures.append(f"{ev.step_key}: {failure_message(ev)}")
    materialized = [e for phase in phases for e in phase.get_asset_materialization_events()]
    summary.published = any(e.asset_key == PUBLISH_KEY for e in materialized)
    _target_outcome(summary, target, materialized, say)
    summary.report, summary.verdict = report_verdict(settings, target, result.run_id, say)

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
        # raw within the run); count again only the objects whose load did not run or failed.
        counted = _current_rows_counted(materialized)
        for obj in OBJECTS:
            cur = counted.get(obj.table, known_rows.get(f"raw.{obj.table}"))
            if cur is None:
                cur = con.execute(current_rows_sql(obj)).fetchone()[0]
            loaded, quar = per_run.get(obj.table, (0, 0))
            summary.tables.append((f"raw.{obj.table}", cur, int(loaded or 0), int(quar or 0)))
        for status, message in con.execute(
            "SELECT status, message FROM audit.load_log WHERE run_id = ? AND status IN ('refused', 'ignored') "
            "ORDER BY file",
            [result.run_id],
        ).fetchall():
            (summary.refused if status == "refused" else summary.ignored).append(message)
    if summary.exit_code == 0 and target.records_success:
        changes.record_success(settings, summary.run_id, inputs, summary.recorded())
    return summary

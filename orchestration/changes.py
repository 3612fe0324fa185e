"""Has anything changed since the last successful run? The one answer `salesdw run`, the schedules and the
landing-zone sensor act on, found without importing Dagster or dbt.

A run has work to do when any of these holds (each gives a reason, `Changes.reasons`):
- the landing zone holds an entry the loader has not logged yet: a batch file whose content is not the
  latest logged for its name (audit.load_log: loaded, refused or duplicate), or an entry the loader would
  refuse or ignore that was never reported;
- the code or settings differ from the fingerprint stored with the last successful run (every file of the
  dbt project, the GE suites, the contract and the Python packages, by content; every SALESDW_* setting,
  secrets left out);
- the warehouse's load log or the published marts file changed since that run (another run loaded files,
  or someone replaced the serving file);
- there is no record of a successful run: the last one failed, was interrupted or never happened. The
  record is removed when a run starts and written only when it ends successfully.

The record and a cache of landing-file hashes (by size, mtime and ctime) live in the
report folder as JSON; the warehouse is only ever opened read-only here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingestion.contract import OBJECTS, SourceObject
from ingestion.loader import discover_files, landing_entries, sha256_file
from ingestion.settings import PROJECT_ROOT, Settings
from ingestion.warehouse import WarehouseError, connect

RECORD_FILE = "last_successful_run.json"
HASH_CACHE_FILE = "landing_hashes.json"

# What a run builds from, besides the landing zone and the settings: a change to any of these files'
# content is work for the next run. Generated folders (dbt's target/, logs/) are not inputs.
CODE_ROOTS = ("dbt_project", "expectations", "ingestion", "orchestration")
CODE_FILES = ("pyproject.toml", "requirements.lock", "salesdw_cli.py")
SKIPPED_PARTS = {"target", "logs", "dbt_packages", "__pycache__", "metastore_db", ".user.yml"}

_SECRET = re.compile(r"(TOKEN|API_KEY|PASSWORD|SECRET)", re.I)
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


@dataclass
class Changes:
    """What is new since the last successful run; `nothing_new` when a run has nothing to do."""

    reasons: list[str] = field(default_factory=list)
    new_files: dict[str | None, list[str]] = field(
        default_factory=dict
    )  # raw table (None: landing) -> entries
    last_run: dict | None = None  # the record of the last successful run
    fingerprint: str = ""
    # The reasons that are not new landing files: each one makes the next run a full run
    # (orchestration/selection.py plan_run), where new files alone let it build only their share.
    full_reasons: list[str] = field(default_factory=list)

    def need_full_run(self, reason: str) -> None:
        self.reasons.append(reason)
        self.full_reasons.append(reason)

    @property
    def nothing_new(self) -> bool:
        return not self.reasons


# -- the fingerprint of code and settings -------------------------------------------------------------
def code_files(root: Path = PROJECT_ROOT) -> list[Path]:
    files = [root / f for f in CODE_FILES if (root / f).is_file()]
    for top in CODE_ROOTS:
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_PARTS and not d.startswith("."))
            files += [
                Path(dirpath) / f
                for f in sorted(filenames)
                if f not in SKIPPED_PARTS and not f.endswith((".pyc", ".duckdb", ".wal"))
            ]
    return files


def settings_values(settings: Settings, env: dict[str, str] | None = None) -> dict[str, str]:
    """Every SALESDW_* setting as the run sees it: paths resolved, secrets out, URL passwords masked."""
    env = os.environ if env is None else env
    values = {k: v for k, v in env.items() if k.startswith("SALESDW_") and not _SECRET.search(k)}
    values = {k: _URL_PASSWORD.sub(r"\1***@", v) for k, v in values.items()}
    # a relative path or a default means the same place as the absolute path the runner exports
    values.update(
        SALESDW_LANDING_DIR=str(settings.landing_dir),
        SALESDW_WAREHOUSE=str(settings.warehouse),
        SALESDW_MARTS=str(settings.marts),
        SALESDW_REPORT_DIR=str(settings.report_dir),
        SALESDW_DEMO=settings.demo,
    )
    # not an input of the pipeline: where the test suite's snapshots are refreshed, or how long soaks run
    for k in ("SALESDW_UPDATE_SNAPSHOTS", "SALESDW_SOAK"):
        values.pop(k, None)
    return dict(sorted(values.items()))


def fingerprint(settings: Settings, env: dict[str, str] | None = None, root: Path = PROJECT_ROOT) -> str:
    h = hashlib.sha256(json.dumps(settings_values(settings, env)).encode())
    for path in code_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


# -- the landing zone against the load log --------------------------------------------------------------
def _stamp(st: os.stat_result) -> list[int]:
    """What says a file may have changed without reading it: size, mtime and ctime. The mtime alone can be set back
    (`cp -p`, `rsync -t`, `touch -r`, an archive unpacked): a file replaced by other bytes of the same size with
    the old mtime would pass for the old one. The ctime changes with every write or replacement, and no tool sets
    it back."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _hashes(landing: Path, paths: list[Path], cache: dict[str, list]) -> tuple[dict[Path, str | None], dict]:
    """sha256 of each file, reused from the cache while its stamp is unchanged; None: unreadable."""
    out: dict[Path, str | None] = {}
    todo: list[Path] = []
    fresh: dict[str, list] = {}
    stats = {}
    for p in paths:
        rel = p.relative_to(landing).as_posix()
        try:
            st = p.stat()
        except OSError:
            out[p] = None
            continue
        stats[p] = (rel, _stamp(st))
        hit = cache.get(rel)
        if hit and hit[:-1] == stats[p][1]:
            out[p] = hit[-1]
            fresh[rel] = hit
        else:
            todo.append(p)

    def sha(p: Path) -> str | None:
        try:
            return sha256_file(p)
        except OSError:
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:  # hashlib releases the GIL
        for p, digest in zip(todo, pool.map(sha, todo), strict=True):
            out[p] = digest
            if digest is not None:
                rel, stamp = stats[p]
                fresh[rel] = [*stamp, digest]
    return out, fresh


def _logged(
    settings: Settings, until: datetime | None = None
) -> tuple[dict[str, str | None], set[tuple[str, str]], str] | None:
    """(file -> latest logged sha, {(file, status)} of reported entries, load-log watermark: its rows and
    latest time, up to `until` when given) read-only; None when the warehouse is locked by a running load.
    A missing warehouse has logged nothing."""
    if not settings.warehouse.exists():
        return {}, set(), "0"
    try:
        con = connect(settings.warehouse, read_only=True)
    except WarehouseError:
        return None
    try:
        has_log = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'audit' AND table_name = 'load_log'"
        ).fetchone()[0]
        if not has_log:
            return {}, set(), "0"
        latest = dict(
            con.execute(
                "SELECT file, arg_max(file_sha256, finished_at) FROM audit.load_log "
                "WHERE status IN ('loaded', 'refused', 'duplicate_file') AND file_sha256 IS NOT NULL GROUP BY file"
            ).fetchall()
        )
        reported = set(
            con.execute(
                "SELECT DISTINCT file, status FROM audit.load_log WHERE status IN ('refused', 'ignored')"
            ).fetchall()
        )
        upto = f"WHERE finished_at <= TIMESTAMPTZ '{until.isoformat()}'" if until else ""
        n, last = con.execute(f"SELECT count(*), max(finished_at) FROM audit.load_log {upto}").fetchone()
    finally:
        con.close()
    return latest, reported, f"{n}:{last}"


def new_in_landing(
    settings: Settings, objects: Iterable[SourceObject] = OBJECTS, *, logged=None
) -> tuple[dict[str | None, list[str]], str] | None:
    """({raw table or None: [entries the loader has not logged]}, load-log watermark), or None when the
    warehouse is locked (a load is running: ask again later)."""
    logged = logged or _logged(settings)
    if logged is None:
        return None
    latest, reported, watermark = logged
    landing = settings.landing_dir
    cache_path = settings.report_dir / HASH_CACHE_FILE
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    new: dict[str | None, list[str]] = {}
    if not landing.is_dir():
        return new, watermark
    for e in landing_entries(landing):
        if (e.rel, e.status) not in reported:
            new.setdefault(None, []).append(e.rel)
    fresh: dict[str, list] = {}
    for obj in objects:
        files, others = discover_files(landing, obj)
        for e in others:
            if (e.rel, e.status) not in reported:
                new.setdefault(obj.table, []).append(e.rel)
        shas, hashed = _hashes(landing, files, cache)
        fresh.update(hashed)
        for path in files:
            rel = path.relative_to(landing).as_posix()
            sha = shas[path]
            if sha is None:  # unreadable now: the loader refuses it, unless it said so before
                if (rel, "refused") not in reported:
                    new.setdefault(obj.table, []).append(rel)
            elif latest.get(rel) != sha:
                new.setdefault(obj.table, []).append(rel)
    if fresh != cache:
        _write_json(cache_path, fresh)
    return new, watermark


# -- the record of the last successful run ----------------------------------------------------------------
def read_record(settings: Settings) -> dict | None:
    try:
        return json.loads((settings.report_dir / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None


def forget_record(settings: Settings) -> None:
    """A run starts: until it succeeds, there is no successful last run to compare with."""
    (settings.report_dir / RECORD_FILE).unlink(missing_ok=True)


def _marts_stamp(marts: Path) -> list[int] | None:
    try:
        st = marts.stat()
    except OSError:
        return None
    return _stamp(st)


def record_success(
    settings: Settings, run_id: str, fingerprint_at_start: str, summary: dict, until: datetime | None = None
) -> None:
    """After a successful run: what it ran on (fingerprint taken when it started), the load log and the
    published file as it left them, and the summary a run with nothing new shows again. `until`: the run's
    end, when recorded later (a sensor), so a load by a run after it still counts as new."""
    logged = _logged(settings, until)
    _write_json(
        settings.report_dir / RECORD_FILE,
        {
            "run_id": run_id,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "fingerprint": fingerprint_at_start,
            "load_log": logged[2] if logged else None,
            "marts": _marts_stamp(settings.marts),
            "summary": summary,
        },
    )


def what_changed(settings: Settings, *, landing_only: bool = False) -> Changes:
    """Everything a run would find new, with a reason each; `landing_only` for a load of raw alone (the
    hourly schedule, the sensor), which neither builds models nor publishes."""
    changes = Changes(last_run=None if landing_only else read_record(settings))
    if not settings.landing_dir.is_dir():
        changes.need_full_run(f"the landing zone {settings.landing_dir} is missing (the run says what to do)")
        return changes
    if not landing_only and changes.last_run is None:
        # Nothing to compare with: the run works whatever the landing zone holds, so it is not read (hashing
        # a large landing zone here would only delay the load that reads it again).
        changes.need_full_run("no successful run is recorded (the last run failed, was stopped, or none ran)")
        return changes
    found = new_in_landing(settings)
    if found is None:
        changes.need_full_run(f"the warehouse {settings.warehouse} is in use by another run")
        return changes
    changes.new_files, watermark = found
    n = sum(len(v) for v in changes.new_files.values())
    if n:
        first = next(iter(changes.new_files.values()))[0]
        changes.reasons.append(f"{n} new landing entr{'y' if n == 1 else 'ies'} (e.g. {first})")
    if landing_only:
        return changes
    last = changes.last_run
    changes.fingerprint = fingerprint(settings)
    if changes.fingerprint != last.get("fingerprint"):
        changes.need_full_run("the code or the settings changed (models, suites, contract, SALESDW_* values)")
    if watermark != last.get("load_log"):
        changes.need_full_run("the warehouse's load log changed since (another run loaded files)")
    if _marts_stamp(settings.marts) != last.get("marts"):
        changes.need_full_run(f"the published file {settings.marts} changed or is missing")
    return changes


def nothing_new_summary(settings: Settings, changes: Changes, seconds: float) -> str:
    """The run summary of a run that found nothing new: the last successful run's figures, said as such."""
    last = changes.last_run or {}
    s = last.get("summary") or {}
    lines = [
        f"salesdw run — nothing new since run {last.get('run_id', '?')[:8]} ({last.get('finished_at', '?')}); "
        f"checked in {seconds:.1f}s: no file arrived, no setting, model or suite changed.",
        "Nothing was loaded, built, checked or published; the figures below are that run's.",
        "",
        f"{'raw table':<36}{'current rows':>14}",
    ]
    tables = s.get("tables", [])
    lines += [f"{t:<36}{cur:>14,}" for t, cur in tables]
    if tables:
        lines.append(f"{'total':<36}{sum(c for _, c in tables):>14,}")
    else:  # recorded by a sensor after a run Dagster started: its figures are on that run's page
        lines.append("(that run was started by Dagster: its figures are on its run page in the UI)")
    lines.append("")
    lines.append(f"verdict of run {last.get('run_id', '?')[:8]}: {s.get('verdict') or 'unknown'}")
    if s.get("ignored") or s.get("refused"):
        lines.append(
            f"still in the landing zone, reported before: {len(s.get('refused', []))} refused, "
            f"{len(s.get('ignored', []))} ignored (see that run's load log)"
        )
    lines += [
        "",
        f"published:   {settings.marts} (unchanged)",
        f"report:      {settings.report_dir / 'index.html'}",
        f"warehouse:   {settings.warehouse}",
        f"landing:     {settings.landing_dir}",
    ]
    return "\n".join(lines)


def note_nothing_new(settings: Settings, changes: Changes) -> None:
    """The report's summary.json says when the landing zone was last looked at and that nothing was new;
    its run, validation time and check counts stay those of the run that ran the checks."""
    path = settings.report_dir / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    summary["last_check"] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcome": "nothing new",
        "checks_ran": False,
        "since_run": (changes.last_run or {}).get("run_id"),
    }
    _write_json(path, summary, indent=1)


def _write_json(path: Path, data, indent: int | None = None) -> None:
    """Write through a temporary file and a rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=indent, default=str))
    os.replace(tmp, path)

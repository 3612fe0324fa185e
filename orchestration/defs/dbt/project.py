"""The dbt project as Dagster sees it, and a manifest that is always up to date without a manual step."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.settings import DBT_PROJECT_DIR, PROJECT_ROOT, VARIABLES, location_settings

if TYPE_CHECKING:
    from dagster_dbt import DbtProject

DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
SOURCE_GLOBS = ("models/**/*", "macros/**/*", "tests/**/*", "snapshots/**/*", "seeds/**/*")


def parse_env() -> dict[str, str]:
    """The environment of `dbt parse` (ensure_manifest). Parsing renders the profile but never connects, and the
    manifest it writes is the same for every target and warehouse: only the default output's required path
    needs a value. The runs themselves get their environment from the dbt resource (resource.dbt_env)."""
    env = dict(os.environ)
    env.setdefault("SALESDW_WAREHOUSE", str(PROJECT_ROOT / VARIABLES["SALESDW_WAREHOUSE"][0]))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def salesdw_dbt_project() -> DbtProject:
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


@dataclass(frozen=True)
class ProjectDirs:
    """The two folders of a DbtProject that the partial-parse cache below reads, for a process that runs dbt
    without Dagster (bi/metrics.py): importing dagster-dbt would cost it more than the cache saves."""

    project_dir: Path = DBT_PROJECT_DIR
    target_path: Path = Path("target")


def _source_files(project_dir: Path) -> list[Path]:
    """dbt_project.yml and every model, macro, test, snapshot and seed file of the project."""
    files = {project_dir / "dbt_project.yml"}
    for pattern in SOURCE_GLOBS:
        files.update(p for p in project_dir.glob(pattern) if p.is_file())
    return sorted(files)


def _newest_source_mtime(project_dir: Path) -> float:
    return max(_mtime(p) for p in _source_files(project_dir))


def ensure_manifest(project: DbtProject) -> Path:
    """Run `dbt parse` when manifest.json is missing or older than any model, macro or test.

    A newcomer, a test session and `dagster dev` all get a current manifest; a file lock keeps two
    processes from parsing at once.
    """
    manifest = project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project.project_dir):
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project.project_dir):
            return manifest
        proc = subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--profiles-dir", str(project.profiles_dir)],
            cwd=project.project_dir,
            env=parse_env(),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed in {project.project_dir}:\n{proc.stdout}\n{proc.stderr}")
    return manifest


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PARTIAL_PARSE_CACHE = "partial_parse_cache"  # under the project's target dir: one file per dbt environment
PARTIAL_PARSE_KEEP = 8  # environments kept (each test session has its own warehouse path)
# Environment variables that may reach the rendered profile or project: a change in any of them makes dbt
# throw its partial-parse state away ("profile has changed"), so the cache is keyed on their values.
_PARSE_ENV_PREFIXES = ("SALESDW_", "DBT_", "PG")


def _target_root(project: DbtProject | ProjectDirs) -> Path:
    """The project's target folder: the step folders, the partial-parse cache and the unit-test records."""
    return Path(project.project_dir) / project.target_path


def _partial_parse_cache(project: DbtProject | ProjectDirs) -> Path:
    return _target_root(project) / PARTIAL_PARSE_CACHE


def partial_parse_key(env: Mapping[str, str] | None = None, windowed: bool = False) -> str:
    """The cache entry of a dbt environment. A windowed build (a partition's `--vars`) has its own: dbt throws
    its state away whenever `--vars` differ, so a backfill window saved into the environment's entry would
    cost the next unwindowed step a full parse too (~3 s), and its vars are new to every other window anyway."""
    env = os.environ if env is None else env
    items = sorted((k, v) for k, v in env.items() if k.startswith(_PARSE_ENV_PREFIXES))
    return hashlib.sha256(repr([items, windowed]).encode()).hexdigest()[:16]


def step_target_path(
    project: DbtProject, step: str, run_id: str, env: Mapping[str, str] | None = None, windowed: bool = False
) -> Path:
    """A fresh target dir for one dbt invocation (as dagster-dbt names it), seeded with the partial-parse
    state dbt saved last time it ran with this environment.

    dagster-dbt gives every invocation a new target dir and seeds it from target/partial_parse.msgpack,
    which `dbt parse` (ensure_manifest) wrote with whatever warehouse path was set then. Every run with
    another SALESDW_WAREHOUSE (the benchmark, tests, a second warehouse) made dbt discard it and parse the
    whole project again in every step: 3-5 s of each of the three dbt steps of a run.
    """
    target = _target_root(project) / f"{step}-{run_id[:7]}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True, exist_ok=True)
    seed_partial_parse(project, target, env, windowed)
    return target


def seed_partial_parse(
    project: DbtProject | ProjectDirs,
    target: Path,
    env: Mapping[str, str] | None = None,
    windowed: bool = False,
) -> None:
    """Put into ``target`` the partial-parse state dbt saved last time it ran with this environment, if any."""
    cached = _partial_parse_cache(project) / f"{partial_parse_key(env, windowed)}.msgpack"
    try:
        shutil.copyfile(cached, target / PARTIAL_PARSE_FILE)
    except FileNotFoundError:  # none saved yet, or pruned by another process meanwhile: dbt parses in full
        pass


def keep_partial_parse(
    project: DbtProject | ProjectDirs,
    target: Path,
    env: Mapping[str, str] | None = None,
    windowed: bool = False,
) -> None:
    """Save the partial-parse state dbt left in ``target`` for the next invocation in this environment.

    dbt itself decides whether a saved state is still valid (versions, file hashes, vars, env vars), so a
    stale or foreign file costs a full parse, never a wrong manifest.
    """
    produced = target / PARTIAL_PARSE_FILE
    if not produced.exists():
        return
    cache = _partial_parse_cache(project)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{uuid.uuid4().hex}.tmp"
    shutil.copyfile(produced, tmp)
    os.replace(tmp, cache / f"{partial_parse_key(env, windowed)}.msgpack")
    for old in sorted(cache.glob("*.msgpack"), key=_mtime)[:-PARTIAL_PARSE_KEEP]:
        old.unlink(missing_ok=True)


UNIT_TESTS_PASSED = "unit_tests_passed"  # under the project's target dir: one marker per step, code and env
UNIT_TEST_MARKERS_KEEP = 64


def code_fingerprint(project: DbtProject) -> str:
    """sha256 over what a dbt unit test's outcome depends on besides the step: the project's files and profiles.yml
    (path and content) and the versions of dbt-core, its adapters and DuckDB. An edit to a model, macro, test or
    setting changes it; a data load does not."""
    import importlib.metadata

    root = Path(project.project_dir)
    digest = hashlib.sha256()
    for path in [*_source_files(root), *(root / "profiles.yml",)]:
        if path.exists():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for dist in ("dbt-core", "dbt-duckdb", "dbt-postgres", "duckdb"):
        try:
            digest.update(f"{dist}={importlib.metadata.version(dist)}\0".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{dist}=none\0".encode())
    return digest.hexdigest()[:16]


def unit_tests_marker(
    project: DbtProject, step: str, selection: str, env: Mapping[str, str] | None = None
) -> Path:
    """Where a step records that its dbt unit tests passed for the current code, environment and selection.
    Computed once before the build and written after it passed, so an edit made while dbt runs is never taken
    as tested.

    Unit tests pin a model's logic on fixed fixtures; the warehouse's data never reaches them. Once they passed
    for the current code and settings, running them again in every load proves nothing new and costs seconds a
    run (35 unit tests: 8-9 s at any scale). They run again after any change, and always in `make test`/CI.
    The environment is the partial-parse key's (target, connection, vars, every setting) without the settings
    that only locate files (ingestion.settings.location_settings): a warehouse or landing zone elsewhere runs
    the same logic on the same fixtures.
    """
    key = hashlib.sha256(
        f"{code_fingerprint(project)}|{partial_parse_key(_located_anywhere(env))}|{selection}".encode()
    ).hexdigest()
    return _unit_test_markers(project) / f"{step}-{key[:24]}"


def _located_anywhere(env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment without the settings that only locate files (ingestion.settings.location_settings)."""
    env, locations = os.environ if env is None else env, set(location_settings())
    return {k: v for k, v in env.items() if k not in locations}


# The raw layer's code: the loader's typing and the latest-version views every staging model reads.
RAW_LAYER_CODE = ("ingestion/*.py", "ingestion/targets/*.py")
LOGIC_ENV = "SALESDW_DBT_LOGIC"  # how a dbt step hands logic_fingerprint to dbt (macros/model_logic.sql)


def logic_fingerprint(project: DbtProject, env: Mapping[str, str] | None = None) -> str:
    """What an incremental model's rows are computed with besides the data: the dbt project (code_fingerprint),
    the raw layer's code and the settings, those that only locate files aside (as unit_tests_marker keys them).
    An incremental model whose rows were computed with another one is rebuilt from scratch
    (macros/model_logic.sql), because an incremental build rewrites only what new data touched."""
    digest = hashlib.sha256(
        f"{code_fingerprint(project)}|{partial_parse_key(_located_anywhere(env))}".encode()
    )
    for path in sorted(p for pattern in RAW_LAYER_CODE for p in PROJECT_ROOT.glob(pattern)):
        digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _unit_test_markers(project: DbtProject | ProjectDirs) -> Path:
    return _target_root(project) / UNIT_TESTS_PASSED


def mark_unit_tests_passed(marker: Path) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    for old in sorted(marker.parent.iterdir(), key=_mtime)[:-UNIT_TEST_MARKERS_KEEP]:
        old.unlink(missing_ok=True)


def forget_unit_tests_passed(
    project: DbtProject | ProjectDirs, selections: Mapping[str, str], env: Mapping[str, str]
) -> None:
    """Drop the records that unit tests passed for one environment (code and settings, keyed as in
    unit_tests_marker), for each step -> selection: the next run with it runs them (the benchmark's full run
    measures a first build). Other environments' records stay: the processes of a test session share the
    project's target dir, and one process forgetting must not make another's run repeat its unit tests."""
    for step, selection in selections.items():
        unit_tests_marker(project, step, selection, env).unlink(missing_ok=True)


STEP_TARGETS_KEEP = 24  # per-invocation target dirs kept for inspection (logs, compiled SQL, run_results)
STEP_TARGET_MIN_AGE = 3600.0  # seconds: a younger target dir may be another process's running dbt step


def prune_step_targets(
    project: DbtProject, keep: int = STEP_TARGETS_KEEP, min_age_seconds: float = STEP_TARGET_MIN_AGE
) -> None:
    """Delete all but the newest ``keep`` per-invocation target dirs (``<step>-<run>-<id>``, one per dbt step
    of every run, 5-10 MB each): without this they piled up to 1.6 GB in a day of test runs. A dir younger
    than ``min_age_seconds`` is kept whatever its rank: it may belong to a dbt step another process (a
    parallel test worker, a second Dagster run) is still writing or about to read back."""
    root = _target_root(project)
    dirs = [d for d in root.glob("dbt_*-*-*") if d.is_dir()]
    now = time.time()
    for old in sorted(dirs, key=_mtime)[:-keep] if keep else dirs:
        if now - _mtime(old) >= min_age_seconds:
            shutil.rmtree(old, ignore_errors=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # pruned by another process meanwhile
        return 0.0


def manifest_models(layer: str | None = None) -> list[dict]:
    """Models of the dbt project (optionally of one layer: staging/intermediate/marts), from the manifest."""
    import json

    from orchestration.defs.dbt.translator import dbt_layer

    manifest = json.loads(ensure_manifest(salesdw_dbt_project()).read_text())
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and (layer is None or dbt_layer(n) == layer)
    ]

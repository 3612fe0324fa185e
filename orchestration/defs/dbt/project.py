"""The dbt project as Dagster sees it, and a manifest that is always up to date without a manual step."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ingestion.settings import DBT_PROJECT_DIR, Settings

DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
SOURCE_GLOBS = ("models/**/*", "macros/**/*", "tests/**/*", "snapshots/**/*", "seeds/**/*")


def dbt_env() -> dict[str, str]:
    """dbt's profile reads the warehouse path from the environment; default it from settings."""
    env = dict(os.environ)
    env.setdefault("SALESDW_WAREHOUSE", str(Settings.from_env().warehouse))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    # SALESDW_TARGET=postgres: every dbt command builds in Postgres (profile target `postgres`, from the DSN).
    from ingestion.settings import TargetSettings

    target = TargetSettings.from_env(env)
    if target.target == "postgres":
        from ingestion.targets.postgres import dbt_env as postgres_dbt_env

        env.setdefault("DBT_TARGET", "postgres")
        env.update(postgres_dbt_env(target.postgres_dsn))
    return env


def salesdw_dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _newest_source_mtime(project_dir: Path) -> float:
    newest = (project_dir / "dbt_project.yml").stat().st_mtime
    for pattern in SOURCE_GLOBS:
        for p in project_dir.glob(pattern):
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    return newest


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
            env=dbt_env(),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed in {project.project_dir}:\n{proc.stdout}\n{proc.stderr}")
    return manifest


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

"""Helpers of the Spark tests: dbt builds in subprocesses, a fresh catalog on the shared server, where marts are."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.loader import load_landing
from ingestion.settings import SparkSettings
from ingestion.targets import spark as sp
from ingestion.warehouse import connect, ensure_raw_schema

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
SCALE = 0.05
MODEL_SETTINGS = (
    "SALESDW_AS_OF_DATE",
    "SALESDW_FISCAL_YEAR_START_MONTH",
    "SALESDW_CORPORATE_CURRENCY",
    "SALESDW_MRR_CONVENTION",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_settings(work: Path) -> SparkSettings:
    return SparkSettings.from_env(
        {
            "SALESDW_LAKE_DIR": str(work / "lake"),
            "SALESDW_SPARK_HOME": str(work / "spark"),
            "SALESDW_SPARK_PORT": str(free_port()),
            "SALESDW_SPARK_DRIVER_MEMORY": "2g",
        }
    )


def fresh_catalog(server: SparkSettings, lake: Path) -> SparkSettings:
    """The shared server's settings with an empty catalog (every database but `default` dropped, managed tables
    with their files) and a lake of the caller's own, so a module sees nothing another module built."""
    with sp.cursor(sp.endpoint(server)) as cur:
        cur.execute("SHOW DATABASES")
        for (name,) in cur.fetchall():
            if name != "default":
                cur.execute(f"DROP DATABASE {sp.ident(name)} CASCADE")
    return dataclasses.replace(server, lake_dir=str(lake))


def dbt(
    command: str, target: str, warehouse: Path, work: Path, *args: str, env: dict | None = None
) -> subprocess.Popen:
    """`dbt <command>` (build, run) in a subprocess with its own target and log folders; the project's defaults
    for every model setting, whatever the developer's shell says."""
    full_env = {**os.environ, "SALESDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for name in (*MODEL_SETTINGS, "DBT_TARGET"):
        full_env.pop(name, None)
    full_env.update(env or {})
    cmd = [
        str(DBT), command, "--target", target, *args,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / f"target_{target}"), "--log-path", str(work / f"logs_{target}"),
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def dbt_build(
    target: str, warehouse: Path, work: Path, *args: str, env: dict | None = None
) -> subprocess.Popen:
    return dbt("build", target, warehouse, work, *args, env=env)


def finished(proc: subprocess.Popen, what: str) -> None:
    out, _ = proc.communicate(timeout=2400)
    if proc.returncode != 0:
        failing = [line for line in out.splitlines() if "ERROR" in line or "FAIL" in line]
        pytest.fail(f"dbt ({what}) failed:\n" + "\n".join(failing[:30]) + "\n" + out[-3000:])


def load(landing: Path, warehouse: Path) -> None:
    con = connect(warehouse)
    try:
        ensure_raw_schema(con)
        load_landing(con, landing)
    finally:
        con.close()


def replicate(warehouse: Path, settings: SparkSettings, full: bool = False) -> sp.ExportReport:
    con = connect(warehouse)
    try:
        return sp.replicate_raw(con, sp.endpoint(settings), settings.lake_dir, full=full)
    finally:
        con.close()


def bi_marts(target_dir: Path) -> list[str]:
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return sorted(
        n["alias"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["original_file_path"].startswith("models/marts/")
    )


def spark_marts(settings: SparkSettings, marts: list[str]) -> tuple[dict[str, Path], dict[str, list]]:
    """Where Spark keeps each mart's Parquet files (managed tables of schema marts), and its catalog types."""
    types = {}
    with sp.cursor(sp.endpoint(settings)) as cur:
        for mart in marts:
            types[mart] = list(sp._spark_columns(cur, f"marts.{mart}").items())
    folders = {m: settings.home / "warehouse" / "marts.db" / m for m in marts}
    return folders, types

"""Shared fixtures: every test that needs a warehouse or landing zone gets its own temporary one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingestion.warehouse import connect


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No test reads or writes the developer's data/ folder or Dagster instance: every path setting
    (tests/unit/test_conftest_isolation.py checks this list against ingestion/settings.py) points here."""
    monkeypatch.setenv("SALESDW_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("SALESDW_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("SALESDW_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("SALESDW_MARTS", str(tmp_path / "salesdw_marts.duckdb"))
    monkeypatch.setenv("SALESDW_LAKE_DIR", str(tmp_path / "lake"))
    monkeypatch.setenv("SALESDW_SPARK_HOME", str(tmp_path / "spark"))
    monkeypatch.setenv("SALESDW_CONNECTOR_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.setenv("SALESDW_DEMO", "0")
    yield


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    p = tmp_path / "landing"
    p.mkdir(exist_ok=True)
    return p


@pytest.fixture
def con(tmp_path: Path):
    c = connect(tmp_path / "warehouse.duckdb")
    yield c
    c.close()


def write(landing: Path, rel: str, content: str | bytes) -> Path:
    p = landing / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    p.write_bytes(content)
    return p


def table_checksum(con, table: str) -> list[tuple]:
    """All rows of a table, load-time columns excluded, sorted: equal data gives equal lists."""
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if r[0] not in ("_loaded_at", "quarantined_at", "started_at", "finished_at", "run_id")
    ]
    sel = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)
    return con.execute(f"SELECT {sel} FROM {table} ORDER BY ALL").fetchall()


os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@contextmanager
def held_for_writing(warehouse: Path, seconds: int = 120) -> Iterator[subprocess.Popen]:
    """Another process holding a DuckDB file open for writing (as a long load does), until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(warehouse)!r}); print('ready', flush=True); "
            f"time.sleep({seconds})",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.kill()
        holder.wait()

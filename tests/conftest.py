"""Shared fixtures: every test that needs a warehouse or landing zone gets its own temporary one; the demo
warehouse that many tests only read is built once per run. The pytest-xdist plan of `make test` (which tests
share a worker, in what order they are handed out) is here too; docs/testing.md explains it."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# A pytest-xdist worker runs in a `python -c` process whose __main__ has no spec and no file. Importing
# great_expectations imports pyspark.sql.connect, which takes such a process for pyspark's own doctest runner and
# calls sys.exit(0) when Spark Connect's extras are missing (pyspark/sql/connect/utils.py, check_dependencies).
# Named "__main__", the spec changes nothing else: multiprocessing skips a main module of that name.
if os.environ.get("PYTEST_XDIST_WORKER") and getattr(sys.modules["__main__"], "__spec__", None) is None:
    sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("__main__", None)

from ingestion.warehouse import connect
from tests.warehouses import built_demo_warehouse, built_once


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


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data (scale 0.05, seed 7) in `landing/`, loaded into `warehouse.duckdb` and the whole dbt project
    built on it: made once per pytest run and shared by every worker. Read it (read_only=True) or copy it
    (tests.warehouses.copy_built) before changing anything."""
    return built_once(tmp_path_factory, "demo_build", built_demo_warehouse)


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


# -- pytest-xdist: `make test` runs the suite on several workers (docs/testing.md) --------------------------------

WORKERS_MAX = 4  # past this, the groups below, not the cores, bound the wall time

# Tests that must share one worker, by path prefix (under tests/). Every other module's tests share a worker too
# (its module-scoped fixtures are then built once), except the modules in SPREAD.
SHARED_WORKER = {
    # One local Spark Thrift Server (a JVM, 30-60 s to start and 2 GB of driver memory) for every Spark module.
    "spark/": "spark",
}
# Independent tests, each heavy, with no module-scoped fixture: handed out one by one.
SPREAD = {
    "reliability/test_kill.py",  # a killed `salesdw run` and its rerun per test
    "reliability/test_landing_classes.py",
    "connectors/test_salesforce.py",
    "integration/test_loader.py",
    "integration/test_ge_duckdb.py",
}
# Modules whose one module-scoped fixture is parametrized: one group per parameter (a `salesdw run` each).
BY_PARAM = {"e2e/test_sources_in_use.py"}
# Groups (or spread modules) handed out first, the longest first, so that none starts last and runs alone
# (seconds: a fresh clone's `make test --durations`, 2 workers; a worker takes its next group while it still
# has two tests to go, so a long group handed out late can still run alone at the end).
FIRST = (
    "spark",  # ~800
    "e2e/test_readme_walkthrough.py",  # ~450
    "postgres/test_postgres_target.py",  # ~250
    "e2e/test_delta_run.py",  # ~250
    "reliability/test_kill.py",  # ~180 for the first kill point, then one by one
    "integration/test_bench.py",  # ~190
    "dbt/test_incremental_activities.py",  # ~165
    "e2e/test_run.py",  # ~130
    "integration/test_concurrency.py",  # ~110
    "dbt/test_incremental_pipeline_snapshot.py",  # ~100
)


def worker_group(nodeid: str) -> str:
    """The group of tests that run on one worker, from a test's id (`tests/<module>::<test>[<params>]`); a test
    handed out on its own is a group of one, named by its id."""
    module = nodeid.split("::")[0].removeprefix("tests/")
    for prefix, group in SHARED_WORKER.items():
        if module.startswith(prefix):
            return group
    if module in SPREAD:
        return nodeid
    if module in BY_PARAM and nodeid.endswith("]"):
        return f"{module}[{nodeid.rsplit('[', 1)[1]}"
    return module


def _rank(nodeid: str) -> int:
    group = worker_group(nodeid)
    module = nodeid.split("::")[0].removeprefix("tests/")
    for i, first in enumerate(FIRST):
        if first in (group, module):
            return i
    return len(FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every worker sorts the same way (xdist requires one order); a run in one process is reordered alike.
    items.sort(key=lambda item: _rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With `-n` (xdist's default `--dist load`): hand out whole groups (worker_group), in collection order."""
    if config.getvalue("dist") != "load":
        return None  # an explicit --dist choice
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    config.option.loadscopereorder = False  # LoadScopeScheduling would sort groups by their number of tests
    return ByGroup(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core this process may use, at most WORKERS_MAX."""
    return max(1, min(len(os.sched_getaffinity(0)), WORKERS_MAX))


# The reliability figures (tests/reliability/conftest.py) are counted in whichever worker ran the test: each
# worker hands its counts to the controller, which prints the sum.
def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from tests.reliability import conftest as reliability

        workeroutput["reliability_figures"] = dict(reliability.FIGURES)
        workeroutput["reliability_notes"] = list(reliability.NOTES)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: `-p no:xdist` runs without it
def pytest_testnodedown(node, error) -> None:
    from tests.reliability import conftest as reliability

    output = getattr(node, "workeroutput", {})
    reliability.FIGURES.update(output.get("reliability_figures", {}))
    reliability.NOTES.extend(output.get("reliability_notes", []))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from tests.reliability import conftest as reliability

    reliability.print_figures(terminalreporter)

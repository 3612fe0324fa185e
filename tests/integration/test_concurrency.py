"""Two runs of the load job started at the same moment both succeed: one waits for the warehouse.

DuckDB allows one writing process. Every op that opens the warehouse is in the Dagster pool
`warehouse_writer`, and orchestration/dagster.yaml limits every pool to one slot at op granularity.
Slots are claimed through the instance's storage, so the limit holds across separate processes: here
two `dagster job execute` processes share one DAGSTER_HOME, warehouse and landing zone, exactly like
a scheduled load and a sensor-triggered load (or a UI launch) that start together.

What is exact is each step's warehouse turn (orchestration.defs.resources.takes_turns): the pool's
slot can go to two steps claiming in the same instant on SQLite storage, so the test times the turns
the step bodies log, not Dagster's step start and end events.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from ingestion.contract import OBJECTS
from ingestion.demo.generator import generate
from ingestion.loader import load_landing
from ingestion.settings import PROJECT_ROOT
from ingestion.warehouse import connect
from orchestration.defs.resources import TURN_HELD
from tests.conftest import table_checksum

SCALE = 0.05
RUN_TIMEOUT = 420  # seconds per run; both normally finish in ~1-2 minutes
DAGSTER = str(Path(sys.executable).parent / "dagster")


@pytest.fixture
def instance_home(tmp_path: Path) -> Path:
    """DAGSTER_HOME with the project's instance config (pools), its storage created up front.

    Created once before the runs: two processes that both find an empty DAGSTER_HOME race to create
    the SQLite schema and one fails ("table snapshots already exists"), a first-use race that has
    nothing to do with the warehouse.
    """
    home = Path(os.environ["DAGSTER_HOME"])
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.supports_global_concurrency_limits
        pool_config = instance.event_log_storage.get_pool_config()
        assert pool_config.default_pool_limit == 1, pool_config
    return home


def _start(tag: str, env: dict[str, str], logs: Path) -> tuple[subprocess.Popen, Path]:
    log = logs / f"run_{tag}.log"
    proc = subprocess.Popen(
        [DAGSTER, "job", "execute", "-m", "orchestration.definitions", "-j", "load_raw"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


HELD = re.compile(rf"{TURN_HELD} from (?P<taken>[0-9.]+) to (?P<given>[0-9.]+) ")


def _windows(instance: dg.DagsterInstance, run_id: str) -> tuple[dict, dict]:
    """{step: (start, end)} from Dagster's step events and {step: (taken, given back)} of its warehouse turn."""
    started, steps, turns = {}, {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            held = HELD.match(entry.user_message)
            if held:
                assert entry.step_key not in turns, f"{entry.step_key} took two turns"
                turns[entry.step_key] = (float(held["taken"]), float(held["given"]))
        elif event.event_type == dg.DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            steps[entry.step_key] = (started.pop(entry.step_key), entry.timestamp)
    assert not started, f"steps that started and never ended: {sorted(started)}"
    return steps, turns


def test_two_load_runs_started_together_both_succeed_and_take_turns(tmp_path, instance_home):
    landing = Path(os.environ["SALESDW_LANDING_DIR"])
    warehouse = Path(os.environ["SALESDW_WAREHOUSE"])
    generate(landing, scale=SCALE, seed=7)
    env = {
        **os.environ,
        "SALESDW_MARTS": str(tmp_path / "salesdw_marts.duckdb"),
        "SALESDW_DEMO": "0",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
    }

    t0 = time.monotonic()
    procs = [_start(tag, env, tmp_path) for tag in ("a", "b")]
    try:
        for proc, log in procs:
            try:
                proc.wait(timeout=max(1, RUN_TIMEOUT - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                pytest.fail(f"run did not finish in {RUN_TIMEOUT}s:\n{log.read_text()[-4000:]}")
    finally:
        for proc, _ in procs:
            _stop(proc)
    for proc, log in procs:
        out = log.read_text()
        assert proc.returncode == 0, f"`dagster job execute` exited {proc.returncode}:\n{out[-6000:]}"
        assert "WarehouseLockedError" not in out, out[-6000:]

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="load_raw"))
        assert len(runs) == 2
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [r.status for r in runs]

        steps, turns = {}, {}
        for r in runs:
            steps[r.run_id], turns[r.run_id] = _windows(instance, r.run_id)
        (a_steps, b_steps) = steps.values()
        assert sorted(a_steps) == sorted(b_steps), "the two runs did not run the same steps"
        for run_id in steps:
            # every step took exactly one turn, inside its own start and end
            assert sorted(turns[run_id]) == sorted(steps[run_id]), sorted(
                set(steps[run_id]) ^ set(turns[run_id])
            )
            for step, (taken, given) in turns[run_id].items():
                start, end = steps[run_id][step]
                assert start <= taken <= given <= end, (
                    f"{step}: turn {taken}-{given} outside step {start}-{end}"
                )
        windows = sorted(
            (*w, f"{run_id[:8]}:{step}") for run_id in turns for step, w in turns[run_id].items()
        )
        # the two runs really ran at the same time...
        per_run = {r.run_id: [w for w in windows if w[2].startswith(r.run_id[:8])] for r in runs}
        (a_first, *_, a_last), (b_first, *_, b_last) = per_run.values()
        assert a_first[0] < b_last[1] and b_first[0] < a_last[1], "the runs did not overlap in time"
        # ...yet no two warehouse steps ever did: each turn was taken after the previous one was given back
        for prev, nxt in zip(windows, windows[1:], strict=False):
            assert nxt[0] >= prev[1], f"{nxt[2]} took the warehouse while {prev[2]} still had it"
        # and at least one step had to wait for the pool's slot
        blocked = [
            e
            for r in runs
            for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if "blocked by limit for pool warehouse_writer" in (e.dagster_event.message or "")
        ]
        assert blocked, "no step ever waited for the warehouse_writer pool"

    # the data is there once: the same as one plain load of the landing zone
    reference = tmp_path / "reference.duckdb"
    with connect(reference) as ref:
        load_landing(ref, landing)
    con = connect(warehouse, read_only=True)
    ref = connect(reference, read_only=True)
    try:
        files = con.execute(
            "SELECT count(*), count(DISTINCT file_sha256), count(DISTINCT run_id) FROM audit.load_log"
        ).fetchone()
        ref_files = ref.execute("SELECT count(*) FROM audit.load_log").fetchone()[0]
        assert files[0] == files[1] == ref_files, f"load_log {files}, one plain load logs {ref_files} files"
        for obj in OBJECTS:
            table = f'raw."{obj.table}"'
            got, want = table_checksum(con, f"raw.{obj.table}"), table_checksum(ref, f"raw.{obj.table}")
            assert len(got) == len(want) and got == want, f"{table}: {len(got)} rows, expected {len(want)}"
        assert table_checksum(con, "audit.quarantine") == table_checksum(ref, "audit.quarantine")
    finally:
        con.close()
        ref.close()

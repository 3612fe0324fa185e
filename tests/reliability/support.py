"""Helpers for the reliability suite: subprocesses killed from outside, and the state that must converge."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.contract import OBJECTS
from ingestion.publish import PUBLISH_LOG
from ingestion.settings import PROJECT_ROOT
from ingestion.warehouse import connect
from tests.conftest import table_checksum

RUN_TIMEOUT = 900
SALESDW = [str(Path(sys.executable).parent / "salesdw")]  # the command under test


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- running and killing ---------------------------------------------------------------------------


class Proc:
    """A subprocess in its own process group whose stdout lines are collected as they arrive."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.lines: list[str] = []
        self.p = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def has_open(self, name: str) -> bool:
        try:
            fds = os.listdir(f"/proc/{self.p.pid}/fd")
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{self.p.pid}/fd/{fd}").endswith(name):
                    return True
            except OSError:
                continue
        return False

    def kill_when(
        self, trigger: Callable[[Proc], bool], delay: float = 0.0, timeout: float = RUN_TIMEOUT
    ) -> str:
        """SIGKILL the process group when trigger(self) holds; returns what was seen at that moment."""
        deadline = time.monotonic() + timeout
        while not trigger(self):
            if self.p.poll() is not None:
                self.reader.join(5)
                tail = "\n".join(self.lines[-30:])
                pytest.fail(f"the process ended (exit {self.p.returncode}) before the kill point:\n{tail}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail("kill point not reached in time")
            time.sleep(0.01)
        if delay:
            time.sleep(delay)
        seen = self.lines[-1] if self.lines else ""
        self.kill()
        return seen

    def kill(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()
        self.reader.join(5)

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("timed out:\n" + "\n".join(self.lines[-40:]))
        self.reader.join(5)
        return rc


def line(pattern: str) -> Callable[[Proc], bool]:
    rx = re.compile(pattern)
    return lambda p: any(rx.search(ln) for ln in p.lines)


def opened(name: str) -> Callable[[Proc], bool]:
    return lambda p: p.has_open(name)


def opened_then_closed(name: str) -> Callable[[Proc], bool]:
    """True from the first moment `name` is no longer open after having been: for a file the loader reads,
    hashing is done and the load's parse/typing/write is under way, whatever the machine's speed (a fixed
    delay after the open was missed on a quiet machine, where the whole load fitted in it)."""
    seen = {"open": False}

    def trigger(p: Proc) -> bool:
        if p.has_open(name):
            seen["open"] = True
            return False
        return seen["open"]

    return trigger


def appears(folder: Path, glob: str) -> Callable[[Proc], bool]:
    return lambda p: any(folder.glob(glob))


# -- the state that must converge --------------------------------------------------------------------


def warehouse_state(path: Path, all_versions: bool = False) -> dict[str, list]:
    """Raw (the latest versions, or every version), quarantine and load log, load-time columns excluded."""
    con = connect(path, read_only=True)
    try:
        tables = [f"raw.{o.table}" if all_versions else f"raw.{o.table}__current" for o in OBJECTS]
        state = {t: table_checksum(con, t) for t in tables}
        state["audit.load_log"] = table_checksum(con, "audit.load_log")
        state["audit.quarantine"] = table_checksum(con, "audit.quarantine")
        return state
    finally:
        con.close()


def marts_state(path: Path) -> dict[str, list]:
    """Every mart of a published file, its rows sorted (table_checksum), without the row that says which run
    published it (PUBLISH_LOG): equal marts give equal states."""
    con = connect(path, read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
                "AND table_name <> ? ORDER BY 1",
                [PUBLISH_LOG],
            ).fetchall()
        ]
        return {t: table_checksum(con, f"marts.{t}") for t in tables}
    finally:
        con.close()


def assert_no_partial_load(warehouse: Path) -> None:
    """Every row in raw and quarantine belongs to a file the load log records as loaded, in its counts."""
    con = connect(warehouse)  # opens for writing: the WAL of the killed process is replayed or discarded
    try:
        for obj in OBJECTS:
            bad = con.execute(
                f"""
                WITH raw_rows AS (SELECT _load_id, _source_file, count(*) AS n FROM raw."{obj.table}" GROUP BY ALL),
                q AS (SELECT load_id, file, count(*) AS n FROM audit.quarantine WHERE raw_table = ? GROUP BY ALL),
                logged AS (SELECT load_id, file, rows_loaded, rows_quarantined FROM audit.load_log
                           WHERE raw_table = ? AND status = 'loaded')
                SELECT coalesce(r._source_file, q.file, l.file), r.n, q.n, l.rows_loaded, l.rows_quarantined
                FROM raw_rows r
                FULL JOIN q ON q.load_id = r._load_id AND q.file = r._source_file
                FULL JOIN logged l ON l.load_id = coalesce(r._load_id, q.load_id)
                                  AND l.file = coalesce(r._source_file, q.file)
                WHERE l.file IS NULL OR coalesce(r.n, 0) <> l.rows_loaded OR coalesce(q.n, 0) <> l.rows_quarantined
                """,
                [obj.table, obj.table],
            ).fetchall()
            assert bad == [], f"raw.{obj.table}: rows not matching a completed load: {bad[:5]}"
    finally:
        con.close()


# Fake secrets planted in the environment of every pipeline run of this suite: none may ever show up
# in output, logs, run storage, reports or files. Random per session, so no file can hold them already.
_TOKEN = os.urandom(6).hex()
PLANTED_SECRETS = {
    "SALESDW_POSTGRES_DSN": f"postgresql://bi:S3cr3t-planted-{_TOKEN}@db.example.invalid:5432/salesdw",
    "SALESFORCE_ACCESS_TOKEN": f"00D5g00000planted!AQ{_TOKEN}",
    "SALESDW_SALESFORCE_ACCESS_TOKEN": f"00D5g00000planted!AR{_TOKEN}",
    "SALESDW_STRIPE_API_KEY": f"sk_test_planted{_TOKEN}",
}


def env_for(root: Path, landing: Path) -> dict[str, str]:
    """Environment of a salesdw subprocess with its own warehouse, marts, report and Dagster home."""
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        **PLANTED_SECRETS,
        "SALESDW_LANDING_DIR": str(landing),
        "SALESDW_WAREHOUSE": str(root / "w.duckdb"),
        "SALESDW_MARTS": str(root / "marts" / "salesdw_marts.duckdb"),
        "SALESDW_REPORT_DIR": str(root / "reports"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "SALESDW_DEMO": "0",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
    }


def run_to_end(env: dict[str, str]) -> Proc:
    p = Proc([*SALESDW, "run"], env)
    rc = p.wait()
    assert rc == 0, "\n".join(p.lines[-60:])
    return p


def stuck_pool_slots(dagster_home: Path) -> list[tuple[str, str, str]]:
    """(pool, run id, step) of warehouse pool slots held by runs that are not finished. After a kill -9
    nothing of the killed process is alive, so any such slot is one no process will ever release, and
    every later run waits for it forever."""
    code = (
        "import dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "for k in i.event_log_storage.get_concurrency_keys():\n"
        "    for s in i.event_log_storage.get_concurrency_info(k).claimed_slots:\n"
        "        print(k, s.run_id, s.step_key)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [tuple(line.split()) for line in out.stdout.splitlines() if line.strip()]

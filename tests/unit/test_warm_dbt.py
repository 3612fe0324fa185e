"""dbt forked from the zygote (orchestration/defs/dbt/warm.py) behaves as the `dbt` command line does.

Each case runs the same command both ways, through `subprocess.Popen` of this environment's `dbt` (the
reference) and through `warm.popen`, and compares exit code, output and what is left on disk."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.dbt import warm
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR

WAYS = ("command line", "forked")


@pytest.fixture
def fresh_zygote(monkeypatch):
    """This test's own zygote, started from the test's environment, let go afterwards."""
    monkeypatch.setattr(warm, "_zygote", None)
    monkeypatch.setattr(warm, "_disabled", False)
    yield
    if warm._zygote is not None:
        warm._zygote.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """Target and log folders, and a warehouse path, kept across this module's tests: dbt then parses the
    project once each way, not once a test."""
    return tmp_path_factory.mktemp("warm_dbt")


def _env(warehouse: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SALESDW_WAREHOUSE"}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    if warehouse is not None:
        env["SALESDW_WAREHOUSE"] = str(warehouse)
    return env


def _start(way: str, args: list[str], env: dict[str, str], tmp: Path):
    """`dbt args` started one way, with its own target and log folders (the project's are shared)."""
    command = [
        DBT_EXECUTABLE,
        *args,
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(tmp / f"target-{way}"),
        "--log-path",
        str(tmp / f"logs-{way}"),
    ]
    kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "env": env, "cwd": DBT_PROJECT_DIR}
    if way == "command line":
        return subprocess.Popen(command, preexec_fn=_signals_as_from_a_shell, **kwargs)  # noqa: PLW1509
    return warm.popen(command, **kwargs)


def _signals_as_from_a_shell() -> None:
    """The reference `dbt` gets SIGINT and SIGTERM as a shell starts it, whatever this test process inherited
    (a test runner started in the background ignores SIGINT; its dbt would ignore the interrupt)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _run(way: str, args: list[str], env: dict[str, str], tmp: Path) -> tuple[int, str]:
    process = _start(way, args, env, tmp)
    if way == "forked":
        assert isinstance(process, warm.ForkedDbt)
    with process.stdout:
        out = process.stdout.read().decode()
    return process.wait(timeout=300), out


def _both(args: list[str], env: dict[str, str], tmp: Path) -> dict[str, tuple[int, str]]:
    return {way: _run(way, args, env, tmp) for way in WAYS}


def _nodes(out: str) -> list[str]:
    return sorted(line for line in out.splitlines() if line.startswith("salesdw."))


def test_listing_gives_the_same_nodes(fresh_zygote, shared):
    got = _both(["ls", "--select", "stg_crm__users+1", "--quiet"], _env(shared / "w.duckdb"), shared)
    (cli_code, cli_out), (forked_code, forked_out) = got["command line"], got["forked"]
    assert cli_code == forked_code == 0
    assert len(_nodes(cli_out)) > 3
    assert sorted(forked_out.splitlines()) == sorted(cli_out.splitlines())  # nothing more, nothing less


def test_a_usage_error_exits_2_and_names_the_option(fresh_zygote, tmp_path):
    got = _both(["ls", "--no-such-option-here"], _env(tmp_path / "w.duckdb"), tmp_path)
    for way, (code, out) in got.items():
        assert code == 2, (way, out)
        assert "--no-such-option-here" in out, (way, out)


def test_a_selection_that_matches_nothing_exits_0(fresh_zygote, shared):
    got = _both(["build", "--select", "no_model_has_this_name"], _env(shared / "w.duckdb"), shared)
    assert [code for code, _ in got.values()] == [0, 0], got


def test_a_failing_model_exits_1_and_the_warehouse_is_closed_and_free(fresh_zygote, tmp_path):
    """An empty warehouse has no raw tables: the model fails. dbt-duckdb closes the warehouse in an exit
    handler, so no write-ahead log is left; and when wait() returns, the process is gone and the lock free."""
    summaries = {}
    for way in WAYS:
        warehouse = tmp_path / way / "w.duckdb"
        warehouse.parent.mkdir()
        process = _start(way, ["run", "--select", "stg_crm__users"], _env(warehouse), tmp_path)
        with process.stdout:
            lines = process.stdout.read().decode().splitlines()
        code = process.wait(timeout=300)
        if way == "forked":
            with pytest.raises(ProcessLookupError):  # reaped before wait() returned
                os.kill(process.pid, 0)
        assert code == 1, (way, lines)  # the process's real exit status: a crash at exit would be negative
        assert not Path(f"{warehouse}.wal").exists(), way
        duckdb.connect(str(warehouse)).close()  # for writing: fails while another process holds the file
        summaries[way] = lines[-1].split()[1:]  # "Done. PASS=0 WARN=0 ERROR=1 …", its time of day left out
    assert summaries["forked"] == summaries["command line"]
    assert "ERROR=1" in summaries["forked"]


def test_the_command_gets_its_own_environment_not_the_zygotes(fresh_zygote, shared, tmp_path, monkeypatch):
    """profiles.yml reads SALESDW_WAREHOUSE. The zygote starts while it is set; a command given an environment
    without it must fail as the command line does, naming the variable."""
    monkeypatch.setenv("SALESDW_WAREHOUSE", str(tmp_path / "zygote.duckdb"))
    warm.warm_up()
    listed = _both(["ls", "--select", "stg_crm__users", "--quiet"], _env(shared / "w.duckdb"), shared)
    assert [code for code, _ in listed.values()] == [0, 0], listed

    monkeypatch.delenv("SALESDW_WAREHOUSE")
    missing = _both(["ls", "--select", "stg_crm__users", "--quiet"], _env(None), tmp_path)
    for way, (code, out) in missing.items():
        assert code != 0, (way, out)
        assert "SALESDW_WAREHOUSE" in out, (way, out)
    assert missing["forked"][0] == missing["command line"][0]


@pytest.mark.parametrize(("method", "code"), [("terminate", -signal.SIGTERM), ("kill", -signal.SIGKILL)])
def test_a_signal_ends_it_as_popen_reports(fresh_zygote, tmp_path, method, code):
    warm.warm_up()
    for way in WAYS:
        process = _start(way, ["ls"], _env(tmp_path / "w.duckdb"), tmp_path)
        getattr(process, method)()
        process.stdout.close()
        assert process.wait(timeout=60) == code, way
        assert process.poll() == code


def test_anything_but_this_environments_dbt_starts_as_a_subprocess(fresh_zygote, tmp_path):
    process = warm.popen(
        [sys.executable, "-c", "print('stand-in')"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert isinstance(process, subprocess.Popen)
    assert process.communicate()[0].strip() == b"stand-in"
    assert warm._zygote is None  # no zygote was started for it


def _listed_by_a_subprocess(env: dict[str, str], shared: Path) -> None:
    """`dbt ls` asked of warm.popen started as a plain subprocess, and listed the model."""
    process = _start("forked", ["ls", "--select", "stg_crm__users", "--quiet"], env, shared)
    assert isinstance(process, subprocess.Popen)
    with process.stdout:
        assert "stg_crm__users" in process.stdout.read().decode()
    assert process.wait(timeout=300) == 0


def test_dbt_starts_as_a_subprocess_when_the_zygote_cannot_start(fresh_zygote, shared, monkeypatch):
    """A zygote that ends without answering (here: its module cannot be found) leaves dbt to start as before."""
    monkeypatch.setattr(warm, "__name__", "no.such.module")
    _listed_by_a_subprocess(_env(shared / "w.duckdb"), shared)
    assert warm._disabled


def test_an_interrupt_ends_it_as_the_command_line(fresh_zygote, tmp_path):
    """dagster-dbt forwards a run's interrupt to dbt as SIGINT, once dbt is running (here: parsing)."""
    warm.warm_up()
    codes = {}
    for way in WAYS:
        process = _start(way, ["ls"], _env(tmp_path / "w.duckdb"), tmp_path / way)
        with process.stdout:
            first = process.stdout.readline()  # dbt has started: "Running with dbt=…"
            process.send_signal(signal.SIGINT)
            rest = process.stdout.read().decode()
        codes[way] = process.wait(timeout=120)
        assert b"dbt" in first, (way, first)
        assert "salesdw.staging" not in rest, (way, rest)  # stopped before listing
    assert codes["forked"] == codes["command line"] != 0, codes


def _open_fds() -> set[str]:
    """This process's open file descriptors, but the one listing them."""
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").endswith("/fd"):
                fds.add(fd)
        except OSError:
            pass
    return fds


class _InterruptedAnswer:
    """The zygote's socket, interrupted (Ctrl-C, a stopped Dagster run) while waiting for the answer."""

    def __init__(self, sock):
        self._sock = sock

    def sendmsg(self, *args):
        return self._sock.sendmsg(*args)

    def recv(self, *_):
        raise KeyboardInterrupt

    def close(self):
        self._sock.close()


def test_a_command_interrupted_before_its_answer_never_runs_and_leaks_nothing(fresh_zygote, tmp_path):
    warm.warm_up()
    zygote = warm._zygote
    socket_fd = str(zygote._sock.fileno())
    zygote._sock = _InterruptedAnswer(zygote._sock)
    fds_before = _open_fds()
    with pytest.raises(KeyboardInterrupt):
        _start("forked", ["ls"], _env(tmp_path / "w.duckdb"), tmp_path)
    assert _open_fds() == fds_before - {socket_fd}  # every pipe end closed, socket too
    assert warm._zygote is None  # let go: its answer must not reach the next request
    assert zygote._process.wait(timeout=60) == 0  # it forked the child, which got no go and ended
    assert not (tmp_path / "target-forked").exists()  # dbt never started
    assert isinstance(_start("forked", ["--version"], _env(None), tmp_path), warm.ForkedDbt)  # a new zygote


def test_a_request_too_large_for_one_packet_starts_as_a_subprocess_and_keeps_the_zygote(fresh_zygote, shared):
    warm.warm_up()
    zygote = warm._zygote
    # more environment than one packet holds (the socket's send buffer), each variable below exec's 128 kB
    packet = zygote._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    if packet > 1_500_000:
        pytest.skip(f"a {packet}-byte packet holds more than exec accepts as an environment")
    env = _env(shared / "w.duckdb") | {
        f"SALESDW_PROBE_LARGE_{i}": "x" * 100_000 for i in range(packet // 100_000 + 1)
    }
    _listed_by_a_subprocess(env, shared)
    assert warm._zygote is zygote and not warm._disabled
    assert isinstance(_start("forked", ["--version"], _env(None), shared), warm.ForkedDbt)


def test_a_request_the_zygote_cannot_fork_for_is_refused_and_the_zygote_carries_on(fresh_zygote, shared):
    warm.warm_up()
    zygote = warm._zygote
    r, w = os.pipe()
    socket.send_fds(zygote._sock, [b"not a request"], [w])  # not JSON, one descriptor where three belong
    os.close(w)
    assert zygote._sock.recv(64) == warm._REFUSED
    assert os.read(r, 1) == b""  # the zygote closed what it was given
    os.close(r)
    assert isinstance(_start("forked", ["--version"], _env(None), shared), warm.ForkedDbt)


def test_a_forked_copy_of_this_process_starts_a_zygote_of_its_own(fresh_zygote):
    warm.warm_up()
    pid = os.fork()
    if pid == 0:  # the copy: neither the parent's zygote nor its lock (which may have been held)
        os._exit(0 if warm._zygote is None and warm._lock.acquire(timeout=1) else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert warm._zygote is not None


def test_dbt_starts_as_a_subprocess_where_there_is_no_socket_pair_for_the_zygote(
    fresh_zygote, shared, monkeypatch
):
    """macOS has no SOCK_SEQPACKET socket pair: the run goes on, with dbt started as before."""

    def no_seqpacket(*_args):
        raise OSError(errno.EPROTONOSUPPORT, "Protocol not supported")

    monkeypatch.setattr(warm.socket, "socketpair", no_seqpacket)
    warm.warm_up()
    _listed_by_a_subprocess(_env(shared / "w.duckdb"), shared)
    assert warm._disabled

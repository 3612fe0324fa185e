"""dbt forked from a process that has already imported it, instead of started as a new `dbt` process.

Importing dbt-core costs 1.4-2.8 s on this project's machines (its modules build their dataclass schemas at
import) before dbt reads a file, and every dbt step of a run, and of the test suite, paid it. Here one *zygote*
process per Dagster process imports dbt-core and the DuckDB adapter once, then waits for commands. For each dbt
command it forks a child that becomes that command:

- the child takes the command's arguments, environment and working directory, and the write end of its output
  pipe as stdout and stderr, and runs it through ``dbtRunner``, dbt's documented programmatic entry point;
- it ends as the ``dbt`` command line ends (dbt's exit handlers run: dbt-duckdb closes the warehouse in one),
  and sends its exit code (0, 1 or 2: dbt's ``ExitCodes``) through a status pipe;
- the Dagster side takes the command as ended when the status pipe reaches its end, i.e. when the child's
  process is gone, so the warehouse's write lock is free by then.

Nothing carries over between commands: each is a new process, and dbt's flags, adapters and connections die with
it; only the imports are shared. ``popen`` stands in for ``subprocess.Popen`` where dagster-dbt starts dbt
(orchestration/defs/dbt/resource.py); what it returns has the ``Popen`` members dagster-dbt and our steps use.
Anything but this environment's ``dbt``, and dbt when no zygote answers, starts as a subprocess as before.

Why not ``multiprocessing``'s forkserver: its children re-run the parent's main module (spawn's main-module
fix-up), so a script calling the pipeline without a ``__main__`` guard runs again inside each child. Why not dbt in
the Dagster process: dbt keeps global state between invocations, and dbt-duckdb's connection would then live in
the process that also opens the warehouse for loads and checks.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

_MAX_REQUEST = 4 << 20  # bytes of one request (arguments, environment, directory); sent as one packet
_ZYGOTE_MODULES = ("dbt.cli.main", "dbt.task.build", "dbt.task.list", "dbt.adapters.duckdb")


# --- the Dagster side -----------------------------------------------------------------------------------------


class ForkedDbt:
    """A dbt command running in a child of the zygote, with the ``subprocess.Popen`` members dagster-dbt and the
    dbt steps use. The zygote, not this process, is the child's parent: the exit code comes through the status
    pipe, and a child ended by a signal reports the signal sent through this object (SIGTERM: -15, as ``Popen``
    does), else SIGKILL (an OOM kill, say)."""

    def __init__(self, args: Sequence[str], pid: int, stdout_fd: int, status_fd: int) -> None:
        self.args = list(args)
        self.pid = pid
        self.stdout = os.fdopen(stdout_fd, "rb")
        self.returncode: int | None = None
        self._status_fd = status_fd
        self._status = b""
        self._signal: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._read_status(0):
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._read_status(timeout):
                raise subprocess.TimeoutExpired(self.args, timeout)
            self._ended()
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return
        self._signal = sig
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _read_status(self, timeout: float | None) -> bool:
        """Read the status pipe to its end (True), or until `timeout` seconds passed (False). Its end comes
        when the child's process has ended: the child holds the only write end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._status_fd], [], [], left)
            if not ready:
                return False
            chunk = os.read(self._status_fd, 16)
            if not chunk:
                return True
            self._status += chunk

    def _ended(self) -> None:
        os.close(self._status_fd)
        if self._status:
            self.returncode = self._status[0]
        else:  # ended by a signal before it could report
            self.returncode = -(self._signal or signal.SIGKILL)


class _Zygote:
    """The zygote process of this (Dagster) process and the socket its commands go through."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.owner = os.getpid()
        self.answered = False
        self._sock = ours
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()

    def fork(self, args: Sequence[str], env: Mapping[str, str], cwd: str) -> ForkedDbt | None:
        """The command forked from the zygote, or None when the zygote is gone."""
        request = json.dumps({"args": list(args), "env": dict(env), "cwd": cwd}).encode()
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            socket.send_fds(self._sock, [request], [out_w, status_w])
            answer = self._sock.recv(64)
        except OSError:
            answer = b""
        finally:
            os.close(out_w)
            os.close(status_w)
        if not answer:
            os.close(out_r)
            os.close(status_r)
            return None
        self.answered = True
        return ForkedDbt(args, int(answer), out_r, status_r)

    def close(self) -> None:
        """Let the zygote go: it exits when its socket closes. Its running children are not touched."""
        self._sock.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


_lock = threading.Lock()
_zygote: _Zygote | None = None
_disabled = False  # a zygote of this process ended without answering once: dbt starts as a subprocess


def warm_up() -> None:
    """Start this process's zygote now, so dbt's imports run while other work goes on (the loads of a run)."""
    with _lock:
        _current()


def _current() -> _Zygote | None:
    global _zygote
    if _disabled:
        return None
    if _zygote is None or _zygote.owner != os.getpid():  # a forked Dagster process starts its own
        _zygote = _Zygote()
    return _zygote


def _fork(args: Sequence[str], env: Mapping[str, str] | None, cwd: Any) -> ForkedDbt | None:
    global _zygote, _disabled
    with _lock:
        zygote = _current()
        if zygote is None:
            return None
        try:
            forked = zygote.fork(args, os.environ if env is None else env, os.fspath(cwd or os.getcwd()))
        except BaseException:
            # interrupted between request and answer: the answer would reach the next request
            _zygote = None
            zygote.close()
            raise
        if forked is None:
            _disabled = not zygote.answered
            _zygote = None
            zygote.close()
        return forked


def popen(args: Sequence[str], **kwargs: Any) -> ForkedDbt | subprocess.Popen:
    """``subprocess.Popen`` for dagster-dbt: this environment's dbt, with its output piped and stderr merged into
    it, is forked from the zygote; anything else, and dbt when the zygote is gone, starts as a subprocess."""
    from orchestration.defs.dbt.project import DBT_EXECUTABLE

    plain = set(kwargs) <= {"stdout", "stderr", "env", "cwd"}
    piped = kwargs.get("stdout") == subprocess.PIPE and kwargs.get("stderr") == subprocess.STDOUT
    if plain and piped and args and os.fspath(args[0]) == DBT_EXECUTABLE:
        forked = _fork([os.fspath(a) for a in args], kwargs.get("env"), kwargs.get("cwd"))
        if forked is not None:
            return forked
    return subprocess.Popen(args, **kwargs)


@atexit.register
def _let_go() -> None:
    if _zygote is not None and _zygote.owner == os.getpid():
        _zygote.close()


# --- the zygote -----------------------------------------------------------------------------------------------


def serve(fd: int) -> None:
    """Import dbt, then fork a child per request on socket `fd` until the Dagster side closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the dbt children; the Dagster side ends us
    for module in _ZYGOTE_MODULES:
        try:
            __import__(module)
        except ImportError:  # an adapter this environment lacks: its children import what they need
            pass
    sock = socket.socket(fileno=fd)
    while True:
        try:
            request, fds, _flags, _addr = socket.recv_fds(sock, _MAX_REQUEST, 2)
        except OSError:
            return
        if not request:
            return
        _reap()
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(json.loads(request), *fds)
        for f in fds:
            os.close(f)
        sock.send(str(pid).encode())


def _reap() -> None:
    """Collect ended children (the Dagster side learns their exit codes from the status pipe)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _child(request: dict, out_fd: int, status_fd: int) -> NoReturn:
    """Become the dbt command: run it, report its exit code, then exit as the command line does."""
    code = 2
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.set_inheritable(status_fd, False)  # dbt's own subprocesses must not hold it open
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = list(request["args"])
        code = _invoke(sys.argv[1:])
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(status_fd, bytes([code]))
        except OSError:
            pass
    # A normal exit, so dbt's exit handlers run; the status pipe closes when the process has ended.
    sys.exit(code)


def _invoke(args: list[str]) -> int:
    """dbt's exit code for `args`, as the `dbt` command line gives it (dbt.cli.exceptions, ExitCodes)."""
    from dbt.cli.exceptions import DbtUsageException
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(args)
    if result.success:
        return 0
    if result.exception is None:
        return 1  # ran, and a node failed: ModelError
    if isinstance(result.exception, DbtUsageException):
        print(f"Error: {result.exception}", file=sys.stderr)
    return 2  # UnhandledError


if __name__ == "__main__":
    serve(int(sys.argv[1]))

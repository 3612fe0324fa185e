"""dbt forked from a process that has already imported it, instead of started as a new `dbt` process.

Importing dbt-core costs 1.4-2.8 s on this project's machines (its modules build their dataclass schemas at
import) before dbt reads a file, and every dbt step of a run, and of the test suite, paid it. Here one *zygote*
process per Dagster process imports dbt-core and the DuckDB adapter once, then waits for commands. For each dbt
command it forks a child that becomes that command:

- the child takes the command's arguments, environment and working directory, and the write end of its output
  pipe as stdout and stderr, and runs it through ``dbtRunner``, dbt's documented programmatic entry point;
- it ends as the ``dbt`` command line ends (dbt's exit handlers run: dbt-duckdb closes the warehouse in one),
  with dbt's exit code (0, 1 or 2: dbt's ``ExitCodes``);
- the zygote reaps it and writes its exit status to the command's status pipe, which ends only then: the
  Dagster side takes the command as ended when the child's process is gone, so the warehouse's lock is free.

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
import errno
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
from pathlib import Path
from typing import Any, NoReturn

_MAX_REQUEST = 4 << 20  # bytes the zygote reads of one request (one packet: the sender's limit is lower)
_ZYGOTE_MODULES = ("dbt.cli.main", "dbt.task.build", "dbt.task.list", "dbt.adapters.duckdb")


# --- the Dagster side -----------------------------------------------------------------------------------------


class ForkedDbt:
    """A dbt command running in a child of the zygote, with the ``subprocess.Popen`` members dagster-dbt and the
    dbt steps use. The zygote, the child's parent, reaps it and writes its exit status, as ``Popen.returncode``
    gives it (a signal: its negative number), to the status pipe; the pipe ends only then."""

    def __init__(self, args: Sequence[str], pid: int, stdout_fd: int, status_fd: int) -> None:
        self.args = list(args)
        self.pid = pid
        self.stdout = os.fdopen(stdout_fd, "rb")
        self.returncode: int | None = None
        self._status_pipe = os.fdopen(status_fd, "rb", buffering=0)  # closed with this object at the latest
        self._status = b""

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
        if self.poll() is not None:  # ended and reaped: its pid may already be another process's
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _read_status(self, timeout: float | None) -> bool:
        """Read the status pipe to its end (True), or until `timeout` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        poller = select.poll()
        poller.register(self._status_pipe.fileno(), select.POLLIN)
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not poller.poll(None if left is None else left * 1000):
                return False
            chunk = self._status_pipe.read(64)
            if not chunk:
                return True
            self._status += chunk

    def _ended(self) -> None:
        self._status_pipe.close()
        # no status: the zygote itself was killed before its child ended; report it as a kill
        self.returncode = int(self._status) if self._status else -signal.SIGKILL


class _Gone(Exception):
    """The zygote did not answer: it ended (or could not start)."""


_REFUSED = b"-"  # the zygote's answer when it could not fork a child for the request


class _Zygote:
    """The zygote process of this (Dagster) process and the socket its commands go through."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.answered = False
        self._sock = ours
        # The zygote runs this very module (-m: as a main module with a spec; a `-c` program that imports
        # pyspark.sql.connect is taken for a doctest run and exits), from the tree this one comes from; -P keeps
        # the working directory off sys.path, as for the `dbt` script.
        root = str(Path(__file__).resolve().parents[3])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", __name__, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()

    def fork(self, args: Sequence[str], env: Mapping[str, str], cwd: str) -> ForkedDbt | None:
        """The command forked from the zygote; None: start this one as a subprocess (the zygote could not take
        it). Raises _Gone when the zygote is gone.

        The child starts dbt only on the go sent after its pid reached this side: a request interrupted here
        (the run stopped) leaves a child that exits at once, never a dbt nobody waits for."""
        request = json.dumps({"args": list(args), "env": dict(env), "cwd": cwd}).encode()
        ours: list[int] = []  # pipe ends this side closes when it returns or fails
        forked = None
        try:
            out_r, out_w = _pipe(ours)
            status_r, status_w = _pipe(ours)
            go_r, go_w = _pipe(ours)
            try:
                socket.send_fds(self._sock, [request], [out_w, status_w, go_r])
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:  # more than one packet holds (net.core.wmem_default)
                    return None
                raise _Gone from exc
            for fd in (out_w, status_w, go_r):
                ours.remove(fd)
                os.close(fd)
            answer = self._answer()
            if answer == _REFUSED:
                return None
            forked = ForkedDbt(args, int(answer), out_r, status_r)
            ours.remove(out_r)
            ours.remove(status_r)
            os.write(go_w, b"g")
            return forked
        except BaseException:
            if forked is not None:  # it may have had its go: no dbt may run on that nobody waits for
                forked.kill()
            raise
        finally:
            for fd in ours:
                os.close(fd)

    def _answer(self) -> bytes:
        try:
            answer = self._sock.recv(64)
        except OSError as exc:
            raise _Gone from exc
        if not answer:
            raise _Gone
        self.answered = True
        return answer

    def close(self) -> None:
        """Let the zygote go: it takes no more commands and exits once its running children have ended."""
        self._sock.close()


def _pipe(ours: list[int]) -> tuple[int, int]:
    r, w = os.pipe()
    ours += [r, w]
    return r, w


_lock = threading.Lock()
_zygote: _Zygote | None = None
_disabled = False  # a zygote of this process ended without answering once: dbt starts as a subprocess


def warm_up() -> None:
    """Start this process's zygote now, so dbt's imports run while other work goes on (the loads of a run)."""
    with _lock:
        _current()


def _current() -> _Zygote | None:
    global _zygote, _disabled
    if _disabled:
        return None
    if _zygote is None:
        try:
            _zygote = _Zygote()
        except OSError:  # no SOCK_SEQPACKET socket pair (macOS), no process to be had: dbt starts as before
            _disabled = True
    return _zygote


def _fork(args: Sequence[str], env: Mapping[str, str] | None, cwd: Any) -> ForkedDbt | None:
    global _zygote, _disabled
    with _lock:
        zygote = _current()
        if zygote is None:
            return None
        try:
            return zygote.fork(args, os.environ if env is None else env, os.fspath(cwd or os.getcwd()))
        except _Gone:
            _disabled = not zygote.answered
            _zygote = None
            zygote.close()
            return None
        except BaseException:
            # interrupted, maybe between request and answer: that answer would reach the next request
            _zygote = None
            zygote.close()
            raise


def _forget_after_fork() -> None:
    """In a forked copy of this process: its own lock, and a zygote of its own when it needs one."""
    global _lock, _zygote
    _lock = threading.Lock()
    if _zygote is not None:
        _zygote.close()  # this copy's end of the socket; the parent's stays open
        _zygote = None


os.register_at_fork(after_in_child=_forget_after_fork)


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
    if _zygote is not None:
        _zygote.close()


# --- the zygote -----------------------------------------------------------------------------------------------


def serve(fd: int) -> None:
    """Import dbt, then fork a child per request on socket `fd` until the Dagster side closes it; reap each
    child and write its exit status to its status pipe. Returns (the process exits) when no child is left."""
    # A terminal's Ctrl-C reaches the zygote too. Blocked, not ignored: it stays pending in a child forked
    # meanwhile, which takes it as the command line would once it unblocks it (_child). SIGTERM ends us as anyone,
    # and a child as soon as it is forked; both whatever the Dagster process inherited (a background start
    # ignores SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    _import_dbt()
    if not _one_thread():
        return  # a fork would copy a process whose other threads are gone: the Dagster side starts dbt itself
    sock = socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    for end in (wake_r, wake_w):
        os.set_blocking(end, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wake-up pipe gets a byte for each child that ends
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    children: dict[int, int] = {}  # pid: the write end of its status pipe
    listening = True
    while listening or children:
        for ready, _ in poller.poll():
            if ready == wake_r:
                while _drain(wake_r):
                    pass
            elif listening:
                try:
                    request, fds, _flags, _addr = socket.recv_fds(sock, _MAX_REQUEST, 3)
                except OSError:
                    request, fds = b"", []
                if not request:  # the Dagster side let us go
                    poller.unregister(sock)
                    sock.close()
                    listening = False
                    continue
                answer = _start_child(request, fds, sock, (wake_r, wake_w), children)
                try:
                    sock.send(answer)
                except OSError:  # the Dagster side is gone: the child gets no go and exits
                    pass
        _reap(children)


def _start_child(
    request: bytes, fds: list[int], sock: socket.socket, wake: tuple[int, int], children: dict[int, int]
) -> bytes:
    """Fork the child for one request; the answer is its pid, or _REFUSED when it could not be forked."""
    try:
        command = json.loads(request)
        out_w, status_w, go_r = fds
        pid = os.fork()
    except (OSError, ValueError):  # no memory or pids left, or not a request from warm.popen
        for fd in fds:
            os.close(fd)
        return _REFUSED
    if pid == 0:
        signal.set_wakeup_fd(-1)
        sock.close()
        for end in (*wake, status_w, *children.values()):
            os.close(end)
        _child(command, out_w, go_r)
    os.close(out_w)
    os.close(go_r)
    children[pid] = status_w
    return str(pid).encode()


def _import_dbt() -> None:
    for module in _ZYGOTE_MODULES:
        try:
            __import__(module)
        except ImportError:  # an adapter this environment lacks: its children import what they need
            pass
    if "duckdb" in sys.modules:
        # importing duckdb starts a worker thread for its default connection; a forked child has no such thread,
        # and tearing that connection down at exit would abort the child
        sys.modules["duckdb"].execute("SET threads = 1")


def _one_thread() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc to ask (not Linux): do not fork
        return False


def _drain(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except BlockingIOError:
        return False


def _reap(children: dict[int, int]) -> None:
    """Write the exit status of each ended child to its status pipe and close it: the pipe's end tells the
    Dagster side that the child's process is gone."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status_w = children.pop(pid, None)
        if status_w is not None:
            try:
                os.write(status_w, str(os.waitstatus_to_exitcode(status)).encode())
            except OSError:  # the Dagster side stopped listening (an interrupted request)
                pass
            os.close(status_w)


def _child(request: dict, out_fd: int, go_fd: int) -> NoReturn:
    """Become the dbt command: wait for the go, run it, then exit as the command line does."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # dagster-dbt stops dbt with SIGINT, our steps with SIGTERM: a SIGINT sent since the fork is taken now
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    go = os.read(go_fd, 1)
    os.close(go_fd)
    if go != b"g":  # the Dagster side gave up on this command before it started
        os._exit(0)
    code = 2
    try:
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
    # A normal exit, so dbt's exit handlers run (dbt-duckdb closes the warehouse in one).
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

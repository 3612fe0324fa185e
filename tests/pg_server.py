"""A throwaway PostgreSQL cluster (15 preferred) for tests: the `pg_dsn` session fixture and `fresh_database`.

Use it from a conftest.py (or a test module) by importing the fixture:

    from tests.pg_server import fresh_database, pg_dsn  # noqa: F401

`pg_dsn` is a `postgresql://user:password@127.0.0.1:port/salesdw_test` URI for a superuser role on a
cluster that lives only for the pytest session (data under /tmp, fsync off, loopback only). Set
`SALESDW_TEST_POSTGRES_DSN` to use an existing server instead (its role must be able to create
databases and roles). Tests are skipped, with the reason, when no PostgreSQL binaries are installed
(`.ci/run` installs Debian's `postgresql` package).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest


def _pg_bin() -> Path:
    # Debian installs one directory per major version; prefer 15 (what CI pins), else the newest there is.
    if os.environ.get("SALESDW_TEST_PG_BIN"):
        return Path(os.environ["SALESDW_TEST_PG_BIN"])
    preferred = Path("/usr/lib/postgresql/15/bin")
    if preferred.exists():
        return preferred
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else preferred


PG_BIN = _pg_bin()
ROLE = "salesdw_test"
DATABASE = "salesdw_test"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_cluster_owner() -> list[str]:
    # initdb and postgres refuse to run as root; the Debian package creates the `postgres` user.
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without `runuser`: cannot start PostgreSQL as an unprivileged user")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user to own the test cluster")
    return [runuser, "-u", "postgres", "--"]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def with_database(dsn: str, name: str) -> str:
    """The same DSN pointing at database `name`."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def fresh_database(dsn: str, name: str) -> str:
    """Create (or re-create, empty) database `name` on the server of `dsn`; returns its DSN."""
    import psycopg2
    from psycopg2 import sql

    con = psycopg2.connect(dsn)
    try:
        con.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
        with con.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        con.close()
    return with_database(dsn, name)


class _Cluster:
    def __init__(self) -> None:
        # Short path: a unix socket path must stay under ~107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="salesdw-pg-"))
        self.datadir = self.root / "data"
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self.prefix = _as_cluster_owner()

    def start(self) -> str:
        self.root.chmod(0o755)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.prefix:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        _run(
            [
                *self.prefix,
                str(PG_BIN / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        pwfile.unlink()
        last = ""
        for _attempt in range(5):  # another process may grab the free port between probe and bind
            self.port = _free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC "
                "-c max_connections=60 -c shared_buffers=128MB"
            )
            res = subprocess.run(
                [
                    *self.prefix,
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                capture_output=True,
                text=True,
            )
            if res.returncode == 0:
                break
            last = res.stdout + res.stderr + self._log_tail()
            time.sleep(0.2)
        else:
            raise RuntimeError(f"could not start the test PostgreSQL cluster:\n{last}")

        import psycopg2
        from psycopg2 import sql

        admin = f"postgresql://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/postgres"
        con = psycopg2.connect(admin)
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(
                    sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                        sql.Identifier(ROLE), sql.Literal(self.password)
                    )
                )
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(*map(sql.Identifier, (DATABASE, ROLE)))
                )
        finally:
            con.close()
        return f"postgresql://{ROLE}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{DATABASE}"

    def _log_tail(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def stop(self) -> None:
        if self.datadir.exists():
            subprocess.run(
                [
                    *self.prefix,
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
            )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """DSN of a superuser role on a PostgreSQL server that lives for the test session."""
    external = os.environ.get("SALESDW_TEST_POSTGRES_DSN", "")
    if external:
        yield external
        return
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(
            f"PostgreSQL 15 binaries not found in {PG_BIN} (install Debian's `postgresql` package, "
            "as .ci/run does, or set SALESDW_TEST_POSTGRES_DSN)"
        )
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed (it is in requirements.lock; run `make .venv`)")
    cluster = _Cluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()

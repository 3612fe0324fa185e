"""Cheaper writes to the Dagster instance's SQLite storage while `salesdw run` executes the pipeline in-process.

Dagster's SQLite event log opens a new connection for every write (SQLAlchemy NullPool), commits and closes
it; a run writes ~1,300 events, several databases each (the run's shard, the cross-run index, the run
table). Two SQLite defaults make each of those ~5 connections cost 10-15 ms on this disk:

- the commit of a WAL database fsyncs (``synchronous=FULL``);
- closing the *last* connection to a WAL database checkpoints it and deletes the WAL file, which is
  every close here, since nothing else holds the file open.

Profiled at scale 1: 56 s of a 190 s run went to sqlite3 ``commit`` and ``close``, on events alone
(planning ~320 assets and checks before the first step, one event per dbt test result...).

``faster_event_storage(home)`` sets ``synchronous=NORMAL`` on every connection to a database under the
Dagster home and keeps one idle reader open per database, so a close is no longer the last one and does
not checkpoint (SQLite still checkpoints every 1,000 pages, and once when the reader closes at the end).
WAL with ``synchronous=NORMAL`` stays consistent after a crash of the process or the machine; a power
loss may drop the last events written before it, never corrupt the database (sqlite.org/pragma.html#pragma_synchronous).
Nothing else changes: the same events are stored, in the same databases, visible to `dagster dev`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class _Readers:
    """One idle connection per database file under ``home``, opened on the first connection Dagster makes."""

    def __init__(self, home: Path):
        self.home = Path(home).resolve()
        self.lock = threading.Lock()
        self.readers: dict[str, sqlite3.Connection] = {}
        self.in_wal: set[str] = set()

    def on_connect(self, dbapi_connection, _record) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return  # e.g. DuckDB through SQLAlchemy (the GE gates)
        try:
            path = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
            if not path or not Path(path).resolve().is_relative_to(self.home):
                return
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
            with self.lock:
                self._hold(path)
        except sqlite3.Error as exc:  # never fail a Dagster write over a speed-up
            log.debug("sqlite speed-up skipped for a connection: %s", exc)

    def _hold(self, path: str) -> None:
        if path in self.in_wal:
            return
        reader = self.readers.get(path)
        if reader is None:
            reader = self.readers[path] = sqlite3.connect(path, check_same_thread=False, timeout=0.1)
        # The reader keeps the WAL open (so other closes skip the checkpoint) once it has read the database
        # in WAL mode; a database Dagster is creating right now is not in WAL mode yet: try again next time.
        reader.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        if reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            self.in_wal.add(path)

    def close(self) -> None:
        with self.lock:
            for reader in self.readers.values():
                try:
                    reader.close()
                except sqlite3.Error:  # pragma: no cover - closing an idle reader
                    pass
            self.readers.clear()
            self.in_wal.clear()


@contextmanager
def faster_event_storage(home: Path) -> Iterator[None]:
    """Within the block, SQLite databases under ``home`` (DAGSTER_HOME) are written as described above."""
    readers = _Readers(home)
    event.listen(Engine, "connect", readers.on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", readers.on_connect)
        readers.close()

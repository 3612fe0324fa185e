"""faster_event_storage: every write still lands, only databases under the Dagster home are touched, and
nothing stays open or hooked afterwards."""

import sqlite3

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from orchestration.sqlite_events import faster_event_storage


def _write(path, values, setup=False) -> list[int]:
    """Like Dagster's SQLite storage: a new engine and connection per write; returns PRAGMA synchronous."""
    seen = []
    for v in values:
        engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
        with engine.connect() as con:
            if setup:
                con.execute(text("PRAGMA journal_mode=WAL"))
                con.execute(text("CREATE TABLE t (x INTEGER)"))
                con.commit()
                setup = False
            with con.begin():
                con.execute(text("INSERT INTO t VALUES (:v)"), {"v": v})
            seen.append(con.execute(text("PRAGMA synchronous")).scalar())
            con.rollback()
        engine.dispose()
    return seen


def test_writes_under_home_are_kept_and_relaxed_only_inside_the_block(tmp_path):
    home, other = tmp_path / "home", tmp_path / "other"
    home.mkdir()
    other.mkdir()
    db, elsewhere = home / "events.db", other / "events.db"
    with faster_event_storage(home):
        sync_home = _write(db, range(50), setup=True)
        # the idle reader keeps the WAL between writes (no checkpoint-and-delete on every close)
        assert (home / "events.db-wal").exists()
        sync_other = _write(elsewhere, range(5), setup=True)
    sync_after = _write(db, [50])

    assert sync_home[1:] == [1] * 49  # NORMAL once the database exists
    assert sync_other == [2] * 5  # FULL, SQLite's default: not under the Dagster home
    assert sync_after == [2]  # the hook is gone after the block
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), sum(x) FROM t").fetchone() == (51, sum(range(51)))
    con.close()
    # the reader was closed: the last close checkpointed and removed the WAL
    assert not (home / "events.db-wal").exists()


def test_other_databases_are_not_held_open(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with faster_event_storage(home):
        _write(tmp_path / "x.db", range(3), setup=True)
        assert not (tmp_path / "x.db-wal").exists()  # closed after each write, as without the hook

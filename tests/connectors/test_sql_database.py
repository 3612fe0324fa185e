"""SQL database source against a real PostgreSQL server holding the demo billing data as tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from ingestion.contract import BILLING_OBJECTS
from ingestion.sources._common import ConnectorError, StateStore
from ingestion.sources.sql_database import SqlDatabaseConnector
from ingestion.warehouse import connect
from tests.pg_server import fresh_database, pg_dsn  # noqa: F401
from tests.servers.demo import batches, connector_settings, count, data_rows, diff_raw

# `json`, not `jsonb`: jsonb re-orders object keys, and this test compares JSON text with the file drop's.
PG_TYPES = {
    "str": "text",
    "bool": "boolean",
    "int": "bigint",
    "unix": "timestamptz",
    "object": "json",
    "list": "json",
    "array": "json",
}


def _at(stem: str) -> datetime:
    return datetime.strptime(stem[:10], "%Y-%m-%d").replace(tzinfo=UTC)


class BillingDb:
    """The demo's billing objects as tables of a billing database, one row per object, updated_at kept."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.con = psycopg2.connect(dsn)
        with self.con, self.con.cursor() as cur:
            for obj in BILLING_OBJECTS:
                cols = ", ".join(f'"{f.name}" {PG_TYPES[f.type]}' for f in obj.fields)
                cur.execute(
                    f'CREATE TABLE "{obj.name}" ({cols}, updated_at timestamptz NOT NULL, PRIMARY KEY (id))'
                )

    def upsert(self, obj, records: list[dict], at: datetime) -> None:
        names = [f.name for f in obj.fields]
        ph = ", ".join("to_timestamp(%s)" if f.type == "unix" else "%s" for f in obj.fields)
        sets = ", ".join(f'"{n}" = excluded."{n}"' for n in names + ["updated_at"])
        sql = (
            f'INSERT INTO "{obj.name}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}, updated_at) '
            f"VALUES ({ph}, %s) ON CONFLICT (id) DO UPDATE SET {sets}"
        )
        rows = []
        for r in records:
            vals = []
            for f in obj.fields:
                v = r.get(f.name)
                if f.type in ("object", "list", "array") and v is not None:
                    v = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                vals.append(v)
            rows.append((*vals, at))
        with self.con, self.con.cursor() as cur:
            cur.executemany(sql, rows)

    def apply_batch(self, files, at: datetime) -> None:
        for obj, path in files:
            self.upsert(obj, [json.loads(line) for line in path.read_text().splitlines() if line.strip()], at)

    def scalar(self, sql: str, params=None):
        with self.con, self.con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def close(self):
        self.con.close()


@pytest.fixture
def billing_db(pg_dsn, request):  # noqa: F811
    dsn = fresh_database(
        pg_dsn, f"billing_{request.node.name[:40].lower()}".replace("[", "_").replace("]", "")
    )
    db = BillingDb(dsn)
    yield db
    db.close()


def _settings(tmp_path, dsn, lookback="60"):
    return connector_settings(
        tmp_path / "spool",
        SALESDW_SQL_SOURCE_URL=dsn.replace("postgresql://", "postgresql+psycopg2://", 1),
        SALESDW_SQL_SOURCE_LOOKBACK_MINUTES=lookback,
    )


def test_incremental_replication_equals_the_file_drop_load(tmp_path, demo_landing, file_drop, billing_db):
    con = connect(tmp_path / "sql.duckdb")
    pages = 0
    for stem, files in batches(demo_landing, "billing"):
        billing_db.apply_batch(files, _at(stem))
        pages += SqlDatabaseConnector(con, _settings(tmp_path, billing_db.dsn), batch_size=100).pull().pages
    fd = connect(file_drop("billing"), read_only=True)
    diff = diff_raw(con, fd, "billing")
    assert {rel: d for rel, d in diff.items() if d[2] or d[3] or d[0] != d[1]} == {}
    assert sum(d[0] for rel, d in diff.items() if not rel.endswith("__current")) == count(
        fd, "SELECT sum(rows_loaded) FROM audit.load_log"
    )
    assert pages > 2 * len(BILLING_OBJECTS)
    assert count(con, "SELECT count(*) FROM audit.quarantine") == 0
    fd.close()
    con.close()


def test_kill_mid_replication_resumes_without_gaps_or_duplicates(
    tmp_path, demo_landing, file_drop, billing_db
):
    for stem, files in batches(demo_landing, "billing"):
        billing_db.apply_batch(files, _at(stem))
    con = connect(tmp_path / "sql.duckdb")
    s = _settings(tmp_path, billing_db.dsn)
    files = []

    def die_after_commit(fr):
        files.append(fr)
        if len(files) == 6:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        SqlDatabaseConnector(con, s, batch_size=100, on_file=die_after_commit).pull()
    assert 0 < count(con, "SELECT count(*) FROM raw.billing__customer") + count(
        con, "SELECT count(*) FROM raw.billing__product"
    )
    SqlDatabaseConnector(con, s, batch_size=100).pull()
    fd = connect(file_drop("billing"), read_only=True)
    for obj in BILLING_OBJECTS:
        # The database holds one row per id: raw must hold each current record exactly once.
        assert data_rows(con, f"raw.{obj.table}") == data_rows(fd, f"raw.{obj.table}__current"), obj.name
    fd.close()
    con.close()


def test_second_pull_gets_changes_and_late_rows_within_the_look_back(tmp_path, demo_landing, billing_db):
    for stem, files in batches(demo_landing, "billing"):
        billing_db.apply_batch(files, _at(stem))
    con = connect(tmp_path / "sql.duckdb")
    s = _settings(tmp_path, billing_db.dsn)
    SqlDatabaseConnector(con, s, batch_size=100).pull()
    st = StateStore(con, "sql_database")
    cursor = datetime.fromisoformat(st.get("subscriptions").cursor)
    assert cursor == billing_db.scalar("SELECT max(updated_at) FROM subscriptions")
    subs = billing_db.con.cursor()
    subs.execute("SELECT id FROM subscriptions WHERE status = 'active' ORDER BY id LIMIT 2")
    (a,), (b,) = subs.fetchall()
    with billing_db.con, billing_db.con.cursor() as cur:
        cur.execute(
            "UPDATE subscriptions SET status = 'canceled', canceled_at = %s, updated_at = %s WHERE id = %s",
            [cursor + timedelta(days=1), cursor + timedelta(days=1), a],
        )
        # A late row: committed now, but stamped 30 minutes before the cursor.
        cur.execute(
            "UPDATE subscriptions SET status = 'past_due', updated_at = %s WHERE id = %s",
            [cursor - timedelta(minutes=30), b],
        )
    expected_fetch = sum(
        billing_db.scalar(
            f'SELECT count(*) FROM "{o.name}" WHERE updated_at >= %s',
            [datetime.fromisoformat(st.get(o.name).cursor) - timedelta(minutes=60)],
        )
        for o in BILLING_OBJECTS
    )
    res = SqlDatabaseConnector(con, s, batch_size=100).pull()
    assert res.records == expected_fetch
    assert res.rows_loaded == 2
    assert datetime.fromisoformat(st.get("subscriptions").cursor) == cursor + timedelta(days=1)
    fresh = connect(tmp_path / "fresh.duckdb")
    SqlDatabaseConnector(fresh, _settings(tmp_path / "f", billing_db.dsn), batch_size=100).pull()
    diff = diff_raw(con, fresh, "billing")
    assert {rel: d for rel, d in diff.items() if rel.endswith("__current") and (d[2] or d[3])} == {}
    fresh.close()
    con.close()


def test_a_future_cursor_returns_nothing(tmp_path, demo_landing, billing_db):
    for stem, files in batches(demo_landing, "billing"):
        billing_db.apply_batch(files, _at(stem))
    con = connect(tmp_path / "sql.duckdb")
    st = StateStore(con, "sql_database")
    future = "2100-01-01T00:00:00+00:00"
    for o in BILLING_OBJECTS:
        st.put(o.name, future, None, order=datetime.fromisoformat)
    res = SqlDatabaseConnector(con, _settings(tmp_path, billing_db.dsn)).pull()
    assert res.records == 0 and all(st.get(o.name).cursor == future for o in BILLING_OBJECTS)
    con.close()


def test_unreachable_database_names_the_host_not_the_password(tmp_path):
    url = "postgresql+psycopg2://reader:hunter2secret@127.0.0.1:1/billing"
    con = connect(tmp_path / "sql.duckdb")
    s = connector_settings(tmp_path / "spool", SALESDW_SQL_SOURCE_URL=url)
    with pytest.raises(ConnectorError) as err:
        SqlDatabaseConnector(con, s).pull()
    assert "127.0.0.1" in str(err.value) and "hunter2secret" not in str(err.value)
    con.close()

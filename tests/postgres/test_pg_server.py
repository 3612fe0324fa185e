"""The test PostgreSQL fixture starts a real server, and fresh_database gives an empty, separate database."""

from __future__ import annotations

import psycopg2

from tests.pg_server import fresh_database, pg_dsn  # noqa: F401


def test_server_answers_and_databases_are_isolated(pg_dsn):  # noqa: F811
    with psycopg2.connect(pg_dsn) as con, con.cursor() as cur:
        cur.execute("SELECT current_setting('server_version_num')::int / 10000, current_setting('TimeZone')")
        assert cur.fetchone() == (15, "UTC")
        cur.execute("CREATE TABLE IF NOT EXISTS t_in_main (x int)")
    other = fresh_database(pg_dsn, "salesdw_fixture_check")
    assert other.endswith("/salesdw_fixture_check") and other != pg_dsn
    con = psycopg2.connect(other)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't_in_main'")
            assert cur.fetchone() == (0,)
            cur.execute("CREATE TABLE leftover (x int)")
        con.commit()
    finally:
        con.close()
    # Re-creating drops what was there.
    again = fresh_database(pg_dsn, "salesdw_fixture_check")
    con = psycopg2.connect(again)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'")
            assert cur.fetchone() == (0,)
    finally:
        con.close()

"""raw.<table>__current is a table the loader keeps (ingestion.warehouse.refresh_current): after any sequence of
writes it holds exactly one row per key, the latest version by docs/loading.md's precedence. The expected rows
are picked in Python from the versions written, by that precedence written out again, not by the SQL under test."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import duckdb

from ingestion.contract import BY_TABLE
from ingestion.warehouse import (
    current_rows_sql,
    current_select,
    current_table,
    ensure_raw_schema,
    quote_ident,
    refresh_current,
    transaction,
)

OPP = BY_TABLE["crm__opportunity"]  # versioned by SystemModstamp
CUSTOMER = BY_TABLE["billing__customer"]  # deletions are final
PRODUCT = BY_TABLE["billing__product"]  # versioned by `updated`, deletions are final


def _current(con, obj, cols: str) -> set[tuple]:
    rows = con.execute(f"SELECT {cols} FROM {current_table(obj)}").fetchall()
    assert len(rows) == len(set(rows)), "a record twice in the current table"
    return set(rows)


def _write(con, obj, rows: list[tuple], cols: str) -> None:
    """rows into raw.<table> under a new load id, then the current table refreshed, as the loader does."""
    load_id = f"load-{con.execute(f'SELECT count(DISTINCT _load_id) FROM raw.{quote_ident(obj.table)}').fetchone()[0]}"
    placeholders = ", ".join("?" for _ in cols.split(","))
    with transaction(con):
        con.executemany(
            f"INSERT INTO raw.{quote_ident(obj.table)} ({cols}, _load_id) VALUES ({placeholders}, ?)",
            [(*r, load_id) for r in rows],
        )
        refresh_current(con, obj, f"_load_id = '{load_id}'")


def test_hand_picked_versions_with_a_keyless_row_and_a_final_deletion():
    con = duckdb.connect()
    ensure_raw_schema(con, (OPP, CUSTOMER))
    assert con.execute(current_rows_sql(OPP)).fetchone()[0] == 0
    cols = '"Id", "SystemModstamp", "Name", _batch, _row_number'
    _write(
        con,
        OPP,
        [
            ("A", "2024-01-02 00:00:00+00", "A2", "b1", 1),
            ("A", "2024-01-01 00:00:00+00", "A1", "b1", 2),
            ("B", None, "B-nostamp", "b1", 3),
            (None, None, "nokey1", "b1", 4),
        ],
        cols,
    )
    pick = '"Id", "Name"'
    assert _current(con, OPP, pick) == {("A", "A2"), ("B", "B-nostamp"), (None, "nokey1")}
    # a later batch with an older stamp loses to the stamp; a stamped version beats a stampless one; the keyless
    # rows are one record whose later batch wins
    _write(
        con,
        OPP,
        [
            ("A", "2023-12-31 00:00:00+00", "A0", "b2", 1),
            ("B", "2020-01-01 00:00:00+00", "B-stamped", "b2", 2),
            (None, None, "nokey2", "b2", 3),
            ("C", "2024-01-01 00:00:00+00", "C1", "b2", 4),
        ],
        cols,
    )
    assert _current(con, OPP, pick) == {("A", "A2"), ("B", "B-stamped"), (None, "nokey2"), ("C", "C1")}
    assert con.execute(current_rows_sql(OPP)).fetchone()[0] == 4

    ccols = "id, deleted, email, _batch, _row_number"
    _write(con, CUSTOMER, [("cus_1", None, "a@x", "b1", 1), ("cus_2", None, "b@x", "b1", 2)], ccols)
    _write(con, CUSTOMER, [("cus_1", True, None, "b2", 1)], ccols)
    _write(con, CUSTOMER, [("cus_1", None, "back@x", "b3", 1)], ccols)  # a deleted customer stays deleted
    assert _current(con, CUSTOMER, "id, deleted, email") == {("cus_1", True, None), ("cus_2", None, "b@x")}


def _latest(versions: list[dict]) -> dict:
    """docs/loading.md's precedence, written out in Python: deletion (final), stamp (none = oldest), batch,
    delivery, row."""
    return max(
        versions,
        key=lambda v: (
            bool(v["deleted"]),
            v["stamp"] is not None,
            v["stamp"] or 0,
            v["batch"],
            v["loaded"],
            v["row"],
        ),
    )


def test_refreshed_for_the_touched_keys_it_equals_the_ranking_of_every_version():
    """Random rounds of versions (ties on stamp and batch, re-deliveries, deletions) written as the loader does;
    after each round the table equals the versions Python picks, and the ranking of all of raw."""
    rng = random.Random(20261207)
    con = duckdb.connect()
    ensure_raw_schema(con, (PRODUCT,))
    cols = "id, deleted, updated, name, _batch, _loaded_at, _row_number"
    written: dict[str, list[dict]] = {}
    for rnd in range(12):
        rows = []
        for row in range(rng.randint(1, 25)):
            key = f"prod_{rng.randint(1, 30)}"
            v = {
                "deleted": rng.random() < 0.05 or None,
                "stamp": rng.choice([None, rng.randint(1, 6)]),
                "batch": f"b{rng.randint(max(0, rnd - 3), rnd):02d}",  # batches arrive late too
                "loaded": rnd,
                "row": row,
                "name": f"{key}-{rnd}-{row}",
            }
            written.setdefault(key, []).append(v)
            rows.append(
                (
                    key,
                    v["deleted"],
                    v["stamp"] and datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=v["stamp"]),
                    v["name"],
                    v["batch"],
                    f"2026-01-01 00:00:{rnd:02d}+00",
                    row,
                )
            )
        _write(con, PRODUCT, rows, cols)
        want = {(k, _latest(vs)["name"]) for k, vs in written.items()}
        assert _current(con, PRODUCT, "id, name") == want, rnd
    ranked = set(con.execute(f"SELECT id, name FROM ({current_select(PRODUCT)})").fetchall())
    assert ranked == want and len(want) > 20


def test_a_view_from_an_older_warehouse_becomes_a_table_and_columns_follow_raw():
    con = duckdb.connect()
    ensure_raw_schema(con, (OPP,))
    con.execute(f"DROP TABLE {current_table(OPP)}")
    con.execute(f"CREATE VIEW {current_table(OPP)} AS {current_select(OPP)}")
    con.execute(
        'INSERT INTO raw.crm__opportunity ("Id", "Name", _batch, _row_number) '
        "VALUES ('A', 'old', 'b1', 1), ('A', 'new', 'b2', 1)"
    )
    con.execute('ALTER TABLE raw.crm__opportunity ADD COLUMN "Extra__c" VARCHAR')  # a column raw gained
    ensure_raw_schema(con, (OPP,))
    kind = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = 'crm__opportunity__current'"
    ).fetchone()[0]
    assert kind == 1
    assert _current(con, OPP, '"Id", "Name"') == {("A", "new")}

    def columns(table: str) -> list[str]:
        return [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' AND table_name = ? "
                "ORDER BY column_index",
                [table],
            ).fetchall()
        ]

    assert columns("crm__opportunity__current") == columns("crm__opportunity")
    assert "Extra__c" in columns("crm__opportunity__current")

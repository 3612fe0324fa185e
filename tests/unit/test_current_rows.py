"""current_rows_sql counts what a __current view holds without ranking the versions."""

import duckdb

from ingestion.contract import BY_TABLE
from ingestion.warehouse import current_rows_sql, ensure_raw_schema, quote_ident


def _view_count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM raw.{quote_ident(table + '__current')}").fetchone()[0]


def test_current_rows_counts_one_row_per_key_as_the_view_keeps():
    con = duckdb.connect()
    objs = (BY_TABLE["crm__opportunity"], BY_TABLE["billing__customer"])
    ensure_raw_schema(con, objs)
    for obj in objs:
        assert con.execute(current_rows_sql(obj)).fetchone()[0] == 0 == _view_count(con, obj.table)

    opp = objs[0]
    key = quote_ident(opp.key)
    # key A: 3 versions, B: 1, C: 2, and two rows without a key (one partition of the view's window)
    versions = ["A", "A", "A", "B", "C", "C", None, None]
    for i, k in enumerate(versions, start=1):
        con.execute(
            f"INSERT INTO raw.crm__opportunity ({key}, _batch, _row_number) VALUES (?, ?, ?)",
            [k, f"2024-01-0{1 + i % 3}", i],
        )
    # hand-counted: A, B, C and the keyless partition
    assert con.execute(current_rows_sql(opp)).fetchone()[0] == 4
    assert _view_count(con, opp.table) == 4

    # an object whose deletions are final counts a deleted record's stub as its current row, as the view does
    cust = objs[1]
    ckey, deleted = quote_ident(cust.key), quote_ident(cust.deleted)
    con.execute(
        f"INSERT INTO raw.billing__customer ({ckey}, {deleted}, _batch, _row_number) "
        "VALUES ('cus_1', NULL, 'b1', 1), ('cus_1', true, 'b2', 1), ('cus_2', NULL, 'b1', 2)"
    )
    assert con.execute(current_rows_sql(cust)).fetchone()[0] == 2 == _view_count(con, cust.table)

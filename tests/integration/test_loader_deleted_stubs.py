"""A Stripe deletion stub through the marts: a paying customer deleted takes its MRR months out of them.

The demo warehouse is built; the customer paying the most in the last month with MRR is deleted the way
Stripe answers for a deleted object (`{"id", "object", "deleted": true}`, nothing else); after the load and a
rebuild, fct_mrr_monthly has none of its months and every other customer's months are as before, so each
month's total MRR fell by exactly that customer's MRR of the month (numbers taken from the first build).
"""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb

from expectations.runner import validate
from expectations.suites import raw_suites
from ingestion.contract import BY_TABLE
from ingestion.loader import load_landing
from ingestion.warehouse import connect
from tests.warehouses import assert_ok, copy_built, dbt_build


def _mrr(warehouse) -> dict[tuple[str, object], tuple[Decimal, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT customer_id, month, mrr, movement_type FROM marts.fct_mrr_monthly"
        ).fetchall()
    finally:
        con.close()
    return {(c, m): (mrr, mv) for c, m, mrr, mv in rows}


def test_a_paying_customer_deleted_leaves_the_mrr_marts_and_stays_in_raw(demo_build, tmp_path):
    warehouse = copy_built(demo_build, tmp_path)
    before = _mrr(warehouse)
    last = max(m for (_, m), (mrr, _) in before.items() if mrr > 0)
    deleted = max((mrr, c) for (c, m), (mrr, _) in before.items() if m == last and mrr > 0)[1]
    months_of_deleted = {m: mrr for (c, m), (mrr, _) in before.items() if c == deleted}
    assert sum(1 for v in months_of_deleted.values() if v > 0) >= 2  # a paying customer with a history

    stub = {"id": deleted, "object": "customer", "deleted": True}
    path = tmp_path / "landing" / "billing" / "customers" / "9999_deleted.jsonl"
    path.write_text(json.dumps(stub) + "\n")
    with connect(warehouse) as con:
        versions = con.execute(
            "SELECT count(*) FROM raw.billing__customer WHERE id = ?", [deleted]
        ).fetchone()[0]
        report = load_landing(con, tmp_path / "landing")
        [fr] = [f for f in report.files if f.status == "loaded"]
        assert (fr.file, fr.rows_in, fr.rows_loaded, fr.rows_quarantined) == (
            "billing/customers/9999_deleted.jsonl",
            1,
            1,
            0,
        )
        # raw keeps every version, the stub is the current one
        assert con.execute("SELECT count(*) FROM raw.billing__customer WHERE id = ?", [deleted]).fetchone()[
            0
        ] == (versions + 1)
        assert con.execute(
            "SELECT deleted, created FROM raw.billing__customer__current WHERE id = ?", [deleted]
        ).fetchall() == [(True, None)]
    # the raw gates hold: the contract's required fields are for the objects that are not deleted
    for suite in raw_suites(
        [BY_TABLE[t] for t in ("billing__customer", "billing__product", "billing__price")]
    ).values():
        result = validate(warehouse, suite)
        assert result.error is None and result.passed, [str(r) for r in result.results if not r.success]
    assert_ok(
        dbt_build(warehouse, tmp_path, "--select", "stg_billing__customers+", "stg_billing__subscriptions+")
    )

    after = _mrr(warehouse)
    assert [k for k in after if k[0] == deleted] == []
    assert after == {k: v for k, v in before.items() if k[0] != deleted}
    totals = lambda rows: {m: sum(v[0] for (_, mm), v in rows.items() if mm == m) for (_, m) in rows}  # noqa: E731
    for month, total in totals(before).items():
        assert totals(after).get(month, Decimal(0)) == total - months_of_deleted.get(month, Decimal(0)), month
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute(
            "SELECT count(*) FROM staging.stg_billing__customers WHERE customer_id = ?", [deleted]
        ).fetchone() == (0,)
        assert con.execute(
            "SELECT count(*) FROM staging.stg_billing__subscriptions WHERE customer_id = ?", [deleted]
        ).fetchone() == (0,)
    finally:
        con.close()

"""The pipeline waterfall and the MRR movements on generated demo data, against a second formulation in Python.

rpt_pipeline_movement is recounted by walking every day of every quarter, comparing each opportunity's state
at the end of the day with the day before (the definition in _pipeline__models.yml, written as a loop instead
of the model's window functions over state changes). fct_mrr_movements is recounted per subscription from its
charges, valued at the end of every day; the model's rows of a subscription and day must add up to the change.
"""

from __future__ import annotations

import bisect
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.warehouses import assert_ok, copy_built, dbt_build

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def demo_warehouse(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_built(demo_build, tmp_path_factory.mktemp("movement_marts"))


@pytest.fixture(scope="module")
def con(demo_warehouse: Path):
    con = duckdb.connect(str(demo_warehouse), read_only=True)
    yield con
    con.close()


def records(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def quarter_of(d: date) -> str:
    # the demo data and these builds use the default fiscal year (starting in January)
    return f"FY{d.year}-Q{(d.month - 1) // 3 + 1}"


def quarter_bounds(label: str) -> tuple[date, date]:
    year, q = int(label[2:6]), int(label[-1])
    start = date(year, 3 * q - 2, 1)
    end = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - DAY
    return start, end


def recount_pipeline_movements(states: list[dict], first_day: date, as_of: date) -> dict[tuple, dict]:
    """(quarter, owner, category) -> movement sums, by comparing end-of-day states day by day."""
    by_opp: dict[str, list[dict]] = defaultdict(list)
    for s in states:
        by_opp[s["opportunity_id"]].append(s)
    rows: dict[tuple, dict] = defaultdict(lambda: defaultdict(Decimal))
    quarters = sorted(
        {quarter_of(first_day + timedelta(days=i)) for i in range((as_of - first_day).days + 1)}
    )
    for opp_states in by_opp.values():
        opp_states.sort(key=lambda s: s["valid_from"])
        starts = [s["valid_from"] for s in opp_states]

        def state_on(d: date, opp_states=opp_states, starts=starts):
            if d < first_day:
                return None
            i = bisect.bisect_right(starts, d) - 1
            if i < 0:
                return None
            s = opp_states[i]
            return s if s["valid_to"] is None or d < s["valid_to"] else None

        def in_quarter(s, q):
            return s is not None and not s["is_closed"] and s["close_fiscal_quarter"] == q

        def value(s):
            return s["amount"] if s["amount"] is not None else Decimal(0)

        for q in quarters:
            start, end = quarter_bounds(q)
            closing_day = min(end, as_of)
            if closing_day < starts[0] - DAY or (opp_states[-1]["valid_to"] or date.max) <= start - DAY:
                continue
            category, keyed, moves = None, False, []
            opening = state_on(start - DAY)
            if in_quarter(opening, q):
                category, keyed = opening["forecast_category"], True
                moves.append(("opening", value(opening)))
            day = max(start, starts[0])
            while day <= closing_day:
                before, after = state_on(day - DAY), state_on(day)
                if after is not before:
                    was, now = in_quarter(before, q), in_quarter(after, q)
                    closes_here = (
                        after is not None and after["is_closed"] and after["close_fiscal_quarter"] == q
                    )
                    reopens = before is not None and before["is_closed"]
                    if not was and (now or (closes_here and not reopens)):
                        if not keyed:
                            category, keyed = after["forecast_category"], True
                        kind = "pulled_in" if before is not None else "created"
                        moves.append((kind, value(after)))
                        if reopens:
                            moves.append(("reopened", value(after)))
                    if after is not None and after["is_closed"] and (was or (closes_here and not reopens)):
                        moves.append(("won" if after["is_won"] else "lost", value(after)))
                    if was and after is not None and not after["is_closed"] and not now:
                        moves.append(("slipped_out", value(before)))
                    if was and after is not None and (now or after["is_closed"]):
                        delta = value(after) - value(before)
                        if delta:
                            moves.append(("increased" if delta > 0 else "decreased", abs(delta)))
                day += DAY
            closing = state_on(closing_day)
            if in_quarter(closing, q):
                moves.append(("closing", value(closing)))
            if not moves:
                continue
            row = rows[(q, opp_states[0]["owner_user_id"], category)]
            for kind, amount in moves:
                row[kind] += amount
                row[f"{kind}_count"] += 1
    return rows


def test_pipeline_movement_equals_a_day_by_day_recount(con):
    states = records(con, "SELECT * FROM intermediate.int_opportunity_states_historized")
    first_day, as_of = con.execute(
        "SELECT min(date_day), max(date_day) FILTER (WHERE is_as_of_date) FROM marts.dim_date"
    ).fetchone()
    expected = recount_pipeline_movements(states, first_day, as_of)
    mart = {
        (r["fiscal_quarter"], r["owner_user_id"], r["forecast_category"]): r
        for r in records(con, "SELECT * FROM marts.rpt_pipeline_movement")
    }
    assert set(mart) == set(expected)
    columns = {
        "opening": "opening_pipeline",
        "closing": "closing_pipeline",
        **{
            k: k
            for k in (
                "created",
                "pulled_in",
                "reopened",
                "increased",
                "decreased",
                "slipped_out",
                "won",
                "lost",
            )
        },
    }
    for key, want in expected.items():
        got = mart[key]
        for kind, column in columns.items():
            assert got[column] == want[kind], (key, column, got[column], want[kind])
            assert got[f"{kind}_count"] == want[f"{kind}_count"], (key, kind)
    # the data exercises every kind of movement (reopened deals included)
    totals = {c: sum(r[c] for r in mart.values()) for c in columns.values()}
    assert all(totals[c] > 0 for c in columns.values() if c != "closing_pipeline"), totals
    assert sum(r["fx_revaluation"] != 0 for r in mart.values()) > 0


def test_pipeline_movement_closing_is_the_next_quarters_history(con):
    """A quarter's closing pipeline per owner is the snapshot on its last day, so what the next quarter opens
    with is only its own quarter's pipeline: the bridge does not leak across quarters."""
    rows = records(
        con,
        """
        SELECT m.fiscal_quarter, m.owner_user_id, sum(m.closing_pipeline) AS closing, any_value(s.amount) AS snap
        FROM marts.rpt_pipeline_movement AS m
        LEFT JOIN (
            SELECT snapshot_date, owner_user_id, close_fiscal_quarter, sum(amount) AS amount
            FROM marts.fct_pipeline_snapshot_daily GROUP BY ALL
        ) AS s ON s.snapshot_date = m.closing_date AND s.owner_user_id = m.owner_user_id
            AND s.close_fiscal_quarter = m.fiscal_quarter
        GROUP BY ALL
        """,
    )
    assert rows
    for r in rows:
        assert r["closing"] == (r["snap"] or 0), r


def mrr_value(gross: float, percent_off, amount_off) -> Decimal:
    net = max(gross * (1 - float(percent_off or 0) / 100) - float(amount_off or 0), 0.0)
    return Decimal(str(round(net, 6)))


def test_mrr_movements_add_up_to_each_subscriptions_daily_change(con):
    """Per subscription, its MRR at the end of every day recomputed here from the charges in force (the demo
    data has no discounts); each day's change equals the sum of the model's rows of that subscription and day."""
    as_of = con.execute("SELECT max(date_day) FILTER (WHERE is_as_of_date) FROM marts.dim_date").fetchone()[0]
    assert (
        con.execute(
            "SELECT count(*) FROM staging.stg_billing__subscriptions WHERE discount_percent_off IS NOT NULL OR discount_amount_off_minor IS NOT NULL"
        ).fetchone()[0]
        == 0
    ), "this recount does not model discounts"
    subs = {
        r["subscription_id"]: r
        for r in records(
            con,
            "SELECT subscription_id, status, started_at, coalesce(ended_at, CASE WHEN status = 'canceled' "
            "THEN canceled_at END) AS ended_at FROM staging.stg_billing__subscriptions "
            "WHERE status NOT IN ('incomplete', 'incomplete_expired')",
        )
    }
    charges: dict[str, list[dict]] = defaultdict(list)
    for c in records(con, "SELECT * FROM intermediate.int_recurring_charges_normalized"):
        if c["subscription_id"] in subs:
            charges[c["subscription_id"]].append(c)

    def in_force(start, end, instant: datetime) -> bool:
        return start < instant and (end is None or end >= instant)

    expected: dict[tuple, Decimal] = {}
    for sub_id, sub in subs.items():
        days = set()
        for c in charges[sub_id]:
            days |= {c["effective_from"].date(), c["effective_to"].date()}
        days |= {sub["started_at"].date()} | ({sub["ended_at"].date()} if sub["ended_at"] else set())
        previous = Decimal(0)
        for d in sorted(x for x in days if x <= as_of):
            instant = datetime.combine(d + DAY, datetime.min.time())
            gross = sum(
                c["monthly_amount"]
                for c in charges[sub_id]
                if in_force(c["effective_from"], c["effective_to"], instant)
            )
            now = (
                mrr_value(gross, 0, 0)
                if in_force(sub["started_at"], sub["ended_at"], instant)
                else Decimal(0)
            )
            if now != previous:
                expected[(sub_id, d)] = now - previous
            previous = now
    got: dict[tuple, Decimal] = defaultdict(Decimal)
    for r in records(
        con,
        "SELECT subscription_id, movement_date, sum(movement_amount_native) AS change "
        "FROM marts.fct_mrr_movements GROUP BY ALL",
    ):
        got[(r["subscription_id"], r["movement_date"])] = r["change"]
    assert len(expected) > 100
    assert set(got) == set(expected)
    for key, change in expected.items():
        assert abs(got[key] - change) <= Decimal("0.000001"), (key, got[key], change)


def test_mrr_movement_types_follow_the_customers_mrr(con):
    """Replaying each customer's movements in order: new only while it never had MRR, reactivation when it had,
    churn when it drops to 0, expansion / contraction otherwise (amounts in native currency, per customer)."""
    rows = records(
        con,
        "SELECT customer_id, movement_date, subscription_id, currency, movement_type, movement_amount_native "
        "FROM marts.fct_mrr_movements ORDER BY customer_id, movement_date",
    )
    by_day: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        by_day[(r["customer_id"], r["movement_date"])].append(r)
    balance: dict[tuple, Decimal] = defaultdict(Decimal)  # (customer, subscription, currency) -> MRR
    ever_paid: set[str] = set()
    seen = defaultdict(int)
    for (customer, _day), day_rows in sorted(by_day.items()):
        paying_before = any(v > 0 for (c, _, _), v in balance.items() if c == customer)
        for r in day_rows:
            balance[(customer, r["subscription_id"], r["currency"])] += r["movement_amount_native"]
        paying_after = any(v > 0 for (c, _, _), v in balance.items() if c == customer)
        for r in day_rows:
            if not paying_before and paying_after:
                want = "reactivation" if customer in ever_paid else "new"
            elif paying_before and not paying_after:
                want = "churn"
            else:
                want = "expansion" if r["movement_amount_native"] > 0 else "contraction"
            assert r["movement_type"] == want, r
            seen[want] += 1
        if paying_after:
            ever_paid.add(customer)
    assert min(balance.values()) >= 0
    assert seen["new"] > 50 and seen["churn"] > 10 and seen["expansion"] > 10


def test_events_convention_splits_the_same_monthly_change(demo_warehouse, tmp_path):
    """Built with mrr_convention=events, rpt_mrr_movements_monthly sums per customer and month to the same
    change as the month-end convention (fct_mrr_monthly), and its rows are fct_mrr_movements' sums."""
    work = tmp_path / "events"
    work.mkdir()
    copy = work / "warehouse.duckdb"
    shutil.copyfile(demo_warehouse, copy)
    assert_ok(
        dbt_build(
            copy, work, "--select", "rpt_mrr_movements_monthly", settings={"SALESDW_MRR_CONVENTION": "events"}
        )
    )
    events = duckdb.connect(str(copy), read_only=True)
    try:
        mismatches = events.execute(
            """
            WITH by_events AS (
                SELECT customer_id, month, sum(movement_amount) AS change,
                       bool_and(mrr_convention = 'events') AS is_events
                FROM marts.rpt_mrr_movements_monthly GROUP BY ALL
            ),
            month_end AS (SELECT customer_id, month, movement_amount AS change FROM marts.fct_mrr_monthly),
            raw_events AS (
                SELECT customer_id, month, movement_type, sum(movement_amount) AS amount
                FROM marts.fct_mrr_movements GROUP BY ALL
            )
            SELECT 'change' AS what, customer_id, month FROM by_events FULL JOIN month_end USING (customer_id, month)
            WHERE coalesce(by_events.change, 0) <> coalesce(month_end.change, 0) OR NOT coalesce(is_events, true)
            UNION ALL
            SELECT 'split', customer_id, month FROM marts.rpt_mrr_movements_monthly AS r
            FULL JOIN raw_events USING (customer_id, month, movement_type)
            WHERE r.movement_amount IS DISTINCT FROM raw_events.amount
            """
        ).fetchall()
    finally:
        events.close()
    assert mismatches == []

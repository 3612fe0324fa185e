"""The MetricFlow metrics answer what the marts say, and what an independent SQL on the raw layer says.

Every MetricFlow answer here is read from the published serving file through bi.metrics; the mart side reads
the same file with plain SQL, the raw side the warehouse's raw.*__current tables (soft deletes dropped, won /
closed from OpportunityStage, amounts converted at the DatedConversionRate valid on the close date).
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import mean

import duckdb
import pytest

# The demo data's fiscal year starts in January (the project default): FY2025-Q1 is 2025-01..03.
RAW_QUARTER = "'FY' || year({d}) || '-Q' || quarter({d})"
RAW_OPPORTUNITIES = """
    WITH opp AS (
        SELECT o.*, coalesce(upper(o.CurrencyIsoCode), 'USD') AS cur, st.IsClosed AS closed, st.IsWon AS won
        FROM raw.crm__opportunity__current AS o
        JOIN raw.crm__opportunity_stage__current AS st ON st.MasterLabel = o.StageName
        WHERE NOT coalesce(o.IsDeleted, false)
    )
    SELECT opp.*,
        CASE WHEN opp.cur = 'USD' THEN opp.Amount ELSE opp.Amount / r.ConversionRate END AS amount_usd,
        'FY' || year(opp.CloseDate) || '-Q' || quarter(opp.CloseDate) AS close_quarter
    FROM opp
    LEFT JOIN raw.crm__dated_conversion_rate__current AS r
        ON upper(r.IsoCode) = opp.cur AND opp.CloseDate >= r.StartDate AND opp.CloseDate < r.NextStartDate
"""


def same(a, b, rel: float = 1e-9, abs_: float = 0.005) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


def by_key(records: list[dict], *keys: str) -> dict[tuple, dict]:
    out = {tuple(r[k] for k in keys): r for r in records}
    assert len(out) == len(records), f"duplicate keys {keys}"
    return out


@pytest.fixture(scope="module")
def marts(bi_warehouse):
    con = duckdb.connect(str(bi_warehouse[1]), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def raw(bi_warehouse):
    con = duckdb.connect(str(bi_warehouse[0]), read_only=True)
    yield con
    con.close()


def rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# mart column of rpt_rep_performance_quarterly <- metric
REP_QUARTER_METRICS = {
    "bookings": "bookings",
    "won_count": "won_count",
    "lost_count": "lost_count",
    "win_rate_count": "win_rate_count",
    "win_rate_value": "win_rate_value",
    "avg_deal_size": "avg_deal_size",
    "sales_cycle_days": "avg_days_to_close_won",
    "pipeline_created": "pipeline_created",
    "opportunities_created": "opportunities_created",
    "quota": "quota",
    "attainment": "attainment",
    "quarter_start_pipeline": "open_pipeline_closing_in_quarter_at_quarter_start",
    "pipeline_coverage": "pipeline_coverage",
    "calls": "calls",
    "emails": "emails",
    "meetings_held": "meetings_held",
}
ADDITIVE = {
    "bookings",
    "won_count",
    "lost_count",
    "pipeline_created",
    "opportunities_created",
    "calls",
    "emails",
}
ADDITIVE |= {"meetings_held", "quarter_start_pipeline"}


def test_rep_quarter_metrics_equal_the_mart(metrics_client, marts):
    answer = metrics_client.query(f"{', '.join(REP_QUARTER_METRICS)} by rep, fiscal_quarter")
    assert {"rep", "metric_time__fiscal_quarter"} <= set(answer.columns)
    got = by_key(answer.records(), "rep", "metric_time__fiscal_quarter")
    mart = rows(marts, "SELECT * FROM marts.rpt_rep_performance_quarterly")
    assert len(mart) > 40
    assert sum(r["won_count"] for r in mart) > 100 and any(r["quota"] for r in mart)
    for r in mart:
        m = got.get((r["user_id"], r["fiscal_quarter"]), {})
        for metric, column in REP_QUARTER_METRICS.items():
            value = m.get(metric)
            if metric in ADDITIVE and value is None:
                value = 0  # no row on the metric's side = nothing happened
            assert same(value, r[column]), (r["user_id"], r["fiscal_quarter"], metric, value, r[column])
    # and no closed, created, quota or pipeline amount up to the as-of quarter is missing from the mart. Activities
    # can be: the mart has rows only for reps (an opportunity or a quota) from their first such quarter, so a
    # manager's calls, or a new rep's calls before their first opportunity, are in the metric and not in the mart.
    last = max(r["fiscal_quarter"] for r in mart)
    in_mart = {(r["user_id"], r["fiscal_quarter"]) for r in mart}
    activity = {"calls", "emails", "meetings_held"}
    outside = 0
    for key, m in got.items():
        if key[0] is not None and key[1] <= last and key not in in_mart:
            assert all(not m[k] for k in ADDITIVE - activity), (key, m)
            outside += sum(m[k] or 0 for k in activity)
    all_activities = marts.execute(
        "SELECT count(*) FROM marts.fct_activities WHERE user_id IS NOT NULL AND activity_type IN ('call', 'email') "
        "OR (activity_type = 'meeting' AND outcome = 'held' AND user_id IS NOT NULL)"
    ).fetchone()[0]
    in_rep_rows = sum(r["calls"] + r["emails"] + r["meetings_held"] for r in mart)
    assert in_rep_rows + outside == all_activities


def test_closed_business_by_rep_and_quarter_equals_raw(metrics_client, raw):
    got = by_key(
        metrics_client.query("bookings, won_count, lost_count by rep, fiscal_quarter").records(),
        "rep",
        "metric_time__fiscal_quarter",
    )
    expected = rows(
        raw,
        f"""
        SELECT OwnerId AS rep, close_quarter AS q,
            sum(CASE WHEN won THEN amount_usd ELSE 0 END) AS bookings,
            count(*) FILTER (WHERE won) AS won_count,
            count(*) FILTER (WHERE closed AND NOT won) AS lost_count
        FROM ({RAW_OPPORTUNITIES}) WHERE closed GROUP BY ALL
        """,
    )
    assert sum(e["won_count"] for e in expected) > 100
    # a row per rep and quarter with a closed deal, and no other: an open deal's planned close quarter is no
    # period with zero bookings
    assert set(got) == {(e["rep"], e["q"]) for e in expected}
    for e in expected:
        m = got[(e["rep"], e["q"])]
        for k in ("bookings", "won_count", "lost_count"):
            assert same(m[k], e[k]), (e["rep"], e["q"], k, m[k], e[k])


def test_win_rate_over_a_year_is_won_over_closed_not_an_average_of_quarters(metrics_client, marts, raw):
    yearly = by_key(
        metrics_client.query("win_rate_count, win_rate_value by fiscal_year").records(),
        "metric_time__fiscal_year",
    )
    quarterly = metrics_client.query("win_rate_count by fiscal_quarter").records()
    mart = rows(
        marts,
        """
        SELECT CAST(substr(fiscal_quarter, 3, 4) AS INTEGER) AS y,
            sum(won_count) / sum(won_count + lost_count) AS by_count
        FROM marts.rpt_rep_performance_quarterly GROUP BY 1 HAVING sum(won_count + lost_count) > 0
        """,
    )
    raw_years = by_key(
        rows(
            raw,
            f"""
            SELECT year(CloseDate) AS y,
                count(*) FILTER (WHERE won) / count(*) FILTER (WHERE closed) AS by_count,
                sum(CASE WHEN won THEN amount_usd ELSE 0 END) / sum(CASE WHEN closed THEN amount_usd ELSE 0 END)
                    AS by_value
            FROM ({RAW_OPPORTUNITIES}) WHERE closed GROUP BY 1
            """,
        ),
        "y",
    )
    assert len(mart) >= 2
    differs_from_average = 0
    for r in mart:
        y = r["y"]
        assert same(yearly[(y,)]["win_rate_count"], r["by_count"]), y
        assert same(yearly[(y,)]["win_rate_count"], raw_years[(y,)]["by_count"]), y
        assert same(yearly[(y,)]["win_rate_value"], raw_years[(y,)]["by_value"]), y
        rates = [
            q["win_rate_count"] for q in quarterly if q["metric_time__fiscal_quarter"].startswith(f"FY{y}-")
        ]
        average = mean(x for x in rates if x is not None)
        differs_from_average += not same(average, r["by_count"], rel=1e-6, abs_=0)
    # the data is uneven enough that the average of quarterly rates is a different (wrong) number
    assert differs_from_average >= 1


def test_bookings_by_manager_and_quarter_equal_mart_and_raw(metrics_client, marts, raw):
    got = by_key(
        metrics_client.query("bookings by rep__manager_name, fiscal_quarter").records(),
        "rep__manager_name",
        "metric_time__fiscal_quarter",
    )
    mart = rows(
        marts,
        """
        SELECT u.manager_name, p.fiscal_quarter, sum(p.bookings) AS bookings
        FROM marts.rpt_rep_performance_quarterly AS p JOIN marts.dim_users AS u USING (user_id) GROUP BY ALL
        """,
    )
    expected = rows(
        raw,
        f"""
        SELECT m.Name AS manager_name, o.close_quarter AS fiscal_quarter, sum(o.amount_usd) AS bookings
        FROM ({RAW_OPPORTUNITIES}) AS o
        JOIN raw.crm__user__current AS u ON u.Id = o.OwnerId
        LEFT JOIN raw.crm__user__current AS m ON m.Id = u.ManagerId
        WHERE o.won GROUP BY ALL
        """,
    )
    assert len({e["manager_name"] for e in expected}) >= 2
    for r in mart:
        assert same(
            got.get((r["manager_name"], r["fiscal_quarter"]), {}).get("bookings", 0), r["bookings"]
        ), r
    for e in expected:
        assert same(got[(e["manager_name"], e["fiscal_quarter"])]["bookings"], e["bookings"]), e


def test_bookings_and_win_rate_by_segment_equal_raw(metrics_client, raw):
    got = by_key(
        metrics_client.query("bookings, win_rate_count by account__segment").records(), "account__segment"
    )
    expected = rows(
        raw,
        f"""
        SELECT CASE WHEN a.Id IS NULL THEN NULL
                    WHEN a.NumberOfEmployees IS NULL THEN 'Unknown'
                    WHEN a.NumberOfEmployees < 200 THEN 'SMB'
                    WHEN a.NumberOfEmployees < 2000 THEN 'Mid-Market'
                    ELSE 'Enterprise' END AS segment,
            sum(CASE WHEN o.won THEN o.amount_usd ELSE 0 END) AS bookings,
            count(*) FILTER (WHERE o.won) / nullif(count(*) FILTER (WHERE o.closed), 0) AS win_rate
        FROM ({RAW_OPPORTUNITIES}) AS o
        LEFT JOIN raw.crm__account__current AS a ON a.Id = o.AccountId AND NOT coalesce(a.IsDeleted, false)
        GROUP BY 1
        """,
    )
    assert len([e for e in expected if e["segment"]]) >= 3
    for e in expected:
        m = got[(e["segment"],)]
        assert same(m["bookings"], e["bookings"]), e
        assert same(m["win_rate_count"], e["win_rate"]), e


def test_open_and_weighted_pipeline_by_stage_equal_snapshot_and_raw(metrics_client, marts, raw):
    got = by_key(
        metrics_client.query(
            "open_pipeline, weighted_pipeline, open_opportunities by pipeline_snapshot__stage_name"
        ).records(),
        "pipeline_snapshot__stage_name",
    )
    mart = rows(
        marts,
        """
        SELECT stage_name, sum(amount) AS amount, sum(expected_amount) AS weighted, count(*) AS n
        FROM marts.fct_pipeline_snapshot_daily
        WHERE snapshot_date = (SELECT date_day FROM marts.dim_date WHERE is_as_of_date) GROUP BY 1
        """,
    )
    expected = rows(
        raw,
        f"""
        SELECT StageName AS stage_name, sum(amount_usd) AS amount, sum(amount_usd * Probability / 100) AS weighted,
            count(*) AS n
        FROM ({RAW_OPPORTUNITIES}) WHERE NOT closed GROUP BY 1
        """,
    )
    assert len(mart) >= 4 and sum(r["n"] for r in mart) > 20
    assert len(got) == len(mart) == len(expected)
    for r in mart:
        m = got[(r["stage_name"],)]
        assert (m["open_opportunities"], same(m["open_pipeline"], r["amount"])) == (r["n"], True), r
        assert same(m["weighted_pipeline"], r["weighted"]), r
    for e in expected:
        m = got[(e["stage_name"],)]
        assert m["open_opportunities"] == e["n"], e
        assert same(m["open_pipeline"], e["amount"], abs_=0.01), e
        assert same(m["weighted_pipeline"], e["weighted"], abs_=0.01), e


def test_stage_conversion_equals_the_funnel_mart(metrics_client, marts):
    by_cohort = by_key(
        metrics_client.query("stage_conversion, stage_reached by fiscal_quarter, stage_name").records(),
        "metric_time__fiscal_quarter",
        "funnel_row__stage_name",
    )
    overall = by_key(
        metrics_client.query("stage_conversion by stage_name").records(), "funnel_row__stage_name"
    )
    funnel = rows(marts, "SELECT * FROM marts.rpt_pipeline_funnel")
    assert len(funnel) >= 20
    for r in funnel:
        # metric_time here is the cohort quarter's first day, derived from the label: it must land in that quarter
        m = by_cohort[(r["cohort_fiscal_quarter"], r["stage_name"])]
        assert m["stage_reached"] == r["reached_count"], r
        assert same(m["stage_conversion"], r["conversion_rate"]), r
    totals = rows(
        marts,
        "SELECT stage_name, sum(advanced_count) / nullif(sum(reached_count), 0) AS rate "
        "FROM marts.rpt_pipeline_funnel GROUP BY 1",
    )
    for t in totals:
        assert same(overall[(t["stage_name"],)]["stage_conversion"], t["rate"]), t


BRIDGE = {
    "starting_mrr": "starting_mrr",
    "new_mrr": "new",
    "expansion_mrr": "expansion",
    "contraction_mrr": "contraction",
    "churned_mrr": "churn",
    "reactivation_mrr": "reactivation",
    "mrr": "ending_mrr",
    "fx_adjustment": "fx_adjustment",
    "paying_customers": "ending_customers",
    "churned_customers": "churned_customers",
    "logo_churn_rate": "logo_churn_rate",
    "grr_12m": "grr_12m",
    "nrr_12m": "nrr_12m",
}


def test_mrr_bridge_and_retention_by_month_equal_the_mart(metrics_client, marts):
    got = by_key(
        metrics_client.query(f"{', '.join(BRIDGE)}, net_new_mrr, arr by month").records(),
        "metric_time__month",
    )
    mart = rows(marts, "SELECT * FROM marts.rpt_revenue_retention ORDER BY month")
    assert len(mart) >= 12 and any(r["grr_12m"] is not None for r in mart) and any(r["churn"] for r in mart)
    for r in mart:
        m = got[(r["month"],)] if (r["month"],) in got else got[(_as_datetime(r["month"]),)]
        for metric, column in BRIDGE.items():
            assert same(m[metric], r[column]), (r["month"], metric, m[metric], r[column])
        net = r["new"] + r["expansion"] + r["reactivation"] - r["contraction"] - r["churn"]
        assert same(m["net_new_mrr"], net) and same(m["arr"], 12 * r["ending_mrr"]), r["month"]


def test_mrr_over_a_quarter_is_the_quarter_end_value_and_the_bridge_holds(metrics_client, marts):
    got = by_key(
        metrics_client.query("starting_mrr, net_new_mrr, mrr, fx_adjustment by quarter").records(),
        "metric_time__quarter",
    )
    mart = rows(
        marts,
        """
        SELECT date_trunc('quarter', month) AS q,
            arg_min(starting_mrr, month) AS starting, arg_max(ending_mrr, month) AS ending,
            sum(fx_adjustment) AS fx
        FROM marts.rpt_revenue_retention GROUP BY 1
        """,
    )
    assert len(mart) >= 4
    for r in mart:
        m = got[(_as_datetime(r["q"]),)]
        assert same(m["starting_mrr"], r["starting"]) and same(m["mrr"], r["ending"]), r
        assert same(m["fx_adjustment"], r["fx"]), r
    # ending = starting + movements + the exchange-rate effects of the quarter's later months
    first_fx = {
        _as_datetime(r["q"]): float(r["fx"])
        for r in rows(
            marts,
            "SELECT date_trunc('quarter', month) AS q, arg_min(fx_adjustment, month) AS fx "
            "FROM marts.rpt_revenue_retention GROUP BY 1",
        )
    }
    for (q,), m in got.items():
        assert same(m["mrr"], m["starting_mrr"] + m["net_new_mrr"] + m["fx_adjustment"] - first_fx[q]), q


def test_activities_per_rep_is_activities_over_active_reps(metrics_client, marts):
    got = by_key(
        metrics_client.query("activities_per_rep, activities, active_reps by fiscal_year").records(),
        "metric_time__fiscal_year",
    )
    expected = rows(
        marts,
        """
        SELECT d.fiscal_year, count(*) AS n, count(DISTINCT a.user_id) AS reps
        FROM marts.fct_activities AS a JOIN marts.dim_date AS d ON d.date_day = a.occurred_date
        WHERE a.user_id IS NOT NULL GROUP BY 1
        """,
    )
    assert expected and all(e["reps"] >= 2 for e in expected)
    for e in expected:
        m = got[(e["fiscal_year"],)]
        assert (m["activities"], m["active_reps"]) == (e["n"], e["reps"]), e
        assert same(m["activities_per_rep"], e["n"] / e["reps"]), e


def test_attainment_over_a_year_is_bookings_over_quota(metrics_client, marts):
    got = by_key(
        metrics_client.query("attainment by rep, fiscal_year").records(), "rep", "metric_time__fiscal_year"
    )
    mart = rows(
        marts,
        """
        SELECT user_id, CAST(substr(fiscal_quarter, 3, 4) AS INTEGER) AS y, sum(bookings) / sum(quota) AS attainment
        FROM marts.rpt_rep_performance_quarterly GROUP BY ALL HAVING sum(quota) > 0
        """,
    )
    assert len(mart) >= 5
    for r in mart:
        assert same(got[(r["user_id"], r["y"])]["attainment"], r["attainment"]), r


def test_unknown_names_get_a_clear_error(metrics_client):
    from bi.metrics import MetricsError

    with pytest.raises(MetricsError, match="unknown metric bookingz"):
        metrics_client.query("bookingz by rep")
    with pytest.raises(MetricsError, match="is not a dimension"):
        metrics_client.query("bookings by no_such_thing")
    # a snapshot has its own stage (that day's) and its opportunity's current one: the user must say which
    with pytest.raises(
        MetricsError, match="ambiguous.*opportunity__stage_name.*pipeline_snapshot__stage_name"
    ):
        metrics_client.query("open_pipeline by stage_name")


def _as_datetime(d):
    from datetime import datetime

    return datetime(d.year, d.month, d.day)


def test_every_metric_stays_inside_the_data(metrics_client, bi_warehouse):
    """No metric, by any time grain, has a row without a period or a period before the data or after the as-of
    date (an open deal's planned close quarter is not a quarter with zero bookings)."""
    from tests.bi.inside_data import periods_outside_data

    assert periods_outside_data(metrics_client, bi_warehouse[1]) == []


def test_periods_after_the_as_of_date_only_when_asked(metrics_client):
    """Queries stop at the marts' as-of date (set with SALESDW_AS_OF_DATE, the marts can describe an earlier day
    than the latest data); after_as_of lifts the bound."""
    from bi.metrics import MetricQuery

    as_of = metrics_client.as_of.isoformat()
    bounded = metrics_client.query(MetricQuery(("bookings",), ("fiscal_quarter",)))
    unbounded = metrics_client.query(MetricQuery(("bookings",), ("fiscal_quarter",), after_as_of=True))
    assert f"<= '{as_of}'" in bounded.sql and f"'{as_of}'" not in unbounded.sql
    # on the demo data the as-of date is the latest data date: nothing closed after it
    assert bounded.rows == unbounded.rows


def test_a_new_client_reads_the_file_as_published_now(bi_warehouse, tmp_path):
    """dbt keeps one adapter and DuckDB instance per process: a client opened after a publish replaced the file must
    read the new file, not the one an earlier client of the same path attached."""
    import shutil

    from bi.metrics import MetricsClient

    serving = tmp_path / "salesdw_marts.duckdb"
    shutil.copy(bi_warehouse[1], serving)
    with MetricsClient(serving) as client:
        before = client.query("opportunities_created").rows[0][0]
    replaced = tmp_path / "next.duckdb"
    shutil.copy(bi_warehouse[1], replaced)
    con = duckdb.connect(str(replaced))
    con.execute(
        "DELETE FROM marts.fct_opportunities WHERE opportunity_id IN (SELECT opportunity_id FROM marts.fct_opportunities LIMIT 7)"
    )
    con.close()
    replaced.replace(serving)  # as publish does: a new file renamed over the old one
    with MetricsClient(serving) as client:
        after = client.query("opportunities_created").rows[0][0]
        dbt_log = (Path(client._work.name) / "logs" / "dbt.log").read_text()
    assert before > 7 and after == before - 7
    # and it parsed from the state the first client's parse saved (MetricsClient._parse), not the whole project
    assert "Unable to do partial parsing" not in dbt_log
    assert "Partial parsing enabled, no changes found, skipping parsing" in dbt_log

"""The pipeline waterfall and MRR movement metrics answer what the marts say, and what a second SQL says.

The waterfall metrics are checked against rpt_pipeline_movement and, for both ends, against the daily pipeline
snapshot directly. The MRR movement metrics follow var mrr_convention: the default build (month_end) is checked
in test_metrics.py against rpt_revenue_retention; here a copy of the warehouse is rebuilt with
SALESDW_MRR_CONVENTION=events and published, and the same metrics (and the dashboard's MRR bridge) must then be
fct_mrr_movements summed by month and type, while their net still equals the month-end change.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, datetime

import duckdb
import pytest

from ingestion.publish import publish_marts
from tests.warehouses import assert_ok, dbt_build

STEPS = ("created", "pulled_in", "reopened", "increased", "decreased", "slipped_out", "won", "lost")
WATERFALL = {
    "waterfall_opening": "opening_pipeline",
    "waterfall_opening_count": "opening_count",
    **{f"waterfall_{s}": s for s in STEPS},
    **{f"waterfall_{s}_count": f"{s}_count" for s in STEPS if s != "reopened"},
    "waterfall_fx_revaluation": "fx_revaluation",
    "waterfall_closing": "closing_pipeline",
    "waterfall_closing_count": "closing_count",
}
MRR_MOVEMENTS = {
    "new_mrr": "new",
    "expansion_mrr": "expansion",
    "contraction_mrr": "contraction",
    "churned_mrr": "churn",
    "reactivation_mrr": "reactivation",
}


def same(a, b, abs_: float = 0.005) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=abs_)


def rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def as_day(v) -> date:
    return v.date() if isinstance(v, datetime) else v


@pytest.fixture(scope="module")
def marts(bi_warehouse):
    con = duckdb.connect(str(bi_warehouse[1]), read_only=True)
    yield con
    con.close()


def test_waterfall_metrics_by_rep_and_quarter_equal_the_mart(metrics_client, marts):
    got = {
        (r["rep"], r["metric_time__fiscal_quarter"]): r
        for r in metrics_client.query(f"{', '.join(WATERFALL)} by rep, fiscal_quarter").records()
    }
    mart = rows(
        marts,
        f"SELECT owner_user_id, fiscal_quarter, {', '.join(f'sum({c}) AS {c}' for c in set(WATERFALL.values()))} "
        "FROM marts.rpt_pipeline_movement GROUP BY ALL",
    )
    assert (
        len(mart) > 20 and sum(r["won_count"] for r in mart) > 100 and sum(r["pulled_in_count"] for r in mart)
    )
    assert set(got) == {(r["owner_user_id"], r["fiscal_quarter"]) for r in mart}
    for r in mart:
        m = got[(r["owner_user_id"], r["fiscal_quarter"])]
        for metric, column in WATERFALL.items():
            assert same(m[metric], r[column]), (
                r["owner_user_id"],
                r["fiscal_quarter"],
                metric,
                m[metric],
                r[column],
            )


def test_waterfall_ends_equal_the_snapshot_and_the_bridge_holds(metrics_client, marts):
    """Second formulation of both ends: the daily snapshot on the day before each quarter and on its last day (or
    the as-of date), for opportunities closing in it; in between the movements bridge the two exactly."""
    got = {
        r["metric_time__fiscal_quarter"]: r
        for r in metrics_client.query(
            "waterfall_opening, waterfall_closing, waterfall_net_change, waterfall_opening_count, "
            "waterfall_closing_count by fiscal_quarter"
        ).records()
    }
    snapshot = {
        r["fiscal_quarter"]: r
        for r in rows(
            marts,
            """
            WITH q AS (
                SELECT fiscal_quarter, min(fiscal_quarter_start) - 1 AS opening_day,
                       least(min(fiscal_quarter_end), (SELECT date_day FROM marts.dim_date WHERE is_as_of_date))
                           AS closing_day
                FROM marts.dim_date
                WHERE fiscal_quarter_start <= (SELECT date_day FROM marts.dim_date WHERE is_as_of_date)
                GROUP BY 1
            )
            SELECT q.fiscal_quarter,
                   coalesce(sum(s.amount) FILTER (WHERE s.snapshot_date = q.opening_day), 0) AS opening,
                   count(*) FILTER (WHERE s.snapshot_date = q.opening_day) AS opening_count,
                   coalesce(sum(s.amount) FILTER (WHERE s.snapshot_date = q.closing_day), 0) AS closing,
                   count(*) FILTER (WHERE s.snapshot_date = q.closing_day) AS closing_count
            FROM q JOIN marts.fct_pipeline_snapshot_daily AS s
                ON s.snapshot_date IN (q.opening_day, q.closing_day) AND s.close_fiscal_quarter = q.fiscal_quarter
            GROUP BY 1
            """,
        )
    }
    assert len(snapshot) >= 6
    for quarter, s in snapshot.items():
        m = got[quarter]
        assert same(m["waterfall_opening"], s["opening"]) and same(m["waterfall_closing"], s["closing"]), (
            quarter
        )
        assert (m["waterfall_opening_count"], m["waterfall_closing_count"]) == (
            s["opening_count"],
            s["closing_count"],
        ), quarter
    for quarter, m in got.items():
        assert same(m["waterfall_opening"] + m["waterfall_net_change"], m["waterfall_closing"]), quarter


def test_waterfall_over_a_year_opens_with_its_first_quarter_and_closes_with_its_last(metrics_client, marts):
    got = {
        r["metric_time__fiscal_year"]: r
        for r in metrics_client.query(
            "waterfall_opening, waterfall_won, waterfall_closing by fiscal_year"
        ).records()
    }
    mart = rows(
        marts,
        """
        SELECT CAST(substr(fiscal_quarter, 3, 4) AS INTEGER) AS fiscal_year, fiscal_quarter,
               sum(opening_pipeline) AS opening, sum(won) AS won, sum(closing_pipeline) AS closing
        FROM marts.rpt_pipeline_movement GROUP BY ALL
        """,
    )
    years = {r["fiscal_year"] for r in mart}
    assert len(years) >= 2
    for y in years:
        quarters = sorted((r for r in mart if r["fiscal_year"] == y), key=lambda r: r["fiscal_quarter"])
        assert same(got[y]["waterfall_opening"], quarters[0]["opening"]), y
        assert same(got[y]["waterfall_closing"], quarters[-1]["closing"]), y
        assert same(got[y]["waterfall_won"], sum(r["won"] for r in quarters)), y


@pytest.fixture(scope="module")
def events_marts(bi_warehouse, tmp_path_factory):
    """The BI warehouse copied, its MRR movements rebuilt with mrr_convention=events, and published."""
    work = tmp_path_factory.mktemp("events_convention")
    warehouse = work / "warehouse.duckdb"
    shutil.copyfile(bi_warehouse[0], warehouse)
    assert_ok(
        dbt_build(
            warehouse,
            work,
            "--select",
            "rpt_mrr_movements_monthly",
            settings={"SALESDW_MRR_CONVENTION": "events"},
        )
    )
    marts = work / "salesdw_marts.duckdb"
    publish_marts(warehouse, marts, run_id="bi-tests-events")
    return marts


def test_mrr_movement_metrics_follow_the_events_convention(events_marts):
    from bi.metrics import MetricsClient

    con = duckdb.connect(str(events_marts), read_only=True)
    try:
        events = rows(
            con,
            "SELECT month, movement_type, sum(movement_amount) AS amount, count(*) AS n "
            "FROM marts.fct_mrr_movements GROUP BY ALL",
        )
        month_end = {
            as_day(r["month"]): r
            for r in rows(
                con, "SELECT month, ending_mrr - starting_mrr AS change FROM marts.rpt_revenue_retention"
            )
        }
        assert con.execute(
            "SELECT DISTINCT mrr_convention FROM marts.rpt_mrr_movements_monthly"
        ).fetchall() == [("events",)]
    finally:
        con.close()
    with MetricsClient(events_marts) as client:
        got = {
            as_day(r["metric_time__month"]): r
            for r in client.query(
                f"{', '.join(MRR_MOVEMENTS)}, net_new_mrr, mrr_movements by month"
            ).records()
        }
    expected: dict[date, dict] = {}
    for e in events:
        month = expected.setdefault(as_day(e["month"]), {"n": 0})
        month[e["movement_type"]] = month.get(e["movement_type"], 0) + abs(e["amount"])
        month["n"] += e["n"]
    assert len(expected) >= 12
    for month, e in expected.items():
        m = got[month]
        for metric, movement_type in MRR_MOVEMENTS.items():
            assert same(m[metric] or 0, e.get(movement_type, 0)), (
                month,
                metric,
                m[metric],
                e.get(movement_type),
            )
        assert m["mrr_movements"] == e["n"], month
        # the split differs from the month-end convention's; the net change does not
        assert same(m["net_new_mrr"], month_end[month]["change"]), month


def test_dashboard_mrr_bridge_follows_the_convention(events_marts, tmp_path):
    from bi.dashboard import build_dashboard
    from bi.metrics import MetricsClient

    _, panels = build_dashboard(tmp_path / "index.html", events_marts)
    bridge = next(p for p in panels if p.key == "mrr_bridge")
    assert "as they happened" in bridge.title
    waterfall = bridge.figure.data[0]
    steps = dict(zip(waterfall.x, waterfall.y, strict=True))
    con = duckdb.connect(str(events_marts), read_only=True)
    try:
        year = con.execute("SELECT fiscal_year FROM marts.dim_date WHERE is_as_of_date").fetchone()[0]
    finally:
        con.close()
    with MetricsClient(events_marts) as client:
        yr = next(
            r
            for r in client.query("new_mrr, churned_mrr by fiscal_year").records()
            if r["metric_time__fiscal_year"] == year
        )
    assert same(steps["new"], yr["new_mrr"]) and same(steps["churn"], -yr["churned_mrr"])

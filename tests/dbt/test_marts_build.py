"""dbt build of the marts on generated demo data, checked against numbers recomputed in plain SQL on raw."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.demo.generator import generate
from ingestion.loader import load_landing
from ingestion.warehouse import connect, ensure_raw_schema
from tests.warehouses import SCALE, assert_ok, copy_built, dbt_build

BILLING_MARTS = ("fct_mrr_monthly", "rpt_revenue_retention", "rpt_bookings_billing_reconciliation")
ACTIVITY_MARTS = ("fct_activities",)
CRM_MARTS = (
    "dim_date",
    "dim_users",
    "dim_accounts",
    "fct_opportunities",
    "fct_opportunity_stage_history",
    "fct_pipeline_snapshot_daily",
    "rpt_pipeline_funnel",
    "rpt_rep_performance_quarterly",
    "rpt_forecast_snapshot",
)


@pytest.fixture(scope="module")
def demo_warehouse(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_built(demo_build, tmp_path_factory.mktemp("marts_demo"))


@pytest.fixture
def marts(demo_warehouse: Path):
    con = duckdb.connect(str(demo_warehouse), read_only=True)
    yield con
    con.close()


def test_mrr_bridge_holds_every_month(marts):
    rows = marts.execute(
        "SELECT month, starting_mrr, new, expansion, reactivation, contraction, churn, ending_mrr, fx_adjustment "
        "FROM marts.rpt_revenue_retention ORDER BY month"
    ).fetchall()
    assert len(rows) >= 12
    assert any(r[7] > 0 for r in rows)
    previous_ending = Decimal(0)
    for month, starting, new, expansion, reactivation, contraction, churn, ending, fx in rows:
        assert starting + new + expansion + reactivation - contraction - churn == ending, month
        # each month opens at the last month's close, restated at the new month's exchange rates
        assert starting == previous_ending + fx, month
        previous_ending = ending


def test_mrr_movements_sum_to_the_bridge(marts):
    mismatches = marts.execute(
        """
        SELECT r.month
        FROM marts.rpt_revenue_retention AS r
        LEFT JOIN (
            SELECT month, sum(mrr) AS ending, sum(previous_mrr) AS starting
            FROM marts.fct_mrr_monthly GROUP BY month
        ) AS m USING (month)
        WHERE coalesce(m.ending, 0) <> r.ending_mrr OR coalesce(m.starting, 0) <> r.starting_mrr
        """
    ).fetchall()
    assert mismatches == []


def test_bookings_equal_won_amounts_recomputed_on_raw(marts):
    # Second formulation: raw current rows, soft deletes out, won-ness from OpportunityStage, converted at the
    # DatedConversionRate valid on the close date.
    raw = dict(
        marts.execute(
            """
            WITH opp AS (
                SELECT * FROM raw.crm__opportunity__current WHERE NOT coalesce(IsDeleted, false)
            ),
            won AS (
                SELECT opp.*, coalesce(upper(opp.CurrencyIsoCode), 'USD') AS cur
                FROM opp JOIN raw.crm__opportunity_stage__current AS st ON st.MasterLabel = opp.StageName
                WHERE st.IsWon
            )
            SELECT
                year(won.CloseDate) || '-' || quarter(won.CloseDate) AS q,
                sum(CAST(CASE WHEN won.cur = 'USD' THEN won.Amount ELSE won.Amount / r.ConversionRate END
                         AS DECIMAL(38, 6)))
            FROM won
            LEFT JOIN raw.crm__dated_conversion_rate__current AS r
                ON upper(r.IsoCode) = won.cur AND won.CloseDate >= r.StartDate AND won.CloseDate < r.NextStartDate
            GROUP BY 1
            """
        ).fetchall()
    )
    mart = dict(
        marts.execute(
            "SELECT replace(replace(fiscal_quarter, 'FY', ''), '-Q', '-'), sum(bookings) "
            "FROM marts.rpt_rep_performance_quarterly GROUP BY 1"
        ).fetchall()
    )
    assert sum(raw.values()) > 0
    assert abs(sum(mart.values()) - sum(raw.values())) < Decimal("0.01")
    for quarter, amount in raw.items():
        assert abs(mart.get(quarter, Decimal(0)) - amount) < Decimal("0.01"), quarter
    won_count = marts.execute("SELECT sum(won_count) FROM marts.rpt_rep_performance_quarterly").fetchone()[0]
    assert (
        won_count == marts.execute("SELECT count(*) FROM marts.fct_opportunities WHERE is_won").fetchone()[0]
    )


def test_win_rate_is_null_exactly_when_nothing_closed(marts):
    bad = marts.execute(
        "SELECT count(*) FROM marts.rpt_rep_performance_quarterly "
        "WHERE (won_count + lost_count = 0) <> (win_rate_count IS NULL)"
    ).fetchone()[0]
    assert bad == 0


def test_crm_only_landing_builds_crm_marts(tmp_path: Path):
    """No billing or activity files, some CRM objects absent or header-only: CRM marts build, the rest are empty.

    Built with a fiscal year starting in February, so the fiscal calendar's own tests run on a shifted year too.
    """
    landing = tmp_path / "landing"
    generate(landing, scale=SCALE, seed=11)
    shutil.rmtree(landing / "billing")
    shutil.rmtree(landing / "activity")
    for absent in ("OpportunityHistory", "Contact", "Lead", "OpportunityLineItem", "Product2"):
        shutil.rmtree(landing / "crm" / absent)
    for header_only in ("ForecastingQuota", "UserRole"):
        folder = landing / "crm" / header_only
        first = sorted(folder.iterdir())[0]
        header = first.read_text(encoding="utf-8").splitlines()[0]
        shutil.rmtree(folder)
        folder.mkdir()
        (folder / first.name).write_text(header + "\n", encoding="utf-8")
    warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        ensure_raw_schema(con)
        load_landing(con, landing)
    finally:
        con.close()
    assert_ok(
        dbt_build(
            warehouse,
            tmp_path,
            "--exclude",
            "test_type:unit",
            settings={"SALESDW_FISCAL_YEAR_START_MONTH": "2"},
        )
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        counts = {m: con.execute(f"SELECT count(*) FROM marts.{m}").fetchone()[0] for m in CRM_MARTS}
        counts.update(
            {m: con.execute(f"SELECT count(*) FROM marts.{m}").fetchone()[0] for m in BILLING_MARTS}
        )
        counts.update(
            {m: con.execute(f"SELECT count(*) FROM marts.{m}").fetchone()[0] for m in ACTIVITY_MARTS}
        )
        won_from_flags = con.execute(
            "SELECT count(*) FROM raw.crm__opportunity__current WHERE IsWon AND NOT coalesce(IsDeleted, false)"
        ).fetchone()[0]
        won = con.execute("SELECT count(*) FROM marts.fct_opportunities WHERE is_won").fetchone()[0]
        fiscal = con.execute(
            "SELECT fiscal_year, fiscal_quarter, fiscal_quarter_start, fiscal_quarter_end FROM marts.dim_date "
            "WHERE date_day IN ('2024-01-31', '2024-02-01', '2025-01-31') ORDER BY date_day"
        ).fetchall()
    finally:
        con.close()
    for m in CRM_MARTS:
        assert counts[m] > 0, m
    for m in BILLING_MARTS + ACTIVITY_MARTS:
        assert counts[m] == 0, m
    assert won == won_from_flags > 0
    assert [(y, q, str(s), str(e)) for y, q, s, e in fiscal] == [
        (2024, "FY2024-Q4", "2023-11-01", "2024-01-31"),
        (2025, "FY2025-Q1", "2024-02-01", "2024-04-30"),
        (2025, "FY2025-Q4", "2024-11-01", "2025-01-31"),
    ]

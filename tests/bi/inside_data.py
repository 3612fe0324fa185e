"""Test helper: every metric, grouped by each time grain, stays inside the data it is computed from.

A row whose time group is empty, or a period before the first date in the marts or after the as-of date, is
a number nobody can act on (zero bookings for a quarter before the company used the CRM, or for next year).
The bounds are read from the marts with plain SQL, independently of the semantic layer.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

GRAINS = ("month", "fiscal_quarter", "fiscal_year")
# Every date column a semantic model groups a metric by (dbt_project/models/semantic/*.yml).
DATA_DATES = {
    "fct_opportunities": ("created_date", "close_date"),
    "fct_pipeline_snapshot_daily": ("snapshot_date",),
    "fct_activities": ("occurred_date",),
    "fct_mrr_monthly": ("month",),
    "rpt_revenue_retention": ("month",),
    "rpt_rep_performance_quarterly": ("fiscal_quarter_start",),
}


def data_bounds(marts: Path) -> dict[str, tuple]:
    """grain -> (first period, last period): from the first date found in the marts to the as-of date."""
    con = duckdb.connect(str(marts), read_only=True)
    try:
        firsts = [
            con.execute(f"SELECT min({col}) FROM marts.{table}").fetchone()[0]
            for table, cols in DATA_DATES.items()
            for col in cols
        ]
        first = min(d for d in firsts if d is not None)
        first = first.date() if hasattr(first, "date") else first
        as_of = con.execute("SELECT date_day FROM marts.dim_date WHERE is_as_of_date").fetchone()[0]
        # the fiscal calendar of every day a metric can be grouped by (dim_date's days and more)
        labels = dict(con.execute("SELECT date_day, fiscal_quarter FROM marts.time_spine_daily").fetchall())
        years = dict(con.execute("SELECT date_day, fiscal_year FROM marts.time_spine_daily").fetchall())
    finally:
        con.close()
    return {
        "month": (date(first.year, first.month, 1), date(as_of.year, as_of.month, 1)),
        "fiscal_quarter": (labels[first], labels[as_of]),
        "fiscal_year": (years[first], years[as_of]),
    }


def periods_outside_data(
    client, marts: Path, metrics: list[str] | None = None, grains: tuple[str, ...] = GRAINS
) -> list[str]:
    """Rows with an empty time group or a period outside the data, for every metric and grain: [] is right."""
    from bi.metrics import MetricQuery

    bounds = data_bounds(marts)
    problems = []
    for metric in metrics or client.metric_names:
        for grain in grains:
            result = client.query(MetricQuery((metric,), (grain,)))
            low, high = bounds[grain]
            for row in result.rows:
                period = row[0].date() if hasattr(row[0], "date") else row[0]
                if period is None:
                    problems.append(f"{metric} by {grain}: a row without a period: {row}")
                elif not low <= period <= high:
                    problems.append(
                        f"{metric} by {grain}: {period} is outside the data ({low} .. {high}): {row}"
                    )
    return problems

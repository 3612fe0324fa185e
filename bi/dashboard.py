"""The starter sales dashboard: static HTML with plotly charts of the governed metrics on the published marts.

    python -m bi.dashboard --out data/dashboard/index.html [--screenshot data/dashboard/dashboard.png]

Every number comes from a metric of the semantic layer (bi.metrics, MetricFlow on the serving file); the marts
are read directly only for display order (stage sort order) and the as-of date. plotly.js is embedded inline,
so the page works offline and from a file:// URL. A chart whose metrics have no rows (a CRM-only installation has
no MRR, a new one no closed deal yet) says so in its place instead of failing the page.
"""

from __future__ import annotations

import argparse
import html
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from bi.metrics import MetricsClient, MetricsError
from ingestion.settings import Settings

PALETTE = ["#2f6690", "#3a7ca5", "#81c3d7", "#d9dcd6", "#f4a259", "#bc4b51", "#5b8e7d"]


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    note: str
    figure: go.Figure


@dataclass(frozen=True)
class Context:
    as_of: date
    as_of_quarter: str
    as_of_year: int
    stage_order: dict[str, int]


def _context(marts: Path) -> Context:
    con = duckdb.connect(str(marts), read_only=True)
    try:
        row = con.execute(
            "SELECT date_day, fiscal_quarter, fiscal_year FROM marts.dim_date WHERE is_as_of_date"
        ).fetchone()
        if row is None:
            raise MetricsError(f"{marts} has no as-of date in marts.dim_date: was the build complete?")
        stages = con.execute(
            "SELECT stage_name, min(stage_sort_order) FROM marts.fct_opportunities GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    return Context(row[0], row[1], row[2], {s: o if o is not None else 99 for s, o in stages})


def no_data(key: str, title: str, why: str) -> Panel:
    """A chart's place when its metrics have no rows: the reason, in words, where the chart would be."""
    fig = go.Figure()
    fig.add_annotation(text=why, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 15})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return Panel(key, title, f"no data: {why}", _layout(fig))


def _layout(fig: go.Figure, height: int = 380, **kw) -> go.Figure:
    defaults = {"margin": {"l": 60, "r": 20, "t": 30, "b": 60}, "legend": {"orientation": "h", "y": -0.2}}
    fig.update_layout(height=height, colorway=PALETTE, template="plotly_white", **{**defaults, **kw})
    return fig


def pipeline_panel(mc: MetricsClient, ctx: Context) -> Panel:
    recs = mc.query(
        "open_pipeline by pipeline_snapshot__stage_name, pipeline_snapshot__forecast_category"
    ).records()
    title = "Open pipeline by stage and forecast category"
    if not recs:
        return no_data("pipeline", title, f"no open opportunity at the as-of date {ctx.as_of}")
    stages = sorted(
        {r["pipeline_snapshot__stage_name"] for r in recs}, key=lambda s: ctx.stage_order.get(s, 99)
    )
    fig = go.Figure()
    for cat in ("Pipeline", "Best Case", "Commit", "Omitted"):
        vals = {
            r["pipeline_snapshot__stage_name"]: r["open_pipeline"]
            for r in recs
            if r["pipeline_snapshot__forecast_category"] == cat
        }
        if vals:
            fig.add_bar(name=cat, x=stages, y=[vals.get(s, 0) for s in stages])
    fig.update_layout(barmode="stack", yaxis_title="open pipeline")
    return Panel(
        "pipeline",
        title,
        f"open_pipeline at the as-of date {ctx.as_of}",
        _layout(fig),
    )


def bookings_vs_quota_panels(mc: MetricsClient, ctx: Context) -> list[Panel]:
    year = ctx.as_of_year
    reps = [
        r
        for r in mc.query(
            "bookings, quota, attainment by rep__user_name, rep__manager_name, fiscal_year"
        ).records()
        if r["metric_time__fiscal_year"] == year and r["quota"]
    ]
    reps.sort(key=lambda r: (r["rep__manager_name"] or "", r["rep__user_name"] or ""))
    # multi-category axis: reps grouped under their manager
    labels = [[r["rep__manager_name"] or "no manager" for r in reps], [r["rep__user_name"] for r in reps]]
    by_rep = go.Figure()
    by_rep.add_bar(name="bookings", x=labels, y=[r["bookings"] for r in reps])
    by_rep.add_bar(name="quota", x=labels, y=[r["quota"] for r in reps])
    by_rep.add_scatter(
        name="attainment",
        x=labels,
        y=[r["attainment"] for r in reps],
        mode="markers",
        marker={"size": 10, "color": "#bc4b51"},
        yaxis="y2",
    )
    by_rep.update_layout(
        barmode="group",
        yaxis_title="amount",
        yaxis2={"title": "attainment", "overlaying": "y", "side": "right", "tickformat": ".0%"},
    )
    managers = [
        r
        for r in mc.query("bookings, quota, attainment by rep__manager_name, fiscal_quarter").records()
        if (r["metric_time__fiscal_quarter"] or "").startswith(f"FY{year}-") and r["quota"]
    ]
    titles = (
        f"Bookings vs quota by rep and manager, FY{year}",
        f"Bookings vs quota by manager's team and quarter, FY{year}",
    )
    if not reps:
        why = f"no rep has a quota in FY{year} (ForecastingQuota)"
        return [no_data("bookings_rep", titles[0], why), no_data("bookings_manager", titles[1], why)]
    by_mgr = go.Figure()
    for name in sorted({r["rep__manager_name"] or "no manager" for r in managers}):
        rows = [r for r in managers if (r["rep__manager_name"] or "no manager") == name]
        rows.sort(key=lambda r: r["metric_time__fiscal_quarter"])
        by_mgr.add_bar(
            name=f"{name}: bookings",
            x=[r["metric_time__fiscal_quarter"] for r in rows],
            y=[r["bookings"] for r in rows],
            customdata=[r["attainment"] for r in rows],
            hovertemplate="%{x}: %{y:,.0f} (attainment %{customdata:.0%})<extra></extra>",
        )
        by_mgr.add_scatter(
            name=f"{name}: quota",
            x=[r["metric_time__fiscal_quarter"] for r in rows],
            y=[r["quota"] for r in rows],
            mode="lines+markers",
        )
    by_mgr.update_layout(barmode="group", yaxis_title="amount")
    return [
        Panel(
            "bookings_rep",
            titles[0],
            "bookings, quota, attainment",
            _layout(
                by_rep, margin={"l": 60, "r": 60, "t": 30, "b": 130}, legend={"orientation": "h", "y": 1.15}
            ),
        ),
        Panel(
            "bookings_manager",
            titles[1],
            "bookings, quota (attainment on hover)",
            _layout(by_mgr),
        ),
    ]


def win_rate_panel(mc: MetricsClient, ctx: Context) -> Panel:
    recs = [
        r
        for r in mc.query("win_rate_count, win_rate_value, sales_cycle_days by fiscal_quarter").records()
        if (r["metric_time__fiscal_quarter"] or "") <= ctx.as_of_quarter and r["win_rate_count"] is not None
    ]
    if not recs:
        return no_data("win_rate", "Win rate and sales cycle by fiscal quarter", "no opportunity closed yet")
    x = [r["metric_time__fiscal_quarter"] for r in recs]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(name="win rate (count)", x=x, y=[r["win_rate_count"] for r in recs], mode="lines+markers")
    fig.add_scatter(name="win rate (value)", x=x, y=[r["win_rate_value"] for r in recs], mode="lines+markers")
    fig.add_scatter(
        name="sales cycle (days)",
        x=x,
        y=[r["sales_cycle_days"] for r in recs],
        mode="lines+markers",
        line={"dash": "dot"},
        secondary_y=True,
    )
    fig.update_yaxes(title_text="win rate", tickformat=".0%", secondary_y=False)
    fig.update_yaxes(title_text="days", secondary_y=True)
    return Panel(
        "win_rate",
        "Win rate and sales cycle by fiscal quarter",
        "win_rate_count, win_rate_value, sales_cycle_days",
        _layout(fig),
    )


def stage_funnel_panel(mc: MetricsClient, ctx: Context) -> Panel:
    recs = mc.query("stage_reached, stage_conversion by funnel_row__stage_name").records()
    if not recs:
        return no_data("stage_funnel", "Stage funnel, all cohorts", "no opportunity history yet")
    recs.sort(key=lambda r: ctx.stage_order.get(r["funnel_row__stage_name"], 99))
    fig = go.Figure(
        go.Funnel(
            y=[r["funnel_row__stage_name"] for r in recs],
            x=[r["stage_reached"] for r in recs],
            text=[
                # the last stage has nowhere to advance to
                f"{r['stage_conversion']:.0%} advance" if r["stage_conversion"] else ""
                for r in recs
            ],
            textinfo="value+text",
        )
    )
    return Panel(
        "stage_funnel",
        "Stage funnel, all cohorts",
        "stage_reached; stage_conversion = advanced / reached",
        _layout(fig),
    )


def activity_funnel_panel(mc: MetricsClient, ctx: Context) -> Panel:
    steps = [
        ("activities", "activities"),
        ("meetings_held", "meetings held"),
        ("opportunities_created", "opportunities created"),
        ("won_count", "deals won"),
    ]
    recs = mc.query(f"{', '.join(m for m, _ in steps)} by fiscal_year").records()
    row = next((r for r in recs if r["metric_time__fiscal_year"] == ctx.as_of_year), None)
    title = f"Activity funnel, FY{ctx.as_of_year}"
    if row is None or not any(row[m] for m, _ in steps):
        return no_data(
            "activity_funnel", title, f"no activity, opportunity or won deal in FY{ctx.as_of_year}"
        )
    fig = go.Figure(
        go.Funnel(
            y=[label for _, label in steps],
            x=[row[m] or 0 for m, _ in steps],
            textinfo="value+percent initial",
        )
    )
    return Panel(
        "activity_funnel",
        title,
        "activities, meetings_held, opportunities_created, won_count",
        _layout(fig),
    )


def mrr_panels(mc: MetricsClient, ctx: Context) -> list[Panel]:
    year = ctx.as_of_year
    titles = (f"MRR bridge, FY{year}", "MRR and retention by month")
    yr = next(
        (
            r
            for r in mc.query(
                "starting_mrr, new_mrr, expansion_mrr, reactivation_mrr, contraction_mrr, churned_mrr, "
                "fx_adjustment, mrr by fiscal_year"
            ).records()
            if r["metric_time__fiscal_year"] == year
        ),
        None,
    )
    if yr is None:
        why = f"no subscription revenue in FY{year} (billing)"
        return [no_data("mrr_bridge", titles[0], why), no_data("retention", titles[1], why)]
    yr = {k: v or 0 for k, v in yr.items()}  # a movement with no row in the year is none of it
    # fx_adjustment of the year's first month is already inside starting_mrr (restated at that month's rates)
    other = yr["mrr"] - (
        yr["starting_mrr"]
        + yr["new_mrr"]
        + yr["expansion_mrr"]
        + yr["reactivation_mrr"]
        - yr["contraction_mrr"]
        - yr["churned_mrr"]
    )
    bridge = go.Figure(
        go.Waterfall(
            x=["starting", "new", "expansion", "reactivation", "contraction", "churn", "fx", "ending"],
            measure=[
                "absolute",
                "relative",
                "relative",
                "relative",
                "relative",
                "relative",
                "relative",
                "total",
            ],
            y=[
                yr["starting_mrr"],
                yr["new_mrr"],
                yr["expansion_mrr"],
                yr["reactivation_mrr"],
                -yr["contraction_mrr"],
                -yr["churned_mrr"],
                other,
                yr["mrr"],
            ],
        )
    )
    bridge.update_layout(yaxis_title="MRR")
    monthly = [r for r in mc.query("mrr, grr_12m, nrr_12m, logo_churn_rate by month").records() if r["mrr"]]
    months = [r["metric_time__month"] for r in monthly]
    retention = make_subplots(specs=[[{"secondary_y": True}]])
    retention.add_bar(
        name="MRR", x=months, y=[r["mrr"] for r in monthly], marker_color="#d9dcd6", secondary_y=True
    )
    for metric, label in (("nrr_12m", "NRR 12m"), ("grr_12m", "GRR 12m"), ("logo_churn_rate", "logo churn")):
        pts = [r for r in monthly if r[metric] is not None]
        retention.add_scatter(
            name=label,
            x=[r["metric_time__month"] for r in pts],
            y=[r[metric] for r in pts],
            mode="lines+markers",
        )
    retention.update_yaxes(title_text="rate", tickformat=".0%", secondary_y=False)
    retention.update_yaxes(title_text="MRR", secondary_y=True, showgrid=False)
    return [
        Panel(
            "mrr_bridge",
            titles[0],
            "starting_mrr + new + expansion + reactivation − contraction − churn (+ fx) = mrr",
            _layout(bridge),
        ),
        Panel(
            "retention",
            titles[1],
            "mrr, nrr_12m, grr_12m, logo_churn_rate",
            _layout(retention),
        ),
    ]


# The pipeline waterfall's steps: (metric, label, sign in the bridge).
WATERFALL_STEPS = (
    ("waterfall_created", "created", 1),
    ("waterfall_pulled_in", "pulled in", 1),
    ("waterfall_increased", "increased", 1),
    ("waterfall_decreased", "decreased", -1),
    ("waterfall_slipped_out", "slipped out", -1),
    ("waterfall_won", "won", -1),
    ("waterfall_lost", "lost", -1),
)


def pipeline_waterfall_panel(mc: MetricsClient, ctx: Context) -> Panel:
    """The current quarter's pipeline from its start to the as-of date: opening + created + pulled in + increased
    − decreased − slipped out − won − lost = closing (rpt_pipeline_movement, via the waterfall_* metrics)."""
    metrics = ["waterfall_opening", *(m for m, _, _ in WATERFALL_STEPS), "waterfall_closing"]
    recs = mc.query(f"{', '.join(metrics)} by fiscal_quarter").records()
    row = next((r for r in recs if r["metric_time__fiscal_quarter"] == ctx.as_of_quarter), None)
    values = {m: float((row or {}).get(m) or 0) for m in metrics}
    steps = [sign * values[m] for m, _, sign in WATERFALL_STEPS]
    fig = go.Figure(
        go.Waterfall(
            x=["start", *(label for _, label, _ in WATERFALL_STEPS), "end"],
            measure=["absolute", *["relative"] * len(steps), "total"],
            y=[values["waterfall_opening"], *steps, values["waterfall_closing"]],
            text=[f"{v:,.0f}" for v in (values["waterfall_opening"], *steps, values["waterfall_closing"])],
            # inside a bar when it fits (the big ones), above or below it otherwise
            textposition="auto",
            textangle=0,
            cliponaxis=False,
            decreasing={"marker": {"color": "#bc4b51"}},
            increasing={"marker": {"color": "#5b8e7d"}},
            totals={"marker": {"color": "#2f6690"}},
        )
    )
    fig.update_layout(yaxis_title="pipeline closing in the quarter", showlegend=False)
    return Panel(
        "pipeline_waterfall",
        f"Pipeline waterfall, {ctx.as_of_quarter} (to {ctx.as_of})",
        "waterfall_opening + created + pulled_in + increased − decreased − slipped_out − won − lost "
        "= waterfall_closing",
        _layout(fig),
    )


def mrr_convention(marts: Path) -> str | None:
    """The convention the published MRR movements follow (var mrr_convention at build time), if published."""
    con = duckdb.connect(str(marts), read_only=True)
    try:
        row = con.execute("SELECT min(mrr_convention) FROM marts.rpt_mrr_movements_monthly").fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return row[0] if row else None


def with_mrr_convention(panels: list[Panel], convention: str | None) -> list[Panel]:
    """The MRR bridge says which movements it shows: month-end comparisons or movements as they happened."""
    if convention is None:
        return panels
    words = {"month_end": "movements between month ends", "events": "movements as they happened"}
    return [
        replace(p, title=f"{p.title} ({words.get(convention, convention)})") if p.key == "mrr_bridge" else p
        for p in panels
    ]


def screenshot_size(panels: list[Panel]) -> tuple[int, int]:
    """(width, height) in pixels that shows every chart: two a row, ~450 px each, below the header."""
    return 1400, 160 + 450 * ((len(panels) + 1) // 2)


def build_panels(mc: MetricsClient, marts: Path) -> list[Panel]:
    ctx = _context(marts)
    return [
        pipeline_panel(mc, ctx),
        pipeline_waterfall_panel(mc, ctx),
        *bookings_vs_quota_panels(mc, ctx),
        win_rate_panel(mc, ctx),
        stage_funnel_panel(mc, ctx),
        activity_funnel_panel(mc, ctx),
        *with_mrr_convention(mrr_panels(mc, ctx), mrr_convention(marts)),
    ]


def render(panels: list[Panel], marts: Path, published: str) -> str:
    cards = []
    for i, p in enumerate(panels):
        div = pio.to_html(
            p.figure,
            full_html=False,
            include_plotlyjs=i == 0,  # the library once, inline: no CDN, works offline
            div_id=f"chart-{p.key}",
            config={"displaylogo": False, "responsive": True},
        )
        cards.append(
            f'<section class="card" data-panel="{p.key}"><h2>{html.escape(p.title)}</h2>'
            f'<p class="note">{html.escape(p.note)}</p>{div}</section>'
        )
    built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>salesdw: sales dashboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f5f6f7; color: #1d2731; }}
header {{ padding: 16px 24px; background: #1d2731; color: #fff; }}
header p {{ margin: 4px 0 0; color: #c9d1d9; font-size: 13px; }}
main {{ display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; padding: 16px 24px; }}
.card {{ background: #fff; border-radius: 6px; padding: 8px 12px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }}
.card h2 {{ font-size: 16px; margin: 6px 0 0; }} .note {{ font-size: 12px; color: #57606a; margin: 2px 0 0; }}
</style></head>
<body><header><h1 style="margin:0;font-size:20px">Sales dashboard</h1>
<p>From the published marts {html.escape(str(marts))} ({html.escape(published)}); built {built}.
Every number is a metric of dbt_project/models/semantic (python -m bi.metrics --list).</p></header>
<main>
{chr(10).join(cards)}
</main></body></html>
"""


def build_dashboard(out: Path, marts: Path | None = None) -> tuple[Path, list[Panel]]:
    from ingestion.publish import published_info

    marts = Path(marts or Settings.from_env().marts).resolve()
    info = published_info(marts)
    if info is None:
        raise MetricsError(f"no published marts at {marts}: run `make run` first")
    with MetricsClient(marts) as mc:
        panels = build_panels(mc, marts)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(
        render(panels, marts, f"run {info['run_id']}, published {info['published_at']}"), encoding="utf-8"
    )
    tmp.replace(out)  # a browser refreshing mid-build sees the old page or the new one
    return out, panels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bi.dashboard", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/dashboard/index.html"))
    ap.add_argument("--marts", type=Path, help="serving file (default SALESDW_MARTS)")
    ap.add_argument("--screenshot", type=Path, help="also save a PNG rendered by headless Chromium")
    args = ap.parse_args(argv)
    try:
        out, panels = build_dashboard(args.out, args.marts)
    except MetricsError as e:
        print(f"error: {e}")
        return 2
    print(f"dashboard: {out} ({len(panels)} charts)")
    if args.screenshot:
        from expectations.report_browser import screenshot

        screenshot(out, args.screenshot, *screenshot_size(panels))
        print(f"screenshot: {args.screenshot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

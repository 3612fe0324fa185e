"""The starter dashboard: built from the published marts, rendered by headless Chromium offline, every chart drawn
with data; its screenshot is kept at data/dashboard/dashboard.png."""

from __future__ import annotations

import json
import re

import pytest

from expectations.report_browser import chromium_path, dump_dom, screenshot
from ingestion.settings import PROJECT_ROOT

SCREENSHOT = PROJECT_ROOT / "data" / "dashboard" / "dashboard.png"
PANELS = {
    "pipeline",
    "pipeline_waterfall",
    "bookings_rep",
    "bookings_manager",
    "win_rate",
    "stage_funnel",
    "activity_funnel",
    "mrr_bridge",
    "retention",
}


@pytest.fixture(scope="module")
def dashboard(bi_warehouse, tmp_path_factory):
    from bi.dashboard import build_dashboard

    out, panels = build_dashboard(tmp_path_factory.mktemp("dashboard") / "index.html", bi_warehouse[1])
    return out, panels


def figure_specs(page: str) -> dict[str, list[dict]]:
    """The traces each chart was given, from the Plotly.newPlot calls in the page."""
    specs = {}
    decoder = json.JSONDecoder()
    for m in re.finditer(r'Plotly\.newPlot\(\s*"chart-(\w+)",\s*', page):
        data, _ = decoder.raw_decode(page, m.end())
        specs[m.group(1)] = data
    return specs


def test_every_chart_is_given_data(dashboard):
    out, panels = dashboard
    page = out.read_text(encoding="utf-8")
    # plotly.js inline (its own source mentions its CDN, so look for script tags that fetch anything)
    assert "<script src=" not in page and "<link " not in page and len(page) > 3_000_000
    specs = figure_specs(page)
    assert set(specs) == PANELS == {p.key for p in panels}
    for key, traces in specs.items():
        assert traces, key
        for t in traces:
            for axis in ("x", "y"):
                values = t.get(axis)
                if isinstance(values, dict):  # plotly 6+ may ship numbers as typed arrays
                    assert values.get("bdata"), (key, t.get("name"), axis)
                else:
                    assert values and any(v is not None for v in values), (key, t.get("name"), axis)


@pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed: apt-get install -y chromium")
def test_chromium_draws_every_chart_with_points(dashboard):
    from bi.dashboard import screenshot_size

    out, panels = dashboard
    specs = figure_specs(out.read_text(encoding="utf-8"))
    dom = dump_dom(out, timeout=120, budget_ms=10000)
    sections = dom.split('data-panel="')[1:]
    drawn = {s[: s.index('"')]: s for s in sections}
    assert set(drawn) == PANELS
    for key, html in drawn.items():
        traces = html.split('class="trace ')[1:]
        # every trace of the figure was drawn, and each drew marks (bars, markers or a line) with coordinates
        assert len(traces) == len(specs[key]), (key, len(traces), len(specs[key]))
        for t in traces:
            marks = 'class="point"' in t or re.search(r'class="js-line"[^>]*d="M', t)
            assert marks and re.search(r'<path[^>]* d="M[\d.-]+,[\d.-]+[^"]*[VHLZ]', t), (key, t[:300])
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    width, height = screenshot_size(panels)
    screenshot(out, SCREENSHOT, width=width, height=height)
    assert SCREENSHOT.stat().st_size > 50_000

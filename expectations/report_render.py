"""The report's summary page: ``summary.json``'s dict rendered by the Jinja2 templates in templates/report.

Jinja2 comes with dbt-core. The templates hold the HTML; this module holds the few computations a template
should not (the trend chart's geometry, number and time formats) and hands them to the templates.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from expectations.report_facts import BLOCKED, NOT_IN_USE, TRUSTED, UNKNOWN, WARNING, as_datetime
from expectations.report_verdict import failure_sentence, fmt_time, short

TEMPLATES = Path(__file__).resolve().parent / "templates" / "report"
STATUS_WORDS = {
    TRUSTED: "Trusted",
    WARNING: "Warning",
    BLOCKED: "Blocked",
    NOT_IN_USE: "Not in use",
    UNKNOWN: "Unknown",
}
_COLORS = {TRUSTED: "#2da44e", WARNING: "#d4a72c", BLOCKED: "#cf222e", UNKNOWN: "#8c959f"}


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the build instead of rendering blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        status_words=STATUS_WORDS,
        fmt_time=fmt_time,
        short=short,
        num=num,
        age=age,
        failure_sentence=failure_sentence,
        test_outcome=test_outcome,
        quarantine_examples=quarantine_examples,
        published_sentence=published_sentence,
        summary_file="summary.json",
    )
    return env


def render_summary_html(s: dict[str, Any]) -> str:
    """The standalone summary page for ``s`` (a ``report.collect_summary`` dict)."""
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            s=s,
            chart=trend_chart(s["trend"], current=s["run_id"]),
            trend_counts=Counter(r["status"] for r in s["trend"]),
        )
    )


def trend_chart(trend: list[dict[str, Any]], current: str | None = None, width: int = 1100) -> dict[str, Any]:
    """Bar geometry for the runs chart: failures (red) under warnings (amber) per run, its status below."""
    n = len(trend)
    left, right, top, bar_h = 40, 10, 14, 120
    slot = (width - left - right) / max(n, 1)
    bw = max(4.0, min(26.0, slot * 0.7))
    scale_max = max(max((r["failures"] + r["warnings"] for r in trend), default=0), 1)
    base = top + bar_h
    every = max(1, round(n / 12))
    days = [_day(r["validated_at"]) for r in trend]
    same_day = len(set(days)) < len(days)
    bars = []
    for i, r in enumerate(trend):
        x = left + i * slot + (slot - bw) / 2
        fail, warn = r["failures"], r["warnings"]
        h_fail, h_warn = bar_h * fail / scale_max, bar_h * warn / scale_max
        bars.append(
            {
                "run_id": r["run_id"],
                "status": r["status"],
                "x": f"{x:.1f}",
                "w": f"{bw:.1f}",
                "cx": f"{x + bw / 2:.1f}",
                "r": f"{min(5, bw / 2):.1f}",
                "total": fail + warn,
                "h_fail": f"{h_fail:.1f}" if h_fail else "",
                "y_fail": f"{base - h_fail:.1f}",
                "h_warn": f"{h_warn:.1f}" if h_warn else "",
                "y_warn": f"{base - h_fail - h_warn:.1f}",
                "y_label": f"{base - h_fail - h_warn - 3:.1f}",
                "color": _COLORS.get(r["status"], _COLORS[UNKNOWN]),
                "current": r["run_id"] == current,
                "day": _day(r["validated_at"], with_time=same_day) if i % every == 0 or i == n - 1 else "",
                "tip": f"run {short(r['run_id'])}, {fmt_time(r['validated_at'])}: "
                f"{STATUS_WORDS.get(r['status'], r['status']).lower()}; {fail} failed, {warn} warnings; "
                f"{r['suites']} tables checked",
            }
        )
    return {"width": width, "height": top + bar_h + 50, "left": left, "right": width - right, "top": top,
            "base": base, "scale_max": scale_max, "bars": bars}  # fmt: skip


# --------------------------------------------------------------------------- words and numbers


def num(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "—"


def age(v: Any, now: Any) -> str:
    then, ref = as_datetime(v), as_datetime(now)
    if then.year == 1 or ref.year == 1:
        return ""
    days = (ref - then).total_seconds() / 86400
    if days < 0:
        return ""
    if days < 1:
        hours = int(days * 24)
        return f" — {hours} hour{'s' if hours != 1 else ''} before this report"
    return f" — {int(days)} day{'s' if int(days) != 1 else ''} before this report"


def test_outcome(t: dict[str, Any]) -> str:
    """A dbt test's result in words: `passed`, `3 rows fail`, `could not run: …`."""
    if t["status"] in ("pass", "success"):
        return "passed"
    if t["status"] == "error":
        return f"could not run: {t.get('message') or 'see the dbt log'}"
    if t["status"] == "skipped":
        return "not run (an upstream model failed)"
    n = t.get("failures")
    rows = f"{n:,} row{'s' if n != 1 else ''} fail{'s' if n == 1 else ''}" if isinstance(n, int) else "failed"
    return rows + (" (warning)" if t["status"] == "warn" else "")


def quarantine_examples(examples: list[dict[str, Any]]) -> str:
    return "; ".join(dict.fromkeys(_quarantine_example(x) for x in examples))


def _quarantine_example(x: dict[str, Any]) -> str:
    if x.get("record_id"):
        where = f"{x['object']} {x['record_id']}"
    else:
        row = f" row {x['row']}" if x.get("row") is not None else ""
        where = f"{x['object']} ({Path(str(x.get('file') or '?')).name}{row})"
    return f"{where}: {x.get('reason') or ''}"


def published_sentence(s: dict[str, Any]) -> Markup:
    p = s.get("published")
    if not s.get("published_checked"):
        return Markup("Which run BI shows was not checked (no published marts file given).")
    if not p:
        return Markup("Nothing has been published to BI yet.")
    if p.get("error"):
        return Markup("The published marts file could not be read: {}.").format(p["error"])
    this = " (this run)" if p.get("run_id") == s.get("run_id") else ""
    return Markup("BI reads the marts published {} by run <strong>{}</strong>{}: {} tables.").format(
        fmt_time(p.get("published_at")), short(p.get("run_id")), this, len(p.get("tables") or {})
    )


def _day(v: Any, with_time: bool = False) -> str:
    d = as_datetime(v)
    if d.year == 1:
        return "?"
    return d.strftime("%d %b %H:%M" if with_time else "%d %b")

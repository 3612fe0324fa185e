"""A team that uses only its CRM, or only its billing system: the sources it never delivered are "not in use".

`salesdw run` on a CRM-only and on a billing-only landing zone (demo data at scale 0.05, one source's folder):
the unused sources show as not in use, the checks that need them are skipped with that reason instead of
warning on every run, the run summary prints the report's verdict, the dashboard draws what there is, and a
source in use that stops arriving still warns.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from expectations.report_facts import as_datetime
from expectations.sources_in_use import SOURCE_LABELS, STALE_AFTER_HOURS
from ingestion.demo.generator import generate
from ingestion.settings import Settings
from orchestration.runner import run_pipeline

SCALE = 0.05
# A rule that needs billing on a CRM suite, and one that needs the CRM on an activity suite.
CROSS_SOURCE = {
    "crm": (
        "intermediate.int_opportunities_enriched",
        "is_won: account has a billing customer",
        "Billing (Stripe)",
    ),
}


def single_source_landing(root: Path, source: str) -> Path:
    """The demo landing zone with one source's folder only. Billing alone is made single-currency (USD): its
    conversion rates would come from the CRM's DatedConversionRate, which a billing-only team does not have."""
    generate(root / "all", scale=SCALE, seed=7)
    landing = root / "landing"
    shutil.copytree(root / "all" / source, landing / source)
    if source == "billing":
        for f in landing.rglob("*.jsonl"):
            f.write_text(re.sub(r'"currency":"[a-z]+"', '"currency":"usd"', f.read_text()))
    return landing


@pytest.fixture(scope="module", params=["crm", "billing"])
def single_source(request, tmp_path_factory) -> dict:
    source = request.param
    root = tmp_path_factory.mktemp(f"only_{source}")
    landing = single_source_landing(root, source)
    (root / "dagster_home").mkdir()
    env = {
        "SALESDW_LANDING_DIR": str(landing),
        "SALESDW_WAREHOUSE": str(root / "warehouse.duckdb"),
        "SALESDW_MARTS": str(root / "salesdw_marts.duckdb"),
        "SALESDW_REPORT_DIR": str(root / "reports"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "SALESDW_DEMO": "0",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        settings = Settings.from_env()
        summary = run_pipeline(settings, say=lambda _: None)
        text = summary.render(settings)
    return {
        "source": source,
        "root": root,
        "settings": settings,
        "summary": summary,
        "text": text,
        "report": json.loads((root / "reports" / "summary.json").read_text()),
    }


def test_unused_sources_are_not_in_use_and_raise_no_warning(single_source):
    source, report, summary = single_source["source"], single_source["report"], single_source["summary"]
    assert summary.exit_code == 0, single_source["text"]
    statuses = {s["source"]: s["status"] for s in report["sources"]}
    assert statuses == {
        s: ("trusted" if s == source else "not in use") for s in ("crm", "billing", "activity")
    }
    # nothing is said about the unused sources but that they are not in use
    unused = [SOURCE_LABELS[s] for s in statuses if s != source]
    assert not [f for f in report["verdict"]["findings"] if any(u in f["where"] + f["text"] for u in unused)]
    assert report["status"] == "trusted" and report["headline"] == "Today's numbers can be trusted", report[
        "issues"
    ]
    # ... and the checks that need them were skipped with the reason
    assert report["verdict"]["checks_skipped"] > 0
    assert sorted(report["verdict"]["skipped_reasons"]) == sorted(f"{u} is not in use" for u in unused)


def test_a_cross_source_rule_is_skipped_with_its_reason(single_source):
    source = single_source["source"]
    docs = single_source["root"] / "reports" / "validations" / single_source["summary"].run_id
    if source == "crm":
        suite, rule, label = CROSS_SOURCE["crm"]
        doc = json.loads((docs / f"{suite}.json").read_text())
        [e] = [e for e in doc["expectations"] if e["name"] == rule]
        assert e["skipped"] == f"skipped: {label} is not in use (nothing has ever been delivered)"
        assert e["unexpected_count"] is None  # not evaluated at all
        others = [e for e in doc["expectations"] if e["name"] != rule]
        assert others and all(e["success"] and not e["skipped"] for e in others)
    else:  # billing only: every CRM rule is skipped, none failed on the empty CRM tables
        doc = json.loads((docs / "raw.crm__opportunity__current.json").read_text())
        assert doc["expectations"] and all(e["skipped"] for e in doc["expectations"])
        billing = json.loads((docs / "raw.billing__invoice__current.json").read_text())
        assert billing["expectations"] and not [e for e in billing["expectations"] if e["skipped"]]


def test_run_summary_prints_the_reports_verdict(single_source):
    report, summary, text = single_source["report"], single_source["summary"], single_source["text"]
    verdict = report["verdict"]
    assert f"verdict: {report['headline']} ({verdict['counts_line']})" in text
    assert len(summary.checks_failed) == verdict["failures"] == report["counts"]["blocked"]
    assert len(summary.checks_warned) == verdict["warnings"] == report["counts"]["warnings"]
    assert summary.checks_passed == verdict["checks_passed"] > 100


def test_dashboard_draws_what_the_source_gives(single_source, tmp_path):
    from bi.dashboard import build_dashboard

    _, panels = build_dashboard(tmp_path / "index.html", single_source["settings"].marts)
    empty = {p.key for p in panels if p.note.startswith("no data")}
    if single_source["source"] == "crm":
        assert empty == {"mrr_bridge", "retention"}
    else:
        assert empty == {
            "pipeline",
            "bookings_rep",
            "bookings_manager",
            "win_rate",
            "stage_funnel",
            "activity_funnel",
        }
    for p in panels:
        if p.key not in empty:
            assert any(len(t.x or t.y or ()) for t in p.figure.data), p.key


def test_metrics_stay_inside_the_data(single_source):
    from bi.metrics import MetricsClient
    from tests.bi.inside_data import periods_outside_data

    marts = single_source["settings"].marts
    with MetricsClient(marts) as client:
        assert periods_outside_data(client, marts) == []


def test_a_source_in_use_that_stops_arriving_still_warns(single_source):
    """Judged a day and a half after the last delivery: the used source warns (freshness), the unused do not."""
    from expectations.report import collect_summary

    source, settings, report = single_source["source"], single_source["settings"], single_source["report"]
    last = next(s for s in report["sources"] if s["source"] == source)["last_delivery"]
    later = as_datetime(last) + timedelta(hours=STALE_AFTER_HOURS + 11)
    judged = collect_summary(settings.warehouse, settings.report_dir, settings.marts, now=later)
    stale = [f for f in judged["verdict"]["findings"] if f["check"].startswith("freshness")]
    assert [(f["source"], f["level"]) for f in stale] == [(source, "warning")]
    assert "Nothing new delivered for 36 hours" in stale[0]["text"]
    assert judged["headline"] == "Use with care: 1 warning"
    assert {s["source"]: s["status"] for s in judged["sources"]}[source] == "warning"
    assert [s["status"] for s in judged["sources"] if s["source"] != source] == ["not in use", "not in use"]

"""The data-quality report sales ops read every morning: can today's numbers be trusted, and if not, why.

``build_report(warehouse, report_dir, marts_path=None, run_id=None)`` (re)writes under ``report_dir``:

- ``index.html``: one standalone page (inline CSS and SVG, no JavaScript, printable): the verdict in plain
  words, then per source (crm, billing, activity) its status (trusted / warning / blocked / not in use), last
  delivery, freshness, rows loaded and set aside (quarantine) with the reasons, refused and ignored files; per
  mart and model its dbt tests and Great Expectations checks; which run BI reads; a chart of the last 30 runs;
- ``summary.json``: the same facts, machine-readable (``collect_summary``);
- ``gx/data_docs/``: Great Expectations' own Data Docs for the latest runs, offline (``report_docs``).

The parts: ``report_facts`` (queries), ``report_dbt`` (dbt's run results), ``report_verdict`` (the one place
that decides what is a failure or a warning; ``salesdw run`` prints the same verdict), ``report_render``
(Jinja2 templates under ``expectations/templates/report``), ``report_cli`` (the command line).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expectations.report_dbt import PASSED, cached_dbt_results
from expectations.report_docs import build_data_docs, validation_page
from expectations.report_facts import (
    BLOCKED,
    NOT_IN_USE,
    TRUSTED,
    UNKNOWN,
    WARNING,
    as_datetime,
    iso,
    latest_run_folder,
    published_facts,
    source_of,
    store_verdict,
    suite_summary,
    trend,
    warehouse_facts,
)
from expectations.report_render import render_summary_html
from expectations.report_verdict import Verdict, fmt_time, judge, published_run, short
from expectations.sources_in_use import SOURCE_LABELS
from expectations.store import carried_results, load_run, load_scope
from ingestion.contract import SOURCES
from ingestion.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)

TREND_RUNS = 30
DATA_DOCS_RUNS = 5  # runs rendered into Data Docs (each adds one page per suite, ~100 KB)
SUMMARY_FILE, INDEX_FILE = "summary.json", "index.html"
DBT_TARGET = DBT_PROJECT_DIR / "target"  # where dagster-dbt leaves each invocation's run_results.json


def build_report(
    warehouse: Path,
    report_dir: Path,
    marts_path: Path | None = None,
    run_id: str | None = None,
    *,
    dbt_target: Path = DBT_TARGET,
) -> Path:
    """(Re)write the report under ``report_dir`` for ``run_id`` (default: the latest stored run).

    ``marts_path``: the published serving file, to say which run BI reads (None: not checked).
    Returns the path of the summary page, ``report_dir/index.html``.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    summary = collect_summary(warehouse, report_dir, marts_path, run_id, dbt_target=dbt_target)

    docs_runs = [r["run_id"] for r in summary["trend"]][-DATA_DOCS_RUNS:]
    if summary["run_id"] and summary["run_id"] not in docs_runs:
        docs_runs.append(summary["run_id"])
    try:
        site_index = build_data_docs(
            report_dir, {r: load_run(report_dir, r) for r in docs_runs}, summary_href=INDEX_FILE
        )
        summary["data_docs"] = _rel(site_index, report_dir)
        _link_pages(summary, site_index.parent, report_dir)
    except Exception as exc:  # the summary must still be written: it is what sales ops read
        log.exception("building the Data Docs site failed")
        summary["data_docs"] = None
        summary["data_docs_error"] = f"{type(exc).__name__}: {exc}"

    _write(report_dir / SUMMARY_FILE, json.dumps(summary, indent=1, default=str))
    index = report_dir / INDEX_FILE
    _write(index, render_summary_html(summary))
    return index


def collect_summary(
    warehouse: Path,
    report_dir: Path,
    marts_path: Path | None = None,
    run_id: str | None = None,
    *,
    dbt_target: Path = DBT_TARGET,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report's facts and verdict as a JSON-safe dict (what ``summary.json`` holds)."""
    report_dir = Path(report_dir)
    now = now or datetime.now(UTC)
    runs = trend(report_dir)
    if run_id is None:
        run_id = runs[-1]["run_id"] if runs else latest_run_folder(report_dir)
    docs = load_run(report_dir, run_id) if run_id else []
    # A delta run checked what it rebuilt; the other suites' last results stand, said as such.
    scope = load_scope(report_dir, run_id) if run_id else None
    if scope is not None:
        docs += carried_results(report_dir, run_id, {d["suite"] for d in docs})
    nothing_to_publish = scope is not None and not scope.get("built")
    facts = warehouse_facts(Path(warehouse), run_id)
    published = published_facts(marts_path) if marts_path is not None else None
    dbt = cached_dbt_results(report_dir, dbt_target, run_id) if run_id else None

    suites = [suite_summary(d) for d in docs]
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    model_suites: dict[str, dict[str, Any]] = {}
    for s in suites:
        src = source_of(s["suite"])
        if src:
            by_source[src].append(s)
        else:
            model_suites[s["table"]] = s
    sources = [source_facts(src, by_source.get(src, []), facts) for src in SOURCES]

    verdict = judge(
        run_id=run_id,
        suites=suites,
        dbt=dbt,
        sources=sources,
        published=published,
        published_checked=marts_path is not None,
        now=now,
        nothing_to_publish=nothing_to_publish,
    )
    if run_id:
        store_verdict(report_dir, run_id, verdict.as_dict())
        runs = trend(report_dir)
    for src in sources:
        src["status"] = _source_status(src, verdict, facts)
    models = model_summaries(
        facts, published, model_suites, dbt, verdict, run_id, marts_path is not None, nothing_to_publish
    )
    ran = [d for d in docs if not d.get("carried_from_run")]
    validated_at = max((d.get("validated_at") or "" for d in ran), default=None) or None
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "run_id": run_id,
        "validated_at": validated_at,
        # a delta run (orchestration/selection.py): what it rebuilt; None for a full run
        "scope": scope,
        "suites_carried": len(docs) - len(ran),
        "status": verdict.status,
        "headline": verdict.headline,
        "verdict": verdict.as_dict(),
        "issues": [{"level": f.level, "where": f.where, "text": f.text} for f in verdict.findings],
        "counts": _counts(suites, dbt, verdict),
        "warehouse": {"path": str(warehouse), "readable": facts["readable"], "error": facts["error"]},
        "published": published,
        "published_checked": marts_path is not None,
        "sources": sources,
        "marts": [m for m in models if m["layer"] == "marts"],
        "models": [m for m in models if m["layer"] != "marts"],
        "dbt": {
            "found": dbt is not None,
            "steps": (dbt or {}).get("steps", []),
            "unit_tests": _unit_counts(dbt),
        },
        "trend": runs[-TREND_RUNS:],
        "data_docs": None,
    }


# --------------------------------------------------------------------------- per source


def source_facts(src: str, suites: list[dict[str, Any]], facts: dict[str, Any]) -> dict[str, Any]:
    """What is known about one source; its status is set from the verdict afterwards."""
    loads = facts["loads"].get(src, {})
    objects = {t: o for t, o in facts["objects"].items() if o["source"] == src}
    rows_in_raw = sum(o["rows"] for o in objects.values())
    delivered = bool(loads.get("files_loaded")) or rows_in_raw > 0
    in_use = facts["in_use"] is None or src in facts["in_use"]
    fresh = [o for o in objects.values() if o["latest_record_at"] is not None]
    freshest = max(fresh, key=lambda o: as_datetime(o["latest_record_at"]), default=None)
    quarantine = facts["quarantine"].get(src, [])
    return {
        "source": src,
        "label": SOURCE_LABELS.get(src, src),
        "status": None,
        "in_use": in_use,
        "delivered": delivered or not facts["readable"],
        "last_successful_load": iso(loads.get("last_successful_load")),
        "last_delivery": iso(loads.get("last_delivery")),
        "latest_record_at": iso(freshest["latest_record_at"]) if freshest else None,
        "latest_record_field": f"{freshest['object']}.{freshest['freshness_field']}" if freshest else None,
        "rows_loaded_run": loads.get("rows_loaded_run", 0),
        "rows_loaded_total": loads.get("rows_loaded_total", 0),
        "rows_quarantined_run": loads.get("rows_quarantined_run", 0),
        "rows_quarantined": sum(q["count"] for q in quarantine),
        "current_records": sum(o["current_rows"] or 0 for o in objects.values()),
        "quarantine_by_reason": quarantine,
        "refused_files": facts["refused"].get(src, []),
        "ignored_files": facts["ignored"].get(src, []),
        "suites": suites,
        "checks_passed": sum(s["passed"] for s in suites),
        "checks_skipped": sum(len(s["skipped"]) for s in suites),
        "failed": [dict(f, object=s["object"], suite=s["suite"]) for s in suites for f in s["failed"]],
    }


def _source_status(src: dict[str, Any], verdict: Verdict, facts: dict[str, Any]) -> str:
    if not src["in_use"]:
        return NOT_IN_USE
    if not src["suites"] and not facts["readable"]:
        return verdict.level_of(source=src["source"], default=UNKNOWN)
    return verdict.level_of(source=src["source"])


# --------------------------------------------------------------------------- per mart and model


def model_summaries(
    facts: dict[str, Any],
    published: dict[str, Any] | None,
    suites: dict[str, dict[str, Any]],
    dbt: dict[str, Any] | None,
    verdict: Verdict,
    run_id: str | None,
    checked: bool,
    nothing_to_publish: bool = False,
) -> list[dict[str, Any]]:
    """Every mart and model with its dbt tests and GE checks; marts also with rows and what BI shows."""
    dbt_models = (dbt or {}).get("models", {})
    pub_tables = (published or {}).get("tables") or {}
    layers = {name: m["layer"] for name, m in dbt_models.items()}
    layers.update({name: s["layer"] for name, s in suites.items()})
    for name in set(facts["marts"]) | set(pub_tables):
        layers.setdefault(name, "marts")
    run_blocked = verdict.status == BLOCKED
    out = []
    for name in sorted(layers, key=lambda n: (_LAYER_ORDER.get(layers[n], 9), n)):
        suite = suites.get(name)
        tests = _dbt_checks(dbt_models.get(name), dbt is not None)
        item = {
            "mart": name,
            "layer": layers[name],
            "status": verdict.level_of(model=name),
            "suite": suite["suite"] if suite else None,
            "failed": suite["failed"] if suite else [],
            "ge": _ge_counts(suite),
            "checked_in_run": suite["checked_in_run"] if suite else None,
            "dbt": tests,
            "checks_defined": bool(suite) or tests["defined"],
        }
        if item["layer"] == "marts":
            pub_run = published_run(published, run_id, nothing_to_publish)
            item.update(_publication(name, item["status"], facts, published, pub_run, run_blocked, checked))
        out.append(item)
    return out


_LAYER_ORDER = {"marts": 0, "intermediate": 1, "staging": 2}


def _dbt_checks(model: dict[str, Any] | None, dbt_ran: bool) -> dict[str, Any]:
    """A model's dbt checks in this run: data tests, unit tests, the contract, and whether it was built."""
    if model is None:
        return {"ran": False, "dbt_ran": dbt_ran, "defined": False, "built": None, "contract": False,
                "tests": [], "unit_tests": [], "passed": 0, "failed": []}  # fmt: skip
    tests = [_test_row(t) for t in model["tests"]]
    units = [_test_row(t) for t in model["unit_tests"]]
    checks = tests + units
    return {
        "ran": model["status"] is not None,
        "dbt_ran": dbt_ran,
        "defined": bool(tests or units or model["contract_enforced"]),
        "built": model["status"],
        "build_error": model.get("message"),
        "contract": model["contract_enforced"],
        "tests": tests,
        "unit_tests": units,
        "passed": sum(1 for t in checks if t["status"] in PASSED)
        + (1 if model["contract_enforced"] and model["status"] == "success" else 0),
        "failed": [t for t in checks if t["status"] not in PASSED],
    }


def _test_row(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t.get(k) for k in ("name", "kind", "status", "failures", "severity", "message")}


def _ge_counts(suite: dict[str, Any] | None) -> dict[str, int]:
    if not suite:
        return {"expectations": 0, "passed": 0, "failed": 0, "skipped": 0}
    return {
        "expectations": suite["expectations"],
        "passed": suite["passed"],
        "failed": len(suite["failed"]),
        "skipped": len(suite["skipped"]),
    }


def _publication(
    name: str,
    status: str,
    facts: dict[str, Any],
    published: dict[str, Any] | None,
    run_id: str | None,
    run_blocked: bool,
    checked: bool,
) -> dict[str, Any]:
    """Rows in the warehouse and in BI, and where BI's numbers of this mart come from."""
    pub_tables = (published or {}).get("tables") or {}
    pub_run = (published or {}).get("run_id")
    if published and pub_run != run_id:
        note = f"BI shows the numbers of run {short(pub_run)} published {fmt_time(published.get('published_at'))}"
        if run_blocked:
            status, note = BLOCKED, "Not refreshed (blocked). " + note
        elif status == TRUSTED:
            status = WARNING
    elif published:
        note = f"BI shows this run's numbers (published {fmt_time(published.get('published_at'))})"
    elif checked:
        note = "Nothing published to BI yet"
        status = BLOCKED if run_blocked else status
    else:
        note = "Publication not checked"
        if run_blocked:
            status, note = BLOCKED, "Not refreshed: this run was blocked"
    if name not in pub_tables and published:
        note += "; not in the published file"
    return {
        "status": status,
        "rows": facts["marts"].get(name),
        "rows_published": pub_tables.get(name),
        "published_run_id": pub_run if name in pub_tables else None,
        "note": note,
    }


# --------------------------------------------------------------------------- counts and links


def _counts(suites: list[dict[str, Any]], dbt: dict[str, Any] | None, verdict: Verdict) -> dict[str, int]:
    tests = (dbt or {}).get("tests", [])
    return {
        "suites": len(suites),
        "expectations": sum(s["expectations"] for s in suites),
        "failed_critical": sum(1 for s in suites for f in s["failed"] if f["severity"] == "critical"),
        "failed_warning": sum(1 for s in suites for f in s["failed"] if f["severity"] != "critical"),
        "dbt_tests": sum(1 for t in tests if t["kind"] == "data"),
        "dbt_unit_tests": sum(1 for t in tests if t["kind"] == "unit"),
        "checks_passed": verdict.checks_passed,
        "checks_skipped": verdict.checks_skipped,
        "blocked": len(verdict.failures),
        "warnings": len(verdict.warnings),
    }


def _unit_counts(dbt: dict[str, Any] | None) -> dict[str, int]:
    units = [t for t in (dbt or {}).get("tests", []) if t["kind"] == "unit"]
    return {"run": len(units), "passed": sum(1 for t in units if t["status"] in PASSED)}


def _link_pages(summary: dict[str, Any], site: Path, report_dir: Path) -> None:
    """Point each suite at its Data Docs validation page (relative to the report dir)."""
    run = summary["run_id"]
    if not run:
        return
    for s in [x for src in summary["sources"] for x in src["suites"]]:
        page = validation_page(site, s["suite"], run)
        s["page"] = _rel(page, report_dir) if page else None
    for m in summary["marts"] + summary["models"]:
        page = validation_page(site, m["suite"], run) if m["suite"] else None
        m["page"] = _rel(page, report_dir) if page else None


def _rel(path: Path, base: Path) -> str:
    return os.path.relpath(path, base).replace(os.sep, "/")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

"""The data-quality report sales ops read every morning: can today's numbers be trusted, and if not, why.

``build_report(warehouse, report_dir, marts_path=None, run_id=None)`` (re)writes under ``report_dir``:

- ``index.html``: a one-page summary, standalone (inline CSS and SVG, no JavaScript, printable): the
  overall status in plain words, then per source (crm, billing, activity) and per mart its status
  (trusted / warning / blocked), last successful load, freshness, rows loaded and set aside (quarantine)
  with the reasons, the checks that failed in plain words with a few sample ids, which run the published
  marts (what BI reads) come from, and a chart of the last 30 runs;
- ``summary.json``: the same facts, machine-readable (``collect_summary``);
- ``gx/data_docs/``: Great Expectations' own Data Docs site for the latest runs, working offline
  (``expectations.report_docs``).

It reads the results ``expectations.store`` kept (``validations/<run>/<suite>.json``, ``history.jsonl``),
the warehouse's ``audit.load_log`` / ``audit.quarantine`` / raw tables / ``marts`` schema (read-only; a
missing or locked warehouse only loses those facts) and, when ``marts_path`` is given, which run the
published serving file holds (``ingestion.publish.published_info``).

CLI: ``python -m expectations.report [--build] [--screenshot OUT.png]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

from expectations.report_docs import build_data_docs, validation_page
from expectations.store import history, load_run
from ingestion.contract import BY_TABLE, OBJECTS, SOURCES, SourceObject

log = logging.getLogger(__name__)

TRUSTED, WARNING, BLOCKED, NO_DATA, UNKNOWN = "trusted", "warning", "blocked", "no data", "unknown"
_RANK = {TRUSTED: 0, UNKNOWN: 0, NO_DATA: 1, WARNING: 1, BLOCKED: 2}
TREND_RUNS = 30
DATA_DOCS_RUNS = 5  # runs rendered into Data Docs (each adds one page per suite, ~100 KB)
SAMPLE_IDS = 5
SUMMARY_FILE, INDEX_FILE = "summary.json", "index.html"

SOURCE_LABELS = {
    "crm": "CRM (Salesforce)",
    "billing": "Billing (Stripe)",
    "activity": "Sales activity",
}
REASON_LABELS = {
    "unparseable_row": "the line could not be read (broken quoting or JSON)",
    "wrong_type": "a value has the wrong format (e.g. a date or number written differently)",
    "missing_required": "a required field is empty",
    "duplicate_conflict": "the same record appears twice in one file with different values",
}
# Timestamp fields that say how recent a source's data is, best first.
FRESHNESS_FIELDS = (
    "SystemModstamp",
    "LastModifiedDate",
    "updated_at",
    "updated",
    "occurred_at",
    "created",
    "CreatedDate",
)


# --------------------------------------------------------------------------- public API


def build_report(
    warehouse: Path,
    report_dir: Path,
    marts_path: Path | None = None,
    run_id: str | None = None,
) -> Path:
    """(Re)write the report under ``report_dir`` for ``run_id`` (default: the latest stored run).

    ``marts_path``: the published serving file, to say which run BI reads (None: not checked).
    Returns the path of the summary page, ``report_dir/index.html``.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    summary = collect_summary(warehouse, report_dir, marts_path, run_id)

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
) -> dict[str, Any]:
    """The report's facts as a JSON-safe dict (what ``summary.json`` holds)."""
    report_dir = Path(report_dir)
    now = datetime.now(UTC)
    trend = _trend(report_dir)
    if run_id is None:
        run_id = trend[-1]["run_id"] if trend else _latest_run_folder(report_dir)
    docs = load_run(report_dir, run_id) if run_id else []
    validated_at = max((d.get("validated_at") or "" for d in docs), default=None) or None

    facts = _warehouse_facts(Path(warehouse), run_id)
    published = _published(marts_path) if marts_path is not None else None

    suites = [_suite_summary(d) for d in docs]
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    marts_suites: dict[str, dict[str, Any]] = {}
    other: list[dict[str, Any]] = []
    for s in suites:
        src = _source_of(s["suite"])
        if src:
            by_source[src].append(s)
        elif s["layer"] == "marts":
            marts_suites[s["table"]] = s
        else:
            other.append(s)

    sources = [_source_summary(src, by_source.get(src, []), facts) for src in SOURCES]
    critical = sum(len([f for f in s["failed"] if f["severity"] == "critical"]) for s in suites)
    run_blocked = critical > 0 or any(s["status"] == BLOCKED for s in suites)
    marts = _marts_summary(facts, published, marts_suites, run_id, run_blocked, marts_path is not None)

    issues: list[dict[str, str]] = []
    for s in suites:
        where = _where(s)
        for f in s["failed"]:
            issues.append(
                {
                    "level": BLOCKED if f["severity"] == "critical" else WARNING,
                    "where": where,
                    "text": _failure_sentence(f),
                }
            )
    for src in sources:
        label = src["label"]
        if not src["delivered"]:
            issues.append({"level": WARNING, "where": label, "text": "No data delivered yet."})
        if src["refused_files"]:
            n = len(src["refused_files"])
            issues.append(
                {
                    "level": WARNING,
                    "where": label,
                    "text": f"{n} delivered file{'s' if n > 1 else ''} could not be read and "
                    f"{'were' if n > 1 else 'was'} refused; {'their' if n > 1 else 'its'} records are "
                    "missing until the file is delivered again.",
                }
            )
        if src["rows_quarantined_run"]:
            n = src["rows_quarantined_run"]
            issues.append(
                {
                    "level": WARNING,
                    "where": label,
                    "text": f"{n:,} record{'s' if n > 1 else ''} set aside in this run (quarantine): "
                    "missing from the numbers until corrected at the source.",
                }
            )
    if published and run_id and published.get("run_id") != run_id and not run_blocked:
        issues.append(
            {
                "level": WARNING,
                "where": "BI",
                "text": f"BI still shows the numbers of run {_short(published['run_id'])} "
                f"published {_fmt_time(published.get('published_at'))}: this run's marts are not published.",
            }
        )

    if not run_id:
        status = UNKNOWN
    else:
        status = max((i["level"] for i in issues), key=lambda s: _RANK[s], default=TRUSTED)
    warnings_n = sum(1 for i in issues if i["level"] == WARNING)
    blocked_n = sum(1 for i in issues if i["level"] == BLOCKED)
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "run_id": run_id,
        "validated_at": validated_at,
        "status": status,
        "headline": _headline(status, warnings_n, blocked_n, published, run_id, marts_path is not None),
        "issues": sorted(issues, key=lambda i: -_RANK[i["level"]]),
        "counts": {
            "suites": len(suites),
            "expectations": sum(s["expectations"] for s in suites),
            "failed_critical": critical,
            "failed_warning": sum(
                len([f for f in s["failed"] if f["severity"] != "critical"]) for s in suites
            ),
            "blocked": blocked_n,
            "warnings": warnings_n,
        },
        "warehouse": {"path": str(warehouse), "readable": facts["readable"], "error": facts["error"]},
        "published": published,
        "published_checked": marts_path is not None,
        "sources": sources,
        "marts": marts,
        "other_suites": other,
        "trend": trend[-TREND_RUNS:],
        "data_docs": None,
    }


# --------------------------------------------------------------------------- facts


def _trend(report_dir: Path) -> list[dict[str, Any]]:
    """One entry per run in history.jsonl (in the order runs first appear): status and counts."""
    runs: dict[str, dict[str, Any]] = {}
    for line in history(report_dir):
        rid = line.get("run_id")
        if not rid:
            continue
        r = runs.setdefault(
            rid,
            {
                "run_id": rid,
                "validated_at": line.get("validated_at"),
                "suites": 0,
                "blocked_suites": 0,
                "warning_suites": 0,
                "critical_failures": 0,
                "warnings": 0,
                "_suites": {},
            },
        )
        r["_suites"][line.get("suite")] = line  # a suite validated twice in a run: the later one counts
        r["validated_at"] = max(r["validated_at"] or "", line.get("validated_at") or "") or None
    out = []
    for r in runs.values():
        lines = r.pop("_suites").values()
        r["suites"] = len(lines)
        r["blocked_suites"] = sum(1 for x in lines if x.get("status") == BLOCKED)
        r["warning_suites"] = sum(1 for x in lines if x.get("status") == WARNING)
        r["critical_failures"] = sum(int(x.get("critical_failures") or 0) for x in lines)
        r["warnings"] = sum(int(x.get("warnings") or 0) for x in lines)
        r["status"] = BLOCKED if r["blocked_suites"] else WARNING if r["warning_suites"] else TRUSTED
        out.append(r)
    return out


def _latest_run_folder(report_dir: Path) -> str | None:
    folder = report_dir / "validations"
    runs = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    return max(runs, key=lambda p: p.stat().st_mtime).name if runs else None


def _warehouse_facts(warehouse: Path, run_id: str | None) -> dict[str, Any]:
    """Loads, quarantine, freshness and marts from the warehouse; empty facts when it cannot be read."""
    facts: dict[str, Any] = {
        "readable": False,
        "error": None,
        "loads": {},
        "refused": defaultdict(list),
        "quarantine": defaultdict(list),
        "objects": {},
        "marts": {},
    }
    if not warehouse.exists():
        facts["error"] = f"the warehouse {warehouse} does not exist yet"
        return facts
    from ingestion.warehouse import connect, quote_ident

    try:
        con = connect(warehouse, read_only=True)
    except Exception as exc:  # locked by a writer, corrupt: report what the stored results say
        facts["error"] = f"the warehouse could not be read: {exc}"
        return facts
    try:
        tables = {
            (s, t)
            for s, t in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        if ("audit", "load_log") in tables:
            for row in con.execute(
                """
                SELECT source,
                       max(finished_at) FILTER (WHERE status = 'loaded'),
                       count(*) FILTER (WHERE status = 'loaded'),
                       coalesce(sum(rows_loaded), 0),
                       coalesce(sum(rows_quarantined), 0),
                       coalesce(sum(rows_loaded) FILTER (WHERE run_id = $run), 0),
                       coalesce(sum(rows_quarantined) FILTER (WHERE run_id = $run), 0),
                       count(*) FILTER (WHERE run_id = $run)
                FROM audit.load_log GROUP BY source
                """,
                {"run": run_id or ""},
            ).fetchall():
                facts["loads"][row[0]] = {
                    "last_successful_load": row[1],
                    "files_loaded": int(row[2]),
                    "rows_loaded_total": int(row[3]),
                    "rows_quarantined_total": int(row[4]),
                    "rows_loaded_run": int(row[5]),
                    "rows_quarantined_run": int(row[6]),
                    "files_run": int(row[7]),
                }
            for source, file, message in con.execute(
                "SELECT source, file, message FROM audit.load_log WHERE run_id = ? AND status = 'refused' "
                "ORDER BY file",
                [run_id or ""],
            ).fetchall():
                facts["refused"][source].append({"file": file, "message": message})
        if ("audit", "quarantine") in tables:
            run_loads = "SELECT load_id FROM audit.load_log WHERE run_id = ?"  # created together
            for source, code, n, n_run, examples in con.execute(
                f"""
                SELECT source, reason_code, count(*),
                       count(*) FILTER (WHERE load_id IN ({run_loads})),
                       list({{'object': raw_table, 'record_id': record_id, 'reason': reason,
                              'file': file, 'row': row_number}} ORDER BY file, row_number)[1:3]
                FROM audit.quarantine GROUP BY ALL ORDER BY source, count(*) DESC, reason_code
                """,
                [run_id or ""],
            ).fetchall():
                facts["quarantine"][source].append(
                    {
                        "reason_code": code,
                        "label": REASON_LABELS.get(code, code),
                        "count": int(n),
                        "count_run": int(n_run),
                        "examples": [_object_example(e) for e in examples],
                    }
                )
        for obj in OBJECTS:
            if ("raw", obj.table) not in tables:
                continue
            field = _freshness_field(obj)
            sel = f", max({quote_ident(field)})" if field else ", NULL"
            rows, latest = con.execute(f"SELECT count(*){sel} FROM raw.{quote_ident(obj.table)}").fetchone()
            current = None
            if ("raw", obj.table + "__current") in tables:
                current = con.execute(
                    f"SELECT count(*) FROM raw.{quote_ident(obj.table + '__current')}"
                ).fetchone()[0]
            facts["objects"][obj.table] = {
                "source": obj.source,
                "object": obj.name,
                "rows": int(rows),
                "current_rows": current,
                "freshness_field": field,
                "latest_record_at": latest,
            }
        for schema, table in sorted(tables):
            if schema == "marts" and not table.startswith("_"):
                n = con.execute(f"SELECT count(*) FROM marts.{quote_ident(table)}").fetchone()[0]
                facts["marts"][table] = int(n)
        facts["readable"] = True
    except Exception as exc:
        log.warning("reading the warehouse for the report failed: %s", exc)
        facts["error"] = f"the warehouse could not be read: {type(exc).__name__}: {exc}"
    finally:
        con.close()
    return facts


def _freshness_field(obj: SourceObject) -> str | None:
    typed = {f.name for f in obj.fields if f.type in ("datetime", "unix", "date")}
    if obj.version in typed:
        return obj.version
    return next((f for f in FRESHNESS_FIELDS if f in typed), None)


def _object_example(e: dict[str, Any]) -> dict[str, Any]:
    obj = BY_TABLE.get(e.get("object") or "")
    return {
        "object": obj.name if obj else e.get("object"),
        "record_id": e.get("record_id"),
        "reason": e.get("reason"),
        "file": e.get("file"),
        "row": e.get("row"),
    }


def _published(marts_path: Path) -> dict[str, Any] | None:
    from ingestion.publish import published_info

    try:
        info = published_info(Path(marts_path))
    except Exception as exc:  # being replaced right now, or not a marts file
        log.warning("cannot read the published marts file %s: %s", marts_path, exc)
        return {
            "run_id": None,
            "published_at": None,
            "tables": {},
            "error": str(exc),
            "path": str(marts_path),
        }
    if info is None:
        return None
    tables = info.get("tables")
    if isinstance(tables, str):
        tables = json.loads(tables)
    return {
        "run_id": info.get("run_id"),
        "published_at": _iso(info.get("published_at")),
        "tables": tables or {},
        "path": str(marts_path),
    }


# --------------------------------------------------------------------------- per suite / source / mart


def _source_of(suite: str) -> str | None:
    layer, _, table = suite.partition(".")
    if layer != "raw":
        return None
    base = table[: -len("__current")] if table.endswith("__current") else table
    if base in BY_TABLE:
        return BY_TABLE[base].source
    prefix = base.split("__", 1)[0]
    return prefix if prefix in SOURCES else None


def _key_columns(suite: str) -> tuple[str, ...]:
    base = suite.partition(".")[2].removesuffix("__current")
    if base in BY_TABLE:
        return (BY_TABLE[base].key,)
    try:
        from expectations.suites import all_suites

        s = all_suites().get(suite)
        return tuple(s.key) if s else ()
    except Exception:  # pragma: no cover - suites that cannot be built do not stop the report
        return ()


def _suite_summary(doc: dict[str, Any]) -> dict[str, Any]:
    suite = doc["suite"]
    layer, _, table = suite.partition(".")
    keys = _key_columns(suite)
    failed = []
    for e in doc.get("expectations") or []:
        if e.get("success"):
            continue
        failed.append(
            {
                "name": e.get("name"),
                "type": e.get("type"),
                "column": e.get("column"),
                "severity": e.get("severity") or "critical",
                "description": e.get("description") or e.get("name") or e.get("type"),
                "unexpected_count": e.get("unexpected_count"),
                "element_count": e.get("element_count"),
                "observed_value": _jsonable(e.get("observed_value")),
                "sample_ids": _sample_ids(e, keys),
                "error": ((e.get("exception") or "").strip().splitlines() or [""])[0][:300] or None,
            }
        )
    failed.sort(key=lambda f: (f["severity"] != "critical", f["name"] or ""))
    base = table.removesuffix("__current")
    obj = BY_TABLE.get(base)
    return {
        "suite": suite,
        "layer": layer,
        "table": table,
        "object": obj.name if obj else table,
        "status": doc.get("status") or (BLOCKED if failed else TRUSTED),
        "validated_at": doc.get("validated_at"),
        "expectations": len(doc.get("expectations") or []),
        "failed": failed,
        "error": doc.get("error"),
        "page": None,
    }


def _sample_ids(e: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    column = e.get("column")
    for row in e.get("sample") or []:
        if not isinstance(row, dict):
            out.append(_short_value(row))
            continue
        if set(row) == {"value"}:  # only the bad value is known
            out.append(_short_value(row["value"]))
            continue
        ident = next((row[k] for k in keys if row.get(k) not in (None, "")), None)
        if ident is None:
            ident = next(
                (v for k, v in row.items() if (k.lower() == "id" or k.lower().endswith("_id")) and v), None
            )
        if ident is not None:
            label = str(ident)
        elif row.get("_row_number") is not None:
            label = f"row {row['_row_number']} of {Path(str(row.get('_source_file') or '?')).name}"
        else:
            label = "(no id)"
        if column and column not in keys and column in row:
            label += f" ({column}: {_short_value(row[column])})"
        out.append(label)
        if len(out) >= SAMPLE_IDS:
            break
    return out[:SAMPLE_IDS]


def _source_summary(src: str, suites: list[dict[str, Any]], facts: dict[str, Any]) -> dict[str, Any]:
    loads = facts["loads"].get(src, {})
    objects = {t: o for t, o in facts["objects"].items() if o["source"] == src}
    rows_in_raw = sum(o["rows"] for o in objects.values())
    delivered = bool(loads.get("files_loaded")) or rows_in_raw > 0
    fresh = [o for o in objects.values() if o["latest_record_at"] is not None]
    freshest = max(fresh, key=lambda o: _as_datetime(o["latest_record_at"]), default=None)
    quarantine = facts["quarantine"].get(src, [])
    refused = facts["refused"].get(src, [])
    status = max((s["status"] for s in suites), key=lambda s: _RANK.get(s, 0), default=TRUSTED)
    if status == TRUSTED and (refused or loads.get("rows_quarantined_run")):
        status = WARNING
    if not delivered and facts["readable"]:
        status = NO_DATA
    elif not suites and not facts["readable"]:
        status = UNKNOWN
    return {
        "source": src,
        "label": SOURCE_LABELS.get(src, src),
        "status": status,
        "delivered": delivered or not facts["readable"],
        "last_successful_load": _iso(loads.get("last_successful_load")),
        "latest_record_at": _iso(freshest["latest_record_at"]) if freshest else None,
        "latest_record_field": f"{freshest['object']}.{freshest['freshness_field']}" if freshest else None,
        "rows_loaded_run": loads.get("rows_loaded_run", 0),
        "rows_loaded_total": loads.get("rows_loaded_total", 0),
        "rows_quarantined_run": loads.get("rows_quarantined_run", 0),
        "rows_quarantined": sum(q["count"] for q in quarantine),
        "current_records": sum(o["current_rows"] or 0 for o in objects.values()),
        "quarantine_by_reason": quarantine,
        "refused_files": refused,
        "suites": suites,
        "failed": [dict(f, object=s["object"], suite=s["suite"]) for s in suites for f in s["failed"]],
    }


def _marts_summary(
    facts: dict[str, Any],
    published: dict[str, Any] | None,
    suites: dict[str, dict[str, Any]],
    run_id: str | None,
    run_blocked: bool,
    checked: bool,
) -> list[dict[str, Any]]:
    pub_tables = (published or {}).get("tables") or {}
    names = sorted(set(facts["marts"]) | set(pub_tables) | set(suites))
    pub_run = (published or {}).get("run_id")
    out = []
    for name in names:
        suite = suites.get(name)
        status = suite["status"] if suite else TRUSTED
        if published and pub_run != run_id:
            note = (
                f"BI shows the numbers of run {_short(pub_run)} published "
                f"{_fmt_time(published.get('published_at'))}"
            )
            if run_blocked:
                status = BLOCKED
                note = "Not refreshed (blocked). " + note
            elif status == TRUSTED:
                status = WARNING
        elif published:
            note = f"BI shows this run's numbers (published {_fmt_time(published.get('published_at'))})"
        elif checked:
            note = "Nothing published to BI yet"
            if run_blocked:
                status = BLOCKED
        else:
            note = "Publication not checked"
            if run_blocked:
                status = BLOCKED
                note = "Not refreshed: this run was blocked"
        if name not in pub_tables and published:
            note += "; not in the published file"
        out.append(
            {
                "mart": name,
                "status": status,
                "rows": facts["marts"].get(name),
                "rows_published": pub_tables.get(name),
                "published_run_id": pub_run if name in pub_tables else None,
                "note": note,
                "suite": suite["suite"] if suite else None,
                "failed": suite["failed"] if suite else [],
            }
        )
    return out


def _link_pages(summary: dict[str, Any], site: Path, report_dir: Path) -> None:
    """Point each suite at its Data Docs validation page (relative to the report dir)."""
    run = summary["run_id"]
    if not run:
        return
    suites = [s for src in summary["sources"] for s in src["suites"]] + summary["other_suites"]
    for s in suites:
        page = validation_page(site, s["suite"], run)
        s["page"] = _rel(page, report_dir) if page else None
    for m in summary["marts"]:
        if m["suite"]:
            page = validation_page(site, m["suite"], run)
            m["page"] = _rel(page, report_dir) if page else None


# --------------------------------------------------------------------------- words


def _headline(
    status: str, warnings: int, blocked: int, published: dict | None, run_id: str | None, checked: bool
) -> str:
    if status == UNKNOWN:
        return "No data-quality checks have run yet"
    if status == TRUSTED:
        return "Today's numbers can be trusted"
    if status == WARNING:
        return f"Use with care: {warnings} warning{'s' if warnings != 1 else ''}"
    if published and published.get("run_id") and published.get("run_id") != run_id:
        return (
            f"Blocked: BI still shows the numbers published {_fmt_time(published.get('published_at'))} — why:"
        )
    if checked and not published:
        return "Blocked: no numbers have been published to BI yet — why:"
    return f"Blocked: {blocked} critical problem{'s' if blocked != 1 else ''} — today's numbers were not published — why:"


def _where(s: dict[str, Any]) -> str:
    src = _source_of(s["suite"])
    if src:
        return f"{SOURCE_LABELS.get(src, src)} · {s['object']}"
    return f"{s['layer']} · {s['table']}"


def _failure_sentence(f: dict[str, Any]) -> str:
    desc = f["description"].rstrip(".")
    if f.get("error"):
        return f"{desc}: could not be checked ({f['error']})."
    n = f.get("unexpected_count")
    if isinstance(n, int):
        total = f.get("element_count")
        of = f" of {total:,}" if isinstance(total, int) and total else ""
        text = f"{desc}: {n:,}{of} record{'s' if n != 1 else ''} do{'es' if n == 1 else ''} not"
    elif f.get("observed_value") is not None:
        text = f"{desc}: found {f['observed_value']}"
    else:
        text = f"{desc}: not met"
    if f.get("sample_ids"):
        text += f" (e.g. {', '.join(f['sample_ids'][:3])})"
    return text + "."


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { --ok:#1a7f37; --ok-bg:#dafbe1; --warn:#8a5a00; --warn-bg:#fff3c4; --bad:#b4232c; --bad-bg:#ffe4e4;
        --none:#57606a; --none-bg:#eaeef2; --line:#d0d7de; --muted:#57606a; }
* { box-sizing: border-box; }
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:#1f2328;
       margin: 0 auto; max-width: 1180px; padding: 24px 28px 40px; background:#fff; }
h1 { font-size: 26px; margin: 0 0 6px; line-height: 1.25; }
h2 { font-size: 19px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 6px; }
p { margin: 6px 0; }
a { color: #0550ae; }
.banner { border-radius: 10px; padding: 18px 22px; border: 2px solid; margin-bottom: 8px; }
.banner.trusted { background: var(--ok-bg); border-color: var(--ok); }
.banner.warning { background: var(--warn-bg); border-color: #d4a72c; }
.banner.blocked { background: var(--bad-bg); border-color: var(--bad); }
.banner.unknown { background: var(--none-bg); border-color: var(--none); }
.banner ul { margin: 8px 0 0; padding-left: 22px; }
.banner li { margin: 3px 0; }
.meta { color: var(--muted); font-size: 13px; }
.chip { display: inline-block; padding: 1px 10px; border-radius: 999px; font-weight: 600; font-size: 13px;
        white-space: nowrap; border: 1px solid; }
.chip.trusted { color: var(--ok); background: var(--ok-bg); border-color: var(--ok); }
.chip.warning { color: var(--warn); background: var(--warn-bg); border-color: #d4a72c; }
.chip.blocked { color: var(--bad); background: var(--bad-bg); border-color: var(--bad); }
.chip.no-data, .chip.unknown { color: var(--none); background: var(--none-bg); border-color: var(--none); }
.chip.crit { color: var(--bad); background: #fff; border-color: var(--bad); }
.chip.warn { color: var(--warn); background: #fff; border-color: #d4a72c; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-weight: 600; font-size: 13px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.small { font-size: 12.5px; color: var(--muted); }
.ids { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.source-block { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; margin: 12px 0; }
.source-block h3 { margin-top: 4px; }
.ok-line { color: var(--ok); }
svg text { font-family: inherit; }
footer { margin-top: 30px; border-top: 1px solid var(--line); padding-top: 10px; }
@media print {
  body { max-width: none; padding: 0; font-size: 12px; }
  .banner, .chip, svg { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr, .source-block, .banner { page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

_STATUS_WORDS = {
    TRUSTED: "Trusted",
    WARNING: "Warning",
    BLOCKED: "Blocked",
    NO_DATA: "No data delivered",
    UNKNOWN: "Unknown",
}


def _chip(status: str) -> str:
    return f'<span class="chip {status.replace(" ", "-")}">{_STATUS_WORDS.get(status, status)}</span>'


def render_summary_html(s: dict[str, Any]) -> str:
    """The standalone summary page for ``summary`` (a ``collect_summary`` dict)."""
    e = escape
    parts: list[str] = []
    add = parts.append
    add("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>")
    add("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    add(f"<title>Sales data quality — {e(_STATUS_WORDS.get(s['status'], s['status']))}</title>")
    add(f"<style>{_CSS}</style></head><body>")

    # -- overall status
    add(f"<section class='banner {e(s['status'])}' id='overall' data-status='{e(s['status'])}'>")
    add(f"<h1>{e(s['headline'])}</h1>")
    problems = [i for i in s["issues"] if i["level"] == BLOCKED] if s["status"] == BLOCKED else s["issues"]
    if problems:
        add("<ul>")
        for i in problems[:12]:
            add(f"<li><strong>{e(i['where'])}</strong>: {e(i['text'])}</li>")
        if len(problems) > 12:
            add(f"<li>… and {len(problems) - 12} more, listed below.</li>")
        add("</ul>")
        others = [i for i in s["issues"] if i not in problems]
        if others:
            add(
                f"<p style='margin-top:10px'><strong>Also {len(others)} warning{'s' if len(others) != 1 else ''}:</strong></p>"
            )
            add("<ul class='small' style='color:inherit'>")
            add("".join(f"<li><strong>{e(i['where'])}</strong>: {e(i['text'])}</li>" for i in others[:10]))
            add("</ul>")
    elif s["status"] == TRUSTED:
        add("<p>Every check passed, every source delivered, and nothing was set aside in this run.</p>")
    c = s["counts"]
    checked = (
        f"Checked run <strong>{e(_short(s['run_id']))}</strong> on {e(_fmt_time(s['validated_at']))}: "
        f"{c['suites']} tables, {c['expectations']} checks, {c['failed_critical']} critical and "
        f"{c['failed_warning']} warning-level checks failed."
        if s["run_id"]
        else "No stored validation results were found."
    )
    add(f"<p class='meta'>{checked}<br>{_published_sentence(s)}</p>")
    if not s["warehouse"]["readable"]:
        add(
            f"<p class='meta'>Load and freshness figures are missing: {e(s['warehouse']['error'] or '')}.</p>"
        )
    add("</section>")

    # -- sources
    add("<h2>Sources</h2>")
    add(
        "<table id='sources'><thead><tr><th>Source</th><th>Status</th><th>Last successful load</th>"
        "<th>Latest record (freshness)</th><th class='num'>Rows loaded<br>this run / all time</th>"
        "<th class='num'>Set aside<br>(quarantine)</th><th class='num'>Failed checks</th></tr></thead><tbody>"
    )
    for src in s["sources"]:
        if not src["delivered"]:
            add(
                f"<tr data-source='{e(src['source'])}' data-status='{e(src['status'])}'><td><strong>"
                f"{e(src['label'])}</strong></td><td>{_chip(src['status'])}</td>"
                "<td colspan='5'>No data delivered</td></tr>"
            )
            continue
        fresh = (
            f"{e(_fmt_time(src['latest_record_at']))}<br><span class='small'>"
            f"{e(src['latest_record_field'] or '')}{e(_age(src['latest_record_at'], s['generated_at']))}</span>"
            if src["latest_record_at"]
            else "—"
        )
        failed = src["failed"]
        n_crit = sum(1 for f in failed if f["severity"] == "critical")
        failed_cell = (
            "0"
            if not failed
            else f"{len(failed)}<br><span class='small'>{n_crit} critical, {len(failed) - n_crit} warning</span>"
        )
        quarantined = f"{src['rows_quarantined']:,}"
        if src["rows_quarantined_run"]:
            quarantined += f"<br><span class='small'>{src['rows_quarantined_run']:,} this run</span>"
        add(
            f"<tr data-source='{e(src['source'])}' data-status='{e(src['status'])}'>"
            f"<td><strong>{e(src['label'])}</strong></td><td>{_chip(src['status'])}</td>"
            f"<td>{e(_fmt_time(src['last_successful_load']))}</td><td>{fresh}</td>"
            f"<td class='num'>{src['rows_loaded_run']:,} / {src['rows_loaded_total']:,}</td>"
            f"<td class='num'>{quarantined}</td><td class='num'>{failed_cell}</td></tr>"
        )
    add("</tbody></table>")

    # -- marts
    add("<h2>Marts (what BI reads)</h2>")
    add(f"<p>{_published_sentence(s)}</p>")
    if s["marts"]:
        add(
            "<table id='marts'><thead><tr><th>Mart</th><th>Status</th><th class='num'>Rows (warehouse)</th>"
            "<th class='num'>Rows in BI</th><th>Where the BI numbers come from</th><th>Failed checks</th>"
            "</tr></thead><tbody>"
        )
        for m in s["marts"]:
            fails = (
                "<ul style='margin:0;padding-left:18px'>"
                + "".join(f"<li>{_sev(f)} {e(_failure_sentence(f))}</li>" for f in m["failed"])
                + "</ul>"
                if m["failed"]
                else ("none" if m["suite"] else "<span class='small'>no checks defined</span>")
            )
            add(
                f"<tr data-mart='{e(m['mart'])}' data-status='{e(m['status'])}'><td><strong>{e(m['mart'])}"
                f"</strong></td><td>{_chip(m['status'])}</td><td class='num'>{_num(m['rows'])}</td>"
                f"<td class='num'>{_num(m['rows_published'])}</td><td>{e(m['note'])}</td><td>{fails}</td></tr>"
            )
        add("</tbody></table>")
    else:
        add(
            "<p id='marts'>No marts have been built yet (dbt has not run, or the warehouse has no schema marts).</p>"
        )

    if s["other_suites"]:
        add(
            "<h2>Other checks</h2><table><thead><tr><th>Table</th><th>Status</th><th>Failed checks</th></tr></thead><tbody>"
        )
        for o in s["other_suites"]:
            fails = "; ".join(_failure_sentence(f) for f in o["failed"]) or "none"
            add(f"<tr><td>{e(o['suite'])}</td><td>{_chip(o['status'])}</td><td>{e(fails)}</td></tr>")
        add("</tbody></table>")

    # -- trend
    trend = s["trend"]
    add(f"<h2>Last {len(trend)} run{'s' if len(trend) != 1 else ''}</h2>")
    if trend:
        counts = Counter(r["status"] for r in trend)
        add(
            f"<p>{counts[TRUSTED]} trusted, {counts[WARNING]} with warnings, {counts[BLOCKED]} blocked. "
            "Each bar is one run (oldest left): red = critical checks failed, amber = warnings, "
            "a green stub = every check passed.</p>"
        )
        add(trend_svg(trend, current=s["run_id"]))
    else:
        add("<p>No runs recorded yet.</p>")

    # -- details per source
    add("<h2>Details per source</h2>")
    for src in s["sources"]:
        add(_source_details(src))

    # -- footer
    add("<footer class='small'>")
    if s.get("data_docs"):
        add(
            f"Every check and its result in detail: <a href='{e(s['data_docs'])}'>Great Expectations Data Docs</a>. "
        )
    elif s.get("data_docs_error"):
        add(f"The detailed Data Docs could not be built: {e(s['data_docs_error'])}. ")
    add(
        f"Machine-readable: <a href='{SUMMARY_FILE}'>{SUMMARY_FILE}</a>. Generated "
        f"{e(_fmt_time(s['generated_at']))} from the warehouse {e(s['warehouse']['path'])}.</footer>"
    )
    add("</body></html>\n")
    return "\n".join(parts)


def _source_details(src: dict[str, Any]) -> str:
    e = escape
    out = [
        f"<div class='source-block' id='source-{e(src['source'])}'><h3>{e(src['label'])} {_chip(src['status'])}</h3>"
    ]
    if not src["delivered"]:
        out.append("<p>No data delivered: no file from this source has been loaded yet.</p></div>")
        return "".join(out)
    if src["failed"]:
        out.append(
            "<p><strong>Checks that failed</strong></p><table><thead><tr><th>Severity</th><th>Object</th>"
            "<th>What should be true</th><th class='num'>Records</th><th>For example</th></tr></thead><tbody>"
        )
        for f in src["failed"]:
            count = (
                f"could not be checked: {e(f['error'])}"
                if f.get("error")
                else _num(f["unexpected_count"])
                if f.get("unexpected_count") is not None
                else e(str(f.get("observed_value")))
            )
            suite = next((x for x in src["suites"] if x["suite"] == f["suite"]), {})
            obj = e(f["object"])
            if suite.get("page"):
                obj = f"<a href='{e(suite['page'])}'>{obj}</a>"
            out.append(
                f"<tr><td>{_sev(f)}</td><td>{obj}</td><td>{e(f['description'])}</td>"
                f"<td class='num'>{count}</td><td class='ids'>{e(', '.join(f['sample_ids'])) or '—'}</td></tr>"
            )
        out.append("</tbody></table>")
    else:
        n = sum(x["expectations"] for x in src["suites"])
        if src["suites"]:
            t = len(src["suites"])
            out.append(f"<p class='ok-line'>All {n} checks on {t} table{'s' if t != 1 else ''} passed.</p>")
        else:
            out.append("<p class='small'>No checks ran on this source in this run.</p>")
    if src["quarantine_by_reason"]:
        out.append(
            f"<p><strong>Records set aside (quarantine): {src['rows_quarantined']:,}</strong> — kept out of the "
            "numbers until the source system corrects them.</p>"
            "<table><thead><tr><th>Why</th><th class='num'>Records</th><th class='num'>This run</th>"
            "<th>For example</th></tr></thead><tbody>"
        )
        for q in src["quarantine_by_reason"]:
            ex = "; ".join(dict.fromkeys(_quarantine_example(x) for x in q["examples"]))
            out.append(
                f"<tr data-reason='{e(q['reason_code'])}'><td>{e(q['label'][0].upper() + q['label'][1:])} "
                f"<span class='small'>({e(q['reason_code'])})</span></td><td class='num'>{q['count']:,}</td>"
                f"<td class='num'>{q['count_run']:,}</td><td class='small'>{e(ex)}</td></tr>"
            )
        out.append("</tbody></table>")
    if src["refused_files"]:
        out.append(
            "<p><strong>Files refused in this run</strong> (nothing from them was loaded; fix and deliver "
            "again under a new name):</p><ul>"
        )
        out += [f"<li class='small'>{e(r['message'] or r['file'])}</li>" for r in src["refused_files"]]
        out.append("</ul>")
    out.append("</div>")
    return "".join(out)


def _quarantine_example(x: dict[str, Any]) -> str:
    if x.get("record_id"):
        where = f"{x['object']} {x['record_id']}"
    else:
        row = f" row {x['row']}" if x.get("row") is not None else ""
        where = f"{x['object']} ({Path(str(x.get('file') or '?')).name}{row})"
    return f"{where}: {x.get('reason') or ''}"


def trend_svg(trend: list[dict[str, Any]], current: str | None = None, width: int = 1100) -> str:
    """An inline SVG bar chart: failed checks per run (critical red, warnings amber), status below."""
    e = escape
    n = len(trend)
    left, right, top, bar_h = 40, 10, 14, 120
    plot_w = width - left - right
    slot = plot_w / max(n, 1)
    bw = max(4.0, min(26.0, slot * 0.7))
    peak = max((r["critical_failures"] + r["warnings"] for r in trend), default=0)
    scale_max = max(peak, 1)
    height = top + bar_h + 50
    colors = {TRUSTED: "#2da44e", WARNING: "#d4a72c", BLOCKED: "#cf222e"}
    out = [
        f"<svg id='trend' width='100%' viewBox='0 0 {width} {height}' "
        f"role='img' aria-label='Failed checks in the last {n} runs'>",
        f"<line x1='{left}' y1='{top + bar_h}' x2='{width - right}' y2='{top + bar_h}' stroke='#8c959f'/>",
        f"<line x1='{left}' y1='{top}' x2='{width - right}' y2='{top}' stroke='#eaeef2'/>",
        f"<text x='{left - 6}' y='{top + 4}' text-anchor='end' font-size='11' fill='#57606a'>{scale_max}</text>",
        f"<text x='{left - 6}' y='{top + bar_h + 4}' text-anchor='end' font-size='11' fill='#57606a'>0</text>",
    ]
    every = max(1, round(n / 12))
    days = [_fmt_day(r["validated_at"]) for r in trend]
    same_day = len(set(days)) < len(days)
    for i, r in enumerate(trend):
        x = left + i * slot + (slot - bw) / 2
        crit, warn = r["critical_failures"], r["warnings"]
        h_crit = bar_h * crit / scale_max
        h_warn = bar_h * warn / scale_max
        base = top + bar_h
        when = _fmt_time(r["validated_at"])
        tip = (
            f"run {_short(r['run_id'])}, {when}: {_STATUS_WORDS[r['status']].lower()}; "
            f"{crit} critical, {warn} warning checks failed; {r['suites']} tables checked"
        )
        out.append(
            f"<g class='run' data-run='{e(r['run_id'])}' data-status='{r['status']}'><title>{e(tip)}</title>"
        )
        if crit + warn == 0:
            out.append(f"<rect x='{x:.1f}' y='{base - 3}' width='{bw:.1f}' height='3' fill='#2da44e'/>")
        if h_crit:
            out.append(
                f"<rect x='{x:.1f}' y='{base - h_crit:.1f}' width='{bw:.1f}' height='{h_crit:.1f}' fill='#cf222e'/>"
            )
        if h_warn:
            out.append(
                f"<rect x='{x:.1f}' y='{base - h_crit - h_warn:.1f}' width='{bw:.1f}' height='{h_warn:.1f}' "
                "fill='#d4a72c'/>"
            )
        if crit + warn:
            out.append(
                f"<text x='{x + bw / 2:.1f}' y='{base - h_crit - h_warn - 3:.1f}' text-anchor='middle' "
                f"font-size='10' fill='#1f2328'>{crit + warn}</text>"
            )
        out.append(
            f"<circle cx='{x + bw / 2:.1f}' cy='{base + 10}' r='{min(5, bw / 2):.1f}' fill='{colors[r['status']]}'"
            + (" stroke='#1f2328' stroke-width='2'" if r["run_id"] == current else "")
            + "/>"
        )
        if i % every == 0 or i == n - 1:
            out.append(
                f"<text x='{x + bw / 2:.1f}' y='{base + 30}' text-anchor='middle' font-size='10.5' "
                f"fill='#57606a'>{e(_fmt_day(r['validated_at'], with_time=same_day))}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- helpers


def _published_sentence(s: dict[str, Any]) -> str:
    e = escape
    p = s.get("published")
    if not s.get("published_checked"):
        return "Which run BI shows was not checked (no published marts file given)."
    if not p:
        return "Nothing has been published to BI yet."
    if p.get("error"):
        return f"The published marts file could not be read: {e(p['error'])}."
    this = " (this run)" if p.get("run_id") == s.get("run_id") else ""
    return (
        f"BI reads the marts published {e(_fmt_time(p.get('published_at')))} by run "
        f"<strong>{e(_short(p.get('run_id')))}</strong>{this}: {len(p.get('tables') or {})} tables."
    )


def _sev(f: dict[str, Any]) -> str:
    return (
        "<span class='chip crit'>critical</span>"
        if f["severity"] == "critical"
        else "<span class='chip warn'>warning</span>"
    )


def _short(run_id: str | None) -> str:
    if not run_id:
        return "?"
    return run_id[:8] if len(run_id) > 12 else run_id


def _short_value(v: Any) -> str:
    text = "null" if v is None else str(v)
    return text if len(text) <= 40 else text[:37] + "…"


def _num(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "—"


def _as_datetime(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    if isinstance(v, str):
        try:
            d = datetime.fromisoformat(v.replace("Z", "+00:00"))
            return d if d.tzinfo else d.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.min.replace(tzinfo=UTC)


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime | date):
        return _as_datetime(v).astimezone(UTC).isoformat(timespec="seconds")
    return str(v)


def _fmt_time(v: Any) -> str:
    if not v:
        return "never"
    d = _as_datetime(v)
    if d.year == 1:
        return str(v)
    return d.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _fmt_day(v: Any, with_time: bool = False) -> str:
    d = _as_datetime(v)
    if d.year == 1:
        return "?"
    return d.strftime("%d %b %H:%M" if with_time else "%d %b")


def _age(v: Any, now: Any) -> str:
    then, ref = _as_datetime(v), _as_datetime(now)
    if then.year == 1 or ref.year == 1:
        return ""
    days = (ref - then).total_seconds() / 86400
    if days < 0:
        return ""
    if days < 1:
        hours = int(days * 24)
        return f" — {hours} hour{'s' if hours != 1 else ''} before this report"
    return f" — {int(days)} day{'s' if int(days) != 1 else ''} before this report"


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except TypeError:
        return str(v)


def _rel(path: Path, base: Path) -> str:
    return os.path.relpath(path, base).replace(os.sep, "/")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m expectations.report",
        description="Build the data-quality report and/or screenshot its summary page in headless Chromium.",
    )
    parser.add_argument(
        "--build", action="store_true", help="rebuild the report from the settings (SALESDW_*)"
    )
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path, help="render index.html to this PNG")
    parser.add_argument("--report-dir", type=Path, help="report directory (default: SALESDW_REPORT_DIR)")
    parser.add_argument("--run-id", help="report this run (default: the latest stored run)")
    parser.add_argument("--page", type=Path, help="page to screenshot (default: the report's index.html)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args(argv)
    if not args.build and not args.screenshot:
        parser.error("nothing to do: give --build and/or --screenshot OUT.png")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from ingestion.settings import Settings

    settings = Settings.from_env()
    report_dir = args.report_dir or settings.report_dir
    index = report_dir / INDEX_FILE
    if args.build:
        index = build_report(settings.warehouse, report_dir, settings.marts, args.run_id)
        summary = json.loads((report_dir / SUMMARY_FILE).read_text())
        print(f"{summary['headline']}\nreport: {index}")
    if args.screenshot:
        from expectations.report_browser import screenshot

        page = args.page or index
        if not page.exists():
            print(f"{page} does not exist: build the report first (--build)", file=sys.stderr)
            return 2
        out = screenshot(page, args.screenshot, args.width, args.height)
        print(f"screenshot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

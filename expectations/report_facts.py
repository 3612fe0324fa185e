"""The data-quality report's queries: what the warehouse, the published file and the stored results say.

Every function returns plain JSON-safe facts and decides nothing: which of them are warnings or failures is
``expectations.report_verdict``'s job, and the words and HTML are ``expectations.report_render``'s.

- ``warehouse_facts``: loads, refused and ignored deliveries, quarantine, freshness, sources in use and the
  marts' row counts, from ``audit.load_log`` / ``audit.quarantine`` / raw / ``marts`` (read-only; a missing or
  locked warehouse only loses these facts);
- ``published_facts``: which run the serving file holds (``ingestion.publish.published_info``);
- ``suite_summary``: one stored Great Expectations result (``expectations.store``) per table;
- ``trend``: status and counts per stored run (``history.jsonl``, or the run's verdict once it was judged).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from expectations.sources_in_use import IN_USE_QUERY, sources_in_use_from_rows
from expectations.store import history
from ingestion.contract import BY_TABLE, OBJECTS, SOURCES, SourceObject

log = logging.getLogger(__name__)

TRUSTED, WARNING, BLOCKED, UNKNOWN, NOT_IN_USE = "trusted", "warning", "blocked", "unknown", "not in use"
SAMPLE_IDS = 5
VERDICTS_FILE = "verdicts.jsonl"  # under the report dir: one line per judged run (the trend reads it)
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
# Load-log statuses that mean a delivery was read (a re-delivered identical file is still a delivery).
DELIVERED = ("loaded", "duplicate_file")


# --------------------------------------------------------------------------- warehouse


def warehouse_facts(warehouse: Path, run_id: str | None) -> dict[str, Any]:
    """Loads, quarantine, freshness, sources in use and marts from the warehouse; empty when unreadable."""
    facts: dict[str, Any] = {
        "readable": False,
        "error": None,
        "in_use": None,  # None: unknown (no load log)
        "loads": {},
        "refused": defaultdict(list),
        "ignored": defaultdict(list),
        "quarantine": defaultdict(list),
        "objects": {},
        "marts": {},
    }
    if not warehouse.exists():
        facts["error"] = f"the warehouse {warehouse} does not exist yet"
        return facts
    from ingestion.warehouse import connect

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
            facts["in_use"] = sorted(sources_in_use_from_rows(con.execute(IN_USE_QUERY).fetchall()))
            _load_log(con, run_id or "", facts)
        if ("audit", "quarantine") in tables:
            _quarantine(con, run_id or "", facts)
        _objects(con, tables, facts)
        _marts(con, tables, facts)
        facts["readable"] = True
    except Exception as exc:
        log.warning("reading the warehouse for the report failed: %s", exc)
        facts["error"] = f"the warehouse could not be read: {type(exc).__name__}: {exc}"
    finally:
        con.close()
    return facts


def _load_log(con: Any, run_id: str, facts: dict[str, Any]) -> None:
    delivered = ", ".join(f"'{s}'" for s in DELIVERED)
    for row in con.execute(
        f"""
        SELECT source,
               max(finished_at) FILTER (WHERE status = 'loaded'),
               max(finished_at) FILTER (WHERE status IN ({delivered})),
               count(*) FILTER (WHERE status = 'loaded'),
               coalesce(sum(rows_loaded), 0),
               coalesce(sum(rows_quarantined), 0),
               coalesce(sum(rows_loaded) FILTER (WHERE run_id = $run), 0),
               coalesce(sum(rows_quarantined) FILTER (WHERE run_id = $run), 0),
               count(*) FILTER (WHERE run_id = $run)
        FROM audit.load_log GROUP BY source
        """,
        {"run": run_id},
    ).fetchall():
        facts["loads"][row[0]] = {
            "last_successful_load": row[1],
            "last_delivery": row[2],
            "files_loaded": int(row[3]),
            "rows_loaded_total": int(row[4]),
            "rows_quarantined_total": int(row[5]),
            "rows_loaded_run": int(row[6]),
            "rows_quarantined_run": int(row[7]),
            "files_run": int(row[8]),
        }
    # Refused files could not be read; ignored entries are in the landing zone but not contract files (a
    # sub-folder, an archive, an unknown object): both are in this run's load log with the reason.
    for status in ("refused", "ignored"):
        for source, file, message in con.execute(
            "SELECT source, file, message FROM audit.load_log WHERE run_id = ? AND status = ? ORDER BY file",
            [run_id, status],
        ).fetchall():
            facts[status][source].append({"file": file, "message": message})


def _quarantine(con: Any, run_id: str, facts: dict[str, Any]) -> None:
    run_loads = "SELECT load_id FROM audit.load_log WHERE run_id = ?"  # created together
    for source, code, n, n_run, examples in con.execute(
        f"""
        SELECT source, reason_code, count(*),
               count(*) FILTER (WHERE load_id IN ({run_loads})),
               list({{'object': raw_table, 'record_id': record_id, 'reason': reason,
                      'file': file, 'row': row_number}} ORDER BY file, row_number)[1:3]
        FROM audit.quarantine GROUP BY ALL ORDER BY source, count(*) DESC, reason_code
        """,
        [run_id],
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


def _objects(con: Any, tables: set[tuple[str, str]], facts: dict[str, Any]) -> None:
    from ingestion.warehouse import current_rows_sql, quote_ident

    for obj in OBJECTS:
        if ("raw", obj.table) not in tables:
            continue
        field = freshness_field(obj)
        sel = f", max({quote_ident(field)})" if field else ", NULL"
        rows, latest = con.execute(f"SELECT count(*){sel} FROM raw.{quote_ident(obj.table)}").fetchone()
        current = None
        if ("raw", obj.table + "__current") in tables:
            current = con.execute(current_rows_sql(obj)).fetchone()[0]
        facts["objects"][obj.table] = {
            "source": obj.source,
            "object": obj.name,
            "rows": int(rows),
            "current_rows": current,
            "freshness_field": field,
            "latest_record_at": latest,
        }


def _marts(con: Any, tables: set[tuple[str, str]], facts: dict[str, Any]) -> None:
    from ingestion.warehouse import quote_ident

    for schema, table in sorted(tables):
        if schema == "marts" and not table.startswith("_"):
            n = con.execute(f"SELECT count(*) FROM marts.{quote_ident(table)}").fetchone()[0]
            facts["marts"][table] = int(n)


def freshness_field(obj: SourceObject) -> str | None:
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


# --------------------------------------------------------------------------- the published file


def published_facts(marts_path: Path) -> dict[str, Any] | None:
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
        "published_at": iso(info.get("published_at")),
        "tables": tables or {},
        "path": str(marts_path),
    }


# --------------------------------------------------------------------------- stored GE results


def source_of(suite: str) -> str | None:
    """The source a raw suite checks (``raw.crm__user__current`` -> crm); None for model suites."""
    layer, _, table = suite.partition(".")
    if layer != "raw":
        return None
    base = table.removesuffix("__current")
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


def suite_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """One stored suite result: its failed expectations with sample ids, and how many passed or were skipped."""
    suite = doc["suite"]
    layer, _, table = suite.partition(".")
    keys = _key_columns(suite)
    expectations = doc.get("expectations") or []
    failed, skipped = [], []
    for e in expectations:
        if e.get("skipped"):
            skipped.append({"name": e.get("name"), "reason": e["skipped"]})
        elif not e.get("success"):
            failed.append(_failed_expectation(e, keys))
    failed.sort(key=lambda f: (f["severity"] != "critical", f["name"] or ""))
    obj = BY_TABLE.get(table.removesuffix("__current"))
    return {
        "suite": suite,
        "layer": layer,
        "table": table,
        "object": obj.name if obj else table,
        "status": doc.get("status") or (BLOCKED if failed else TRUSTED),
        "validated_at": doc.get("validated_at"),
        "expectations": len(expectations),
        "passed": len(expectations) - len(failed) - len(skipped),
        "failed": failed,
        "skipped": skipped,
        "error": doc.get("error"),
        "page": None,
        # not re-run by this (delta) run: its data did not change since the run that checked it
        "checked_in_run": doc.get("carried_from_run"),
    }


def _failed_expectation(e: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {
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


def _sample_ids(e: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    column = e.get("column")
    for row in e.get("sample") or []:
        if not isinstance(row, dict):
            out.append(short_value(row))
            continue
        if set(row) == {"value"}:  # only the bad value is known
            out.append(short_value(row["value"]))
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
            label += f" ({column}: {short_value(row[column])})"
        out.append(label)
        if len(out) >= SAMPLE_IDS:
            break
    return out[:SAMPLE_IDS]


# --------------------------------------------------------------------------- runs over time


def trend(report_dir: Path) -> list[dict[str, Any]]:
    """One entry per stored run (in the order runs first appear): status and counts.

    A run the report judged (``verdicts.jsonl``) is shown with that verdict's counts, the same the run
    summary printed; an older run without one falls back to its suites' results in ``history.jsonl``.
    """
    runs: dict[str, dict[str, Any]] = {}
    for line in history(report_dir):
        rid = line.get("run_id")
        if not rid:
            continue
        r = runs.setdefault(rid, {"run_id": rid, "validated_at": line.get("validated_at"), "_suites": {}})
        r["_suites"][line.get("suite")] = line  # a suite validated twice in a run: the later one counts
        r["validated_at"] = max(r["validated_at"] or "", line.get("validated_at") or "") or None
    verdicts = stored_verdicts(report_dir)
    out = []
    for r in runs.values():
        lines = list(r.pop("_suites").values())
        r["suites"] = len(lines)
        judged = verdicts.get(r["run_id"])
        if judged:
            r["failures"], r["warnings"], r["status"] = (
                judged["failures"],
                judged["warnings"],
                judged["status"],
            )
        else:
            r["failures"] = sum(int(x.get("critical_failures") or 0) for x in lines)
            r["warnings"] = sum(int(x.get("warnings") or 0) for x in lines)
            r["status"] = BLOCKED if r["failures"] else WARNING if r["warnings"] else TRUSTED
        out.append(r)
    return out


def stored_verdicts(report_dir: Path) -> dict[str, dict[str, Any]]:
    path = Path(report_dir) / VERDICTS_FILE
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            v = json.loads(line)
            out[v["run_id"]] = v  # the run's latest judgement wins
    return out


def store_verdict(report_dir: Path, run_id: str, verdict: dict[str, Any]) -> None:
    line = {"run_id": run_id, **{k: verdict[k] for k in ("status", "failures", "warnings")}}
    known = stored_verdicts(report_dir).get(run_id)
    if known and all(known.get(k) == v for k, v in line.items()):
        return
    with open(Path(report_dir) / VERDICTS_FILE, "a") as fh:
        fh.write(json.dumps(line) + "\n")


def latest_run_folder(report_dir: Path) -> str | None:
    folder = report_dir / "validations"
    runs = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    return max(runs, key=lambda p: p.stat().st_mtime).name if runs else None


# --------------------------------------------------------------------------- values


def short_value(v: Any) -> str:
    text = "null" if v is None else str(v)
    return text if len(text) <= 40 else text[:37] + "…"


def as_datetime(v: Any) -> datetime:
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


def iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime | date):
        return as_datetime(v).astimezone(UTC).isoformat(timespec="seconds")
    return str(v)


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except TypeError:
        return str(v)

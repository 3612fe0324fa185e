"""Validation results kept across runs, so the report can show today's status and a 30-run trend.

Layout under the report directory (SALESDW_REPORT_DIR):
    validations/<run_id>/<suite>.json    one SuiteResult per suite and run (with GE's result JSON)
    validations/<run_id>.scope.json      a delta run's scope: which raw tables received rows, whether
                                         it built anything (orchestration/selection.py); none for a full run
    history.jsonl                        one line per suite and run: status and counts

A delta run checks only what it rebuilt; every other suite's latest result stands, from the run that ran
it (`carried_results`), and the report says which run that was.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expectations.runner import SuiteResult


def status_of(result: SuiteResult) -> str:
    """trusted: every expectation met; warning: only warnings failed; blocked: a critical one failed."""
    if result.critical_failures:
        return "blocked"
    return "warning" if result.warnings else "trusted"


def save_result(report_dir: Path, run_id: str, result: SuiteResult) -> Path:
    report_dir = Path(report_dir)
    folder = report_dir / "validations" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    doc: dict[str, Any] = {
        "suite": result.suite,
        "run_id": run_id,
        "validated_at": now,
        "status": status_of(result),
        "duration_seconds": round(result.duration_seconds, 3),
        "error": result.error,
        "expectations": [dataclasses.asdict(r) for r in result.results],
        "ge_validation_result": result.validation_result,
    }
    path = folder / f"{result.suite}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, default=str, indent=1))
    tmp.replace(path)
    line = {
        "run_id": run_id,
        "suite": result.suite,
        "validated_at": now,
        "status": doc["status"],
        "expectations": len(result.results),
        "critical_failures": len(result.critical_failures),
        "warnings": len(result.warnings),
        "skipped": len(result.skipped),
    }
    with open(report_dir / "history.jsonl", "a") as fh:
        fh.write(json.dumps(line) + "\n")
    return path


def load_run(report_dir: Path, run_id: str) -> list[dict[str, Any]]:
    folder = Path(report_dir) / "validations" / run_id
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def history(report_dir: Path) -> list[dict[str, Any]]:
    path = Path(report_dir) / "history.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_scope(report_dir: Path, run_id: str, scope: dict[str, Any]) -> None:
    folder = Path(report_dir) / "validations"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.scope.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(scope))
    tmp.replace(path)


def load_scope(report_dir: Path, run_id: str) -> dict[str, Any] | None:
    """The scope of a delta run; None for a full run (it checks everything it builds)."""
    try:
        return json.loads((Path(report_dir) / "validations" / f"{run_id}.scope.json").read_text())
    except (OSError, ValueError):
        return None


def carried_results(report_dir: Path, run_id: str, have: set[str]) -> list[dict[str, Any]]:
    """The latest result, from runs before `run_id`, of every suite not in `have` (those it ran itself),
    each marked `carried_from_run`: the run that checked it last."""
    latest: dict[str, str] = {}
    for line in history(report_dir):
        if line["run_id"] == run_id:
            break
        latest[line["suite"]] = line["run_id"]
    out = []
    for suite, older in sorted(latest.items()):
        path = Path(report_dir) / "validations" / older / f"{suite}.json"
        if suite in have or not path.is_file():
            continue
        out.append({**json.loads(path.read_text()), "carried_from_run": older})
    return out

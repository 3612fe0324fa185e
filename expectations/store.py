"""Validation results kept across runs, so the report can show today's status and a 30-run trend.

Layout under the report directory (SALESDW_REPORT_DIR):
    validations/<run_id>/<suite>.json    one SuiteResult per suite and run (with GE's result JSON)
    history.jsonl                        one line per suite and run: status and counts
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

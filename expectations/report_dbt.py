"""dbt's own checks of one run, per model: data tests, unit tests, contracts and build errors.

dagster-dbt gives every `dbt build` invocation its own target dir, ``dbt_project/target/<step>-<run id[:7]>-<id>``
(orchestration/defs/dbt/project.py, ``step_target_path``), where dbt leaves ``run_results.json`` (each node's
status and, for a test, the number of failing rows) beside the ``manifest.json`` it ran (which model each test
checks). ``dbt_results`` reads them for one run; the report keeps what it read under
``<report dir>/dbt/<run>.json``, because old target dirs are pruned.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STEP_DIR_GLOB = "dbt_*-{run}-*"  # <step>-<run id[:7]>-<invocation id>, see step_target_path
RUN_ID_CHARS = 7
PASSED = ("pass", "success")
FAILED = ("fail", "error")
WARNED = ("warn",)


def step_dirs(target_root: Path, run_id: str) -> list[Path]:
    """The target dirs of a run's dbt invocations, oldest first (a later one's results win)."""
    pattern = STEP_DIR_GLOB.format(run=run_id[:RUN_ID_CHARS])
    found = [d for d in Path(target_root).glob(pattern) if (d / "run_results.json").is_file()]
    return sorted(found, key=lambda d: (d / "run_results.json").stat().st_mtime)


def dbt_results(target_root: Path, run_id: str) -> dict[str, Any] | None:
    """{"steps": [...], "models": {name: {...}}, "tests": [...]} for the run; None when dbt did not run in it."""
    dirs = step_dirs(target_root, run_id)
    if not dirs:
        return None
    nodes: dict[str, dict[str, Any]] = {}
    unit_tests: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    steps = []
    for d in dirs:
        try:
            run_results = json.loads((d / "run_results.json").read_text())
            manifest = json.loads((d / "manifest.json").read_text())
        except (OSError, ValueError) as exc:  # pruned or half-written meanwhile
            log.warning("cannot read dbt results in %s: %s", d, exc)
            continue
        nodes.update(manifest.get("nodes") or {})
        unit_tests.update(manifest.get("unit_tests") or {})
        for r in run_results.get("results") or []:
            results[r["unique_id"]] = r
        steps.append(
            {
                "step": d.name.split("-", 1)[0],
                "target_dir": d.name,
                "nodes": len(run_results.get("results") or []),
                "generated_at": (run_results.get("metadata") or {}).get("generated_at"),
            }
        )
    if not steps:
        return None
    models = {
        n["name"]: _model(n, results.get(uid))
        for uid, n in nodes.items()
        if n.get("resource_type") == "model" and n.get("package_name") == _package(nodes)
    }
    tests = [
        _test(uid, nodes[uid], results[uid], nodes)
        for uid in results
        if uid in nodes and nodes[uid].get("resource_type") == "test"
    ]
    tests += [_unit_test(uid, unit_tests[uid], results[uid]) for uid in results if uid in unit_tests]
    for t in tests:
        for name in t["models"]:
            if name in models:
                models[name]["unit_tests" if t["kind"] == "unit" else "tests"].append(t)
    return {"steps": steps, "models": models, "tests": tests}


def cached_dbt_results(report_dir: Path, target_root: Path, run_id: str) -> dict[str, Any] | None:
    """``dbt_results`` of the run, kept under the report dir the first time they are found."""
    cache = Path(report_dir) / "dbt" / f"{run_id}.json"
    found = dbt_results(target_root, run_id)
    if found is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.tmp")
        tmp.write_text(json.dumps(found, default=str))
        tmp.replace(cache)
        return found
    if cache.is_file():
        return json.loads(cache.read_text())
    return None


def _package(nodes: dict[str, dict[str, Any]]) -> str:
    """The project's own package (the one most nodes belong to)."""
    counts: dict[str, int] = {}
    for n in nodes.values():
        counts[n.get("package_name") or ""] = counts.get(n.get("package_name") or "", 0) + 1
    return max(counts, key=counts.get) if counts else ""


def _model(node: dict[str, Any], result: dict[str, Any] | None) -> dict[str, Any]:
    config = node.get("config") or {}
    return {
        "model": node["name"],
        "layer": node.get("schema") or "",
        "materialized": config.get("materialized"),
        "contract_enforced": bool((config.get("contract") or {}).get("enforced")),
        # success / error / skipped; None: not part of this run's builds
        "status": result.get("status") if result else None,
        "message": _first_line(result.get("message")) if result and result.get("status") == "error" else None,
        "tests": [],
        "unit_tests": [],
    }


def _test(uid: str, node: dict[str, Any], result: dict[str, Any], nodes: dict[str, dict]) -> dict[str, Any]:
    meta = node.get("test_metadata") or {}
    attached = node.get("attached_node")
    targets = [attached] if attached else (node.get("depends_on") or {}).get("nodes") or []
    models = [nodes[t]["name"] for t in targets if t in nodes and nodes[t].get("resource_type") == "model"]
    return {
        "id": uid,
        "kind": "data",
        "name": _test_name(node, meta),
        "generic": meta.get("name") or "singular",
        "models": models,
        "severity": (node.get("config") or {}).get("severity") or "error",
        "status": result.get("status"),
        "failures": result.get("failures"),
        "message": _first_line(result.get("message")) if result.get("status") not in PASSED else None,
        "description": (node.get("description") or "").strip() or None,
    }


def _unit_test(uid: str, node: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": uid,
        "kind": "unit",
        "name": node.get("name") or uid,
        "generic": "unit",
        "models": [node["model"]] if node.get("model") else [],
        "severity": "error",
        "status": result.get("status"),
        "failures": result.get("failures"),
        "message": _first_line(result.get("message")) if result.get("status") not in PASSED else None,
        "description": (node.get("description") or "").strip() or None,
    }


def _test_name(node: dict[str, Any], meta: dict[str, Any]) -> str:
    """``account_id: in stg_crm__accounts.account_id``, ``opportunity_id: unique``; a singular test's own name."""
    kind = meta.get("name")
    if not kind:
        return node.get("name") or "singular test"
    kwargs = meta.get("kwargs") or {}
    column = node.get("column_name") or kwargs.get("column_name")
    columns = kwargs.get("combination_of_columns")
    if kind == "relationships":
        to = re.search(r"ref\(['\"]([^'\"]+)['\"]\)", str(kwargs.get("to") or ""))
        rule = f"in {to.group(1) if to else kwargs.get('to')}.{kwargs.get('field')}"
    else:
        rule = kind.replace("_", " ")
    if columns:
        return f"({', '.join(columns)}): {rule}"
    return f"{column}: {rule}" if column else rule


def _first_line(text: Any) -> str | None:
    if not text:
        return None
    return str(text).strip().splitlines()[0][:300]

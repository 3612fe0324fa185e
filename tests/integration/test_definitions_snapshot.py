"""The loaded Dagster definitions against a checked-in snapshot: a renamed asset, check, job,
schedule or sensor is a visible diff in review, not a silent break of a schedule, a sensor or a
bookmark in the UI.

After an intended change, regenerate the snapshot and commit it with the change:

    SALESDW_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/integration/test_definitions_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
UPDATE_ENV = "SALESDW_UPDATE_SNAPSHOTS"


def _defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def _enum(value) -> str | None:
    return None if value is None else getattr(value, "value", str(value))


def definitions_snapshot(defs: dg.Definitions) -> dict:
    """Everything a rename would break, as plain, sorted JSON data."""
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()

    # pool per asset / check: the op (or multi-asset op) that materialises or evaluates it
    pool_by_key: dict = {}
    for assets_def in graph.assets_defs:
        pool = assets_def.node_def.pool if assets_def.is_executable else None
        for key in [*assets_def.keys, *assets_def.check_keys]:
            pool_by_key[key] = pool

    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "pool": pool_by_key.get(key),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": str(node.partitions_def) if node.partitions_def else None,
        }

    checks = sorted(
        (
            {
                "asset": ck.asset_key.to_user_string(),
                "name": ck.name,
                "blocking": graph.get(ck).blocking,
                "pool": pool_by_key.get(ck),
            }
            for ck in graph.asset_check_keys
        ),
        key=lambda c: (c["asset"], c["name"]),
    )

    jobs = {}
    for job in sorted(repo.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):  # Dagster's implicit asset job, not ours
            continue
        selected = job.asset_layer.executable_asset_keys
        jobs[job.name] = {
            "description": job.description,
            "executor": job.executor_def.name,
            "assets": len(selected),
            "groups": sorted({graph.get(k).group_name for k in selected}),
        }

    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": _enum(s.default_status),
            "job": s.job_name,
        }
        for s in sorted(repo.schedule_defs, key=lambda s: s.name)
    }

    sensors = {
        s.name: {
            "type": _enum(s.sensor_type),
            "default_status": _enum(s.default_status),
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "targets": sorted(t.job_name for t in s.targets if t.has_job_def),
        }
        for s in sorted(repo.sensor_defs, key=lambda s: s.name)
    }

    return {
        "assets": assets,
        "asset_checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "counts": {
            "assets": len(assets),
            "asset_checks": len(checks),
            "blocking_checks": sum(c["blocking"] for c in checks),
            "groups": {
                g: sum(1 for a in assets.values() if a["group"] == g)
                for g in sorted({a["group"] for a in assets.values()})
            },
        },
    }


def _render(snapshot: dict) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def test_definitions_match_snapshot():
    current = _render(definitions_snapshot(_defs()))
    if os.environ.get(UPDATE_ENV) == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
        if os.environ.get(UPDATE_ENV) != "1":
            raise AssertionError(f"{SNAPSHOT} did not exist; written now: review and commit it")
        return
    expected = SNAPSHOT.read_text()
    if current != expected:
        import difflib

        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                current.splitlines(keepends=True),
                "snapshot (checked in)",
                "definitions (loaded now)",
                n=2,
            )
        )
        raise AssertionError(
            f"The Dagster definitions differ from {SNAPSHOT}.\n"
            f"If the change is intended, regenerate with {UPDATE_ENV}=1 and commit the snapshot.\n\n{diff}"
        )


def test_snapshot_is_deterministic():
    """Two loads render byte-identical snapshots (no set or dict ordering leaks into the file)."""
    assert _render(definitions_snapshot(_defs())) == _render(definitions_snapshot(_defs()))


def test_every_executable_asset_and_check_is_in_the_writer_pool():
    """DuckDB allows one writing process: anything that opens the warehouse must queue in the pool."""
    from orchestration.defs.resources import WRITER_POOL

    snap = definitions_snapshot(_defs())
    outside = sorted(k for k, a in snap["assets"].items() if a["pool"] != WRITER_POOL)
    outside += sorted(f"{c['asset']}:{c['name']}" for c in snap["asset_checks"] if c["pool"] != WRITER_POOL)
    assert not outside, f"outside the {WRITER_POOL} pool: {outside}"


def test_every_op_in_the_writer_pool_takes_turns():
    """The pool's slot is not exact on SQLite storage; the turn lock is (resources.takes_turns).

    Every op of every job (assets, checks and the connector ops) that is in the pool must run its body
    under the lock, or two runs' steps can open the warehouse together.
    """
    from orchestration.defs.resources import WRITER_POOL

    defs = _defs()
    ops = {}
    for job in [defs.resolve_implicit_global_asset_job_def(), *defs.resolve_all_job_defs()]:
        ops.update({op.name: op for op in job.all_node_defs})
    pooled = {name: op for name, op in ops.items() if getattr(op, "pool", None) == WRITER_POOL}
    # every op opens the warehouse today; an op that does not would be named here on purpose
    assert sorted(pooled) == sorted(ops), sorted(set(ops) - set(pooled))
    bare = sorted(
        name for name, op in pooled.items() if not getattr(op.compute_fn.decorated_fn, "takes_turns", False)
    )
    assert not bare, f"in the {WRITER_POOL} pool without takes_turns: {bare}"

"""A delta run's report: suites it did not re-run show their latest earlier result, with the run that ran it."""

from __future__ import annotations

import json

from expectations.store import carried_results, load_scope, save_scope


def _ran(report_dir, run_id: str, suite: str, status: str) -> None:
    folder = report_dir / "validations" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{suite}.json").write_text(json.dumps({"suite": suite, "run_id": run_id, "status": status}))
    with open(report_dir / "history.jsonl", "a") as fh:
        fh.write(json.dumps({"run_id": run_id, "suite": suite, "status": status}) + "\n")


def test_carried_results_are_the_latest_earlier_result_of_each_suite_not_run(tmp_path):
    _ran(tmp_path, "full-1", "raw.a", "trusted")
    _ran(tmp_path, "full-1", "raw.b", "trusted")
    _ran(tmp_path, "full-1", "marts.m", "trusted")
    _ran(tmp_path, "delta-2", "raw.a", "warning")
    _ran(tmp_path, "delta-2", "marts.m", "warning")
    _ran(tmp_path, "delta-3", "raw.b", "trusted")
    _ran(tmp_path, "full-4", "raw.a", "blocked")  # a later run is not "last checked" for delta-3
    carried = carried_results(tmp_path, "delta-3", {"raw.b"})
    assert [(d["suite"], d["carried_from_run"], d["status"]) for d in carried] == [
        ("marts.m", "delta-2", "warning"),
        ("raw.a", "delta-2", "warning"),
    ]
    assert carried_results(tmp_path, "full-1", {"raw.a", "raw.b", "marts.m"}) == []


def test_a_scope_marks_a_delta_run_and_only_it(tmp_path):
    assert load_scope(tmp_path, "run-1") is None
    save_scope(tmp_path, "run-1", {"tables_with_rows": ["activity__event"], "built": True})
    assert load_scope(tmp_path, "run-1") == {"tables_with_rows": ["activity__event"], "built": True}
    assert load_scope(tmp_path, "run-2") is None

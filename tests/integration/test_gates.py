"""The quality gates on demo data: every injected semantic defect is caught by the expectation meant for it,
clean data passes every suite, and a failed gate keeps the serving file as it was, end to end through Dagster.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from expectations.runner import validate
from expectations.suites import all_suites
from ingestion.demo.generator import generate
from ingestion.settings import Settings
from orchestration.runner import run_pipeline
from tests.warehouses import assert_ok, dbt_build, loaded_demo_warehouse

SCALE = 0.05
MODEL_LAYERS = ("staging", "intermediate", "marts")


def _manifest(landing: Path) -> list[dict]:
    return [json.loads(line) for line in (landing / "dirty_manifest.jsonl").read_text().splitlines()]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _values(rows: list[dict]) -> set:
    return {v for row in rows for v in row.values() if isinstance(v, str)}


# ------------------------------------------------------------------------------------------ dirty data


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Dirty demo data loaded, and the models the gated semantic defects need built (no marts: the raw
    gates would hold them back, and the marts' own dbt tests fail on such data)."""
    root = tmp_path_factory.mktemp("gates_dirty")
    warehouse = loaded_demo_warehouse(root, scale=SCALE, dirty=True)
    manifest = _manifest(root / "landing")
    layers = {m["suite"].split(".", 1)[0] for m in manifest if m["expect"] == "gate"} & set(MODEL_LAYERS)
    if layers:  # what the dbt_staging step builds (the suites read neighbouring models too)
        assert "marts" not in layers, "a marts-level defect would need the marts built on dirty data"
        select = ["path:models/staging", "path:models/intermediate"]
        assert_ok(dbt_build(warehouse, root, "--select", *select, "--exclude", "test_type:unit"))
    return warehouse, manifest


def test_dirty_manifest_lists_semantic_defects_for_every_layer_and_severity(dirty):
    _, manifest = dirty
    gates = [m for m in manifest if m["expect"] == "gate"]
    assert {m["severity"] for m in gates} == {"critical", "warning"}
    assert {m["suite"].split(".")[0] for m in gates} >= {"raw", "intermediate"}
    suites = all_suites()
    for m in gates:  # every named suite and expectation exists, with the stated severity
        suite = suites[m["suite"]]
        by_name = {suite.expectation_name(e): e for e in suite.expectations}
        assert m["expectation"] in by_name, m
        assert by_name[m["expectation"]].meta["severity"] == m["severity"], m


def test_each_semantic_defect_is_caught_by_its_expectation_with_the_exact_count(dirty):
    warehouse, manifest = dirty
    gates = [m for m in manifest if m["expect"] == "gate"]
    expected = collections.defaultdict(list)  # (suite, expectation) -> injected ids
    for m in gates:
        expected[(m["suite"], m["expectation"])].append(m["id"])
    suites = all_suites()
    for suite_name in sorted({s for s, _ in expected}):
        result = validate(warehouse, suites[suite_name], sample_size=50)
        assert result.error is None, result.error
        by_name = {r.name: r for r in result.results}
        targeted = {e for s, e in expected if s == suite_name}
        for name in targeted:
            r, ids = by_name[name], expected[(suite_name, name)]
            assert r.exception is None, (suite_name, name, r.exception)
            assert not r.success, (suite_name, name)
            assert r.unexpected_count == len(ids), (suite_name, name, r.unexpected_count, ids)
            assert set(ids) <= _values(r.sample), (suite_name, name, r.sample)
            severity = {m["severity"] for m in gates if (m["suite"], m["expectation"]) == (suite_name, name)}
            assert {r.severity} == severity
        # nothing else in the suite blocks: the defect is caught where it is meant to be, not by accident
        stray = [r.summary() for r in result.critical_failures if r.name not in targeted]
        assert stray == [], stray


# ------------------------------------------------------------------------------------------ clean data, Dagster


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, object]:
    """Clean demo data run through the whole Dagster graph once: loaded, built, gated, published."""
    root = tmp_path_factory.mktemp("gates_clean")
    generate(root / "landing", scale=SCALE, seed=7)
    (root / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _env(root).items():
            mp.setenv(name, value)
        summary = run_pipeline(Settings.from_env(), say=lambda _: None)
    return root, summary


def _env(root: Path) -> dict[str, str]:
    return {
        "SALESDW_LANDING_DIR": str(root / "landing"),
        "SALESDW_WAREHOUSE": str(root / "warehouse.duckdb"),
        "SALESDW_MARTS": str(root / "salesdw_marts.duckdb"),
        "SALESDW_REPORT_DIR": str(root / "reports"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "SALESDW_DEMO": "0",
    }


def test_every_suite_passes_on_clean_demo_data(published):
    """Raw, staging/intermediate and marts suites all ran as Dagster gates on the clean run, and passed."""
    root, summary = published
    assert summary.success and not summary.checks_failed, summary.checks_failed
    assert summary.published
    suites = all_suites()
    assert {s.layer for s in suites.values()} == {"raw", *MODEL_LAYERS}
    saved = {
        p.stem: json.loads(p.read_text())
        for p in (root / "reports" / "validations" / summary.run_id).glob("*.json")
    }
    assert set(saved) == set(suites), set(suites) ^ set(saved)
    problems = {
        name: [
            f"{e['severity']} {e['name']}: {e['exception'] or e['unexpected_count']}"
            for e in doc["expectations"]
            if e["exception"] or (not e["success"] and e["severity"] == "critical")
        ]
        for name, doc in saved.items()
    }
    assert {n: p for n, p in problems.items() if p} == {}
    assert all(doc["status"] in ("trusted", "warning") for doc in saved.values())
    assert all(len(doc["expectations"]) == len(suites[n].expectations) for n, doc in saved.items())


def _opportunity_without_rate(landing: Path) -> str:
    """One new opportunity, a copy of a real open one, in a currency without any DatedConversionRate."""
    last = sorted((landing / "crm" / "Opportunity").glob("*.csv"))[-1]
    with last.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        src = next(
            r for r in reader if r["IsDeleted"] == "false" and r["IsClosed"] == "false" and r["Amount"]
        )
    rec = dict(src, Id="0065g00000CHF01AAA", CurrencyIsoCode="CHF")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerow(rec)
    return buf.getvalue()


def test_a_failed_gate_blocks_publication_end_to_end(published, tmp_path, monkeypatch):
    clean_root, first = published
    assert first.published and first.exit_code == 0
    # a copy of the published installation (the warehouse keeps its file name: dbt's views name it)
    root = tmp_path / "run2"
    shutil.copytree(clean_root, root, ignore=shutil.ignore_patterns("dagster_home", "reports"))
    (root / "dagster_home").mkdir()
    for name, value in _env(root).items():
        monkeypatch.setenv(name, value)
    serving = root / "salesdw_marts.duckdb"
    before = _sha256(serving)
    batch = root / "landing" / "crm" / "Opportunity" / "2026-02-01T000000_0001.csv"
    batch.write_text(_opportunity_without_rate(root / "landing"), encoding="utf-8")

    settings = Settings.from_env()
    summary = run_pipeline(settings, say=lambda _: None)

    text = summary.render(settings)
    assert summary.exit_code == 1, text
    assert not summary.published, text
    failed = [c for c in summary.checks_failed if c.startswith("intermediate.int_opportunities_enriched: ")]
    assert failed and "amount: converted at a DatedConversionRate (1)" in failed[0], text
    assert "NOT PUBLISHED" in text
    # the raw gates passed (the defect is only visible once the models join the rates) ...
    assert not [c for c in summary.checks_failed if c.startswith("raw.")], text
    # ... and the gate held back the marts and the publication
    instance = dg.DagsterInstance.get()

    def steps(event_type: dg.DagsterEventType) -> set[str]:
        return {r.dagster_event.step_key for r in instance.all_logs(summary.run_id, of_type=event_type)}

    assert steps(dg.DagsterEventType.STEP_FAILURE) == {"intermediate__int_opportunities_enriched_ge_suite"}
    started = steps(dg.DagsterEventType.STEP_START)
    assert "dbt_staging" in started
    assert not {"dbt_marts", "publish__marts"} & started, (
        "the marts or the publication ran behind a failed gate"
    )
    assert _sha256(serving) == before
    result = json.loads(
        (
            root / "reports" / "validations" / summary.run_id / "intermediate.int_opportunities_enriched.json"
        ).read_text()
    )
    bad = next(e for e in result["expectations"] if e["name"] == "amount: converted at a DatedConversionRate")
    assert bad["unexpected_count"] == 1 and bad["sample"][0]["opportunity_id"] == "0065g00000CHF01AAA"

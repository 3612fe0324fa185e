"""A delta run builds only what is downstream of the raw tables that received rows, and its published marts
equal, row for row, those of a full rebuild of the same landing zone into a new warehouse: the loader, then one
`dbt build` of every model. That reference shares no code of the runner's (no phase, no selection, no cut-off,
no publish), which is what the comparison is about, and costs a quarter of a `salesdw run` at this scale (the
gates, the report and four Dagster phases are what make a run slower, and other tests cover them)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.contract import OBJECTS
from ingestion.demo.generator import generate
from ingestion.settings import Settings
from ingestion.warehouse import current_select, current_table
from orchestration import changes
from orchestration.runner import dagster_instance, run_pipeline
from orchestration.selection import PART_OF_RUN_TAG, PHASE_TAG
from tests.conftest import write
from tests.reliability.support import marts_state
from tests.warehouses import assert_ok, dbt_build, loaded_warehouse

MRR_MARTS = {"fct_mrr_monthly", "fct_mrr_movements", "rpt_mrr_movements_monthly", "rpt_revenue_retention"}
DELTA = "2026-01-01T000000_9{:03d}"  # sorts after every batch the generator writes


def delta_run(settings: Settings, home: Path):
    found = changes.what_changed(settings)
    lines: list[str] = []
    summary = run_pipeline(settings, say=lines.append, home=home, found=found)
    assert summary.exit_code == 0, summary.render(settings)
    return summary, lines


def _runs(run_id: str, home: Path) -> tuple[dg.DagsterInstance, list[dg.DagsterRun]]:
    """A run and every run that is part of it (its later phases)."""
    instance = dagster_instance(home)
    parts = instance.get_runs(dg.RunsFilter(tags={PART_OF_RUN_TAG: run_id}))
    return instance, [instance.get_run_by_id(run_id), *parts]


def materialized_in(run_id: str, home: Path) -> set[str]:
    """The assets materialised by a run and every phase that is part of it, from Dagster's event log."""
    instance, runs = _runs(run_id, home)
    return {
        ev.asset_materialization.asset_key.path[-1]
        for run in runs
        for ev in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    }


def phases_of(run_id: str, home: Path) -> list[str]:
    """The phases (PHASE_TAG) of a run and of every run that is part of it, sorted."""
    return sorted(run.tags.get(PHASE_TAG, "") for run in _runs(run_id, home)[1])


def dbt_built(settings: Settings, run_id: str) -> set[str]:
    """The models dbt itself ran in the run (its run_results.json, as the report keeps them)."""
    cached = json.loads((settings.report_dir / "dbt" / f"{run_id}.json").read_text())
    return {name for name, m in cached["models"].items() if m["status"] is not None}


def assert_equals_a_full_rebuild(settings: Settings, tmp_path: Path, name: str) -> dict[str, str]:
    """The published marts equal those of a full rebuild of the landing zone (module docstring)."""
    fresh = tmp_path / f"full_{name}"
    fresh.mkdir()
    warehouse = loaded_warehouse(settings.landing_dir, fresh / "warehouse.duckdb")
    assert_ok(dbt_build(warehouse, fresh, "--exclude", "resource_type:test", "resource_type:unit_test"))
    got, want = marts_state(settings.marts), marts_state(warehouse)
    assert got.keys() == want.keys() and len(got) > 15
    assert [t for t in got if got[t] != want[t]] == []
    return got


def _events(landing: Path) -> list[dict]:
    return [
        json.loads(line) for p in sorted((landing / "activity/events").glob("*.jsonl")) for line in open(p)
    ]


def _event_copies(landing: Path, tag: str, n: int, moved_to: date | None = None) -> str:
    """`n` existing events under new ids (same dates, or all on `moved_to`), as one JSON-lines batch."""
    picked = [e for e in _events(landing) if not e["is_deleted"]][100 : 100 + n]
    out = []
    for i, e in enumerate(picked):
        e = {**e, "id": f"evt_{tag}{i:0{16 - len(tag)}d}"}
        if moved_to:
            for f in ("occurred_at", "updated_at"):
                e[f] = f"{moved_to.isoformat()}T10:00:00+00:00"
        out.append(json.dumps(e))
    return "\n".join(out) + "\n"


def _sent_again(landing: Path, obj: str, n: int, renamed: bool = False) -> str:
    """The latest version of `n` live records of a CRM object (open ones, for opportunities) sent again with a
    SystemModstamp a millisecond later, otherwise as they were; or, `renamed`, with " (renewal)" added to the
    name. (Not a new amount: Salesforce records that in OpportunityHistory too, which the pipeline snapshot is
    built from.)"""
    latest: dict[str, dict] = {}
    for p in sorted((landing / "crm" / obj).glob("*.csv")):
        for row in csv.DictReader(open(p, newline="")):
            latest[row["Id"]] = row
    picked = [
        r for r in latest.values() if r.get("IsClosed", "false") == "false" and r["IsDeleted"] == "false"
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(picked[0]), lineterminator="\n")
    w.writeheader()
    for r in picked[:n]:
        stamp = r["SystemModstamp"].replace(".000Z", ".001Z")
        assert stamp != r["SystemModstamp"], r
        w.writerow({**r, "SystemModstamp": stamp} | ({"Name": r["Name"] + " (renewal)"} if renamed else {}))
    return buf.getvalue()


def _unchanged(plan: str) -> set[str]:
    """The compared models a delta run found unchanged, from its plan line ("… (a, b unchanged)")."""
    found = re.search(r"\(([^()]*) unchanged\)$", plan)
    return set(found.group(1).split(", ")) if found else set()


def _as_of(warehouse: Path) -> date:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT as_of_date FROM intermediate.int_as_of_date").fetchone()[0]


def test_delta_runs_build_their_share_and_equal_a_full_run(tmp_path):
    settings = Settings.from_env()
    home = tmp_path / "dagster_home"
    generate(settings.landing_dir, scale=0.05, seed=7)
    first = run_pipeline(settings, say=lambda *_: None, home=home)
    assert first.exit_code == 0, first.render(settings)
    as_of = _as_of(settings.warehouse)
    events_before = len({e["id"] for e in _events(settings.landing_dir)})

    # 1. activity only, dated inside the data's range: the as-of date and the calendar stay, MRR is not rebuilt
    write(
        settings.landing_dir,
        f"activity/events/{DELTA.format(1)}.jsonl",
        _event_copies(settings.landing_dir, "DeltaOld", 5),
    )
    summary, lines = delta_run(settings, home)
    assert lines[0] == "delta run: new files for raw tables activity__event only; loading them first"
    assert summary.plan.startswith("delta run: raw tables activity__event received rows; building ")
    assert dict((t, loaded) for t, _, loaded, _ in summary.tables if loaded) == {"raw.activity__event": 5}
    assert dict((t, cur) for t, cur, _, _ in summary.tables)["raw.activity__event"] == events_before + 5
    built = materialized_in(summary.run_id, home)
    assert "activity__event" in built and "fct_activities" in built and "marts" in built  # publish/marts
    # dbt's own log: it ran exactly the models Dagster recorded, a few of the whole project
    ran = dbt_built(settings, summary.run_id)
    assert ran == built - {"activity__event", "marts"}
    project_models = json.loads((settings.report_dir / "dbt" / f"{summary.run_id}.json").read_text())[
        "models"
    ]
    n, m = map(int, re.search(r"building (\d+) of (\d+) models", summary.plan).groups())
    assert (n, m) == (len(ran), len(project_models)) and n < m / 2
    assert not built & MRR_MARTS
    assert not {"stg_crm__opportunities", "fct_opportunities", "dim_accounts"} & built
    # the as-of date was rebuilt and compared in the dbt_staging phase; its readers in that step waited on it,
    # and as it did not move, none was built (int_recurring_charges_normalized reads only it and billing)
    assert "int_as_of_date" in built and "int_recurring_charges_normalized" not in built
    assert phases_of(summary.run_id, home).count("dbt_staging") == 1
    assert summary.published and summary.serving["run_id"] == summary.run_id
    assert changes.read_record(settings)["run_id"] == summary.run_id
    assert _as_of(settings.warehouse) == as_of
    _assert_report_credits_checks_to_their_run(settings, summary.run_id, first.run_id)
    assert_equals_a_full_rebuild(settings, tmp_path, "activity_old")

    # 2. activity that moves the as-of date: every reader of it is rebuilt, MRR included
    moved = as_of + timedelta(days=3)
    write(
        settings.landing_dir,
        f"activity/events/{DELTA.format(2)}.jsonl",
        _event_copies(settings.landing_dir, "DeltaNew", 2, moved_to=moved),
    )
    summary, _ = delta_run(settings, home)
    built = materialized_in(summary.run_id, home)
    assert MRR_MARTS <= built
    assert "stg_crm__opportunities" not in built
    # the date moved: the dbt_staging step ran a second phase for its readers of it
    assert "int_recurring_charges_normalized" in built
    assert phases_of(summary.run_id, home).count("dbt_staging") == 2
    assert _as_of(settings.warehouse) == moved
    assert_equals_a_full_rebuild(settings, tmp_path, "activity_new")

    # 3. CRM records sent again, changed only in SystemModstamp: the staging views change, the intermediate
    # tables the marts read do not, so the marts over them are not rebuilt (and no published mart changes)
    before = marts_state(settings.marts)
    write(
        settings.landing_dir,
        f"crm/Account/{DELTA.format(5)}.csv",
        _sent_again(settings.landing_dir, "Account", 4),
    )
    write(
        settings.landing_dir,
        f"crm/OpportunityHistory/{DELTA.format(6)}.csv",
        _sent_again(settings.landing_dir, "OpportunityHistory", 4),
    )
    summary, _ = delta_run(settings, home)
    loaded = dict((t, n) for t, _, n, _ in summary.tables if n)
    assert loaded == {"raw.crm__account": 4, "raw.crm__opportunity_history": 4}
    built = materialized_in(summary.run_id, home)
    assert {"stg_crm__opportunity_histories", "int_opportunity_histories_sequenced"} <= built
    assert {"int_opportunity_histories_sequenced", "int_opportunity_states_historized"} <= _unchanged(
        summary.plan
    )
    assert (
        not {"fct_pipeline_snapshot_daily", "fct_opportunity_stage_history", "rpt_pipeline_movement"} & built
    )
    assert dbt_built(settings, summary.run_id) == built - {
        "crm__account",
        "crm__opportunity_history",
        "marts",
    }
    assert marts_state(settings.marts) == before

    # 4. a CRM delta: renamed opportunities
    write(
        settings.landing_dir,
        f"crm/Opportunity/{DELTA.format(3)}.csv",
        _sent_again(settings.landing_dir, "Opportunity", 3, renamed=True),
    )
    summary, lines = delta_run(settings, home)
    assert lines[0] == "delta run: new files for raw tables crm__opportunity only; loading them first"
    assert dict((t, loaded) for t, _, loaded, _ in summary.tables if loaded) == {"raw.crm__opportunity": 3}
    built = materialized_in(summary.run_id, home)
    assert {"fct_opportunities", "rpt_pipeline_funnel"} <= built
    # activities are matched to opportunities (int_activities_matched): they are matched again, not staged
    # again, and the activity marts are rebuilt only if a match changed
    assert "int_activities_matched" in built
    assert ("fct_activities" in built) == ("int_activities_matched" not in _unchanged(summary.plan))
    assert not {"stg_activity__events", "stg_billing__invoices", "fct_mrr_monthly"} & built
    published = assert_equals_a_full_rebuild(settings, tmp_path, "opportunity")
    assert published["fct_opportunities"] != before["fct_opportunities"]

    # 5. a re-delivery of known records under a new name adds no rows: nothing is built or published
    old = sorted((settings.landing_dir / "activity/events").glob("*.jsonl"))[3]
    write(settings.landing_dir, f"activity/events/{DELTA.format(4)}.jsonl", old.read_bytes())
    marts_bytes = settings.marts.read_bytes()
    summary, lines = delta_run(settings, home)
    assert summary.nothing_to_build and not summary.published
    assert lines[-1].startswith("delta run: no raw table received rows")
    assert materialized_in(summary.run_id, home) == {"activity__event"}
    assert settings.marts.read_bytes() == marts_bytes
    assert marts_state(settings.marts) == published
    assert changes.read_record(settings)["run_id"] == summary.run_id
    assert changes.what_changed(settings).nothing_new
    _assert_current_tables_rank_raw(settings.warehouse)


def _assert_current_tables_rank_raw(warehouse: Path) -> None:
    """After the deltas, each raw.<table>__current the loader kept key by key equals the ranking of every
    version in raw.<table> (ingestion.warehouse.current_select), row for row."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for obj in OBJECTS:
            kept, ranked = current_table(obj), f"({current_select(obj)})"
            diff = con.execute(
                f"SELECT count(*) FROM ((FROM {kept} EXCEPT ALL FROM {ranked}) "
                f"UNION ALL (FROM {ranked} EXCEPT ALL FROM {kept}))"
            ).fetchone()[0]
            assert diff == 0, obj.table


def _assert_report_credits_checks_to_their_run(settings: Settings, run_id: str, earlier: str) -> None:
    """The report of a delta run shows the suites it did not re-run with the run that last ran them."""
    summary = json.loads((settings.report_dir / "summary.json").read_text())
    assert summary["run_id"] == run_id
    assert summary["scope"]["tables_with_rows"] == ["activity__event"]
    ran_now = {p.stem for p in (settings.report_dir / "validations" / run_id).glob("*.json")}
    assert "raw.activity__event__current" in ran_now and "raw.crm__account__current" not in ran_now
    before = {p.stem for p in (settings.report_dir / "validations" / earlier).glob("*.json")}
    assert summary["suites_carried"] == len(before - ran_now) > 0
    models = {m["mart"]: m for m in summary["models"] + summary["marts"]}
    assert models["int_customer_months_restated"]["checked_in_run"] == earlier  # MRR side: not re-run
    assert models["int_activities_matched"]["checked_in_run"] is None  # re-run now
    crm = next(s for s in summary["sources"] if s["source"] == "crm")
    assert {s["checked_in_run"] for s in crm["suites"]} == {earlier}
    html = (settings.report_dir / "index.html").read_text()
    assert f"last checked in run {earlier[:8]}" in html
    assert "A delta run: it loaded new rows into activity__event" in html

"""Loading new files of an object as one group gives exactly what loading them one by one gives.

The reference is the file-by-file path (MAX_GROUP_BYTES = 0 makes every group a single file):
both load the same deliveries, and every raw table (all versions, with row numbers, hashes, batches
and load ids), the quarantine and the load log must be equal row for row, load times excluded.
"""

from __future__ import annotations

import shutil

import pytest

from ingestion import loader as loader_module
from ingestion.contract import BY_TABLE
from ingestion.demo.delta import write_delta
from ingestion.demo.generator import generate
from ingestion.loader import Loader, load_landing
from ingestion.warehouse import connect
from tests.conftest import write
from tests.reliability.support import warehouse_state


def _load(landing, warehouse, monkeypatch, group_bytes: int, rounds: list) -> list[list[tuple]]:
    """Load `landing` after each step of `rounds` (callables changing the landing zone)."""
    monkeypatch.setattr(loader_module, "MAX_GROUP_BYTES", group_bytes)
    steps = []
    with connect(warehouse) as con:
        for change in rounds:
            change()
            report = load_landing(con, landing, run_id="same-run")
            steps.append(
                sorted((f.file, f.status, f.rows_in, f.rows_loaded, f.rows_quarantined) for f in report.files)
            )
    return steps


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("groups")
    generate(root / "clean", scale=0.05, seed=11)
    generate(root / "dirty", scale=0.05, seed=11, dirty=True)
    return root


def _delta(landing):
    write_delta(landing, fraction=0.05, seed=3)
    # the same bytes again under a later batch name (a non-versioned object: compared row by row)
    old = sorted((landing / "billing" / "invoices").glob("*.jsonl"))[0]
    shutil.copy(old, landing / "billing" / "invoices" / "2099-01-01T000000_0001.jsonl")


@pytest.mark.parametrize("kind", ["clean_then_delta", "dirty"])
def test_groups_load_exactly_what_file_by_file_loads(kind, demo_landing, tmp_path, monkeypatch):
    """Clean demo data then a delta of new and changed records and a re-delivered old file (two loads);
    dirty demo data (bad rows, duplicates, conflicts, odd files; one load). Compared after the last load."""
    results = {}
    for name, group_bytes in (("groups", 1 << 30), ("one_by_one", 0)):
        landing = tmp_path / "landing"  # the same path for both: messages quote it
        shutil.rmtree(landing, ignore_errors=True)
        shutil.copytree(demo_landing / kind.split("_")[0], landing)
        rounds = [lambda: None] + ([lambda landing=landing: _delta(landing)] if kind != "dirty" else [])
        steps = _load(landing, tmp_path / name / "w.duckdb", monkeypatch, group_bytes, rounds)
        results[name] = (steps, warehouse_state(tmp_path / name / "w.duckdb", all_versions=True))
    (g_steps, g_state), (f_steps, f_state) = results["groups"], results["one_by_one"]
    assert g_steps == f_steps
    assert g_state.keys() == f_state.keys()
    for table in g_state:
        assert g_state[table] == f_state[table], table
    # the fixture is not trivial: many rows; the dirty data quarantined rows; the delta changed records
    assert sum(len(v) for k, v in g_state.items() if k.startswith("raw.")) > 20_000
    if kind == "dirty":
        assert len(g_state["audit.quarantine"]) > 10
    else:
        assert sum(r[3] for r in g_steps[1]) > 100


def test_a_group_is_one_multi_file_scan(demo_landing, tmp_path):
    """Events arrive as several files with the same keys: the plan makes them one group."""
    con = connect(tmp_path / "w.duckdb")
    try:
        loader = Loader(con, demo_landing / "clean")
        obj = BY_TABLE["activity__event"]
        files = sorted((demo_landing / "clean" / "activity" / "events").glob("*.jsonl"))
        steps = loader._plan(obj, files)
        groups = [s for s in steps if isinstance(s, list)]
        assert groups and sum(len(g) for g in groups) >= len(files) - 2
    finally:
        con.close()


def test_a_group_with_an_unparseable_row_falls_back_to_file_by_file(landing, con):
    """A CSV row the reader cannot parse: the group is rolled back and each file loads alone; the bad
    row is quarantined as unparseable, the good rows of every file are loaded."""
    header = "Id,Name,Type,Industry,BillingCountry,OwnerId,CreatedDate,SystemModstamp,IsDeleted"
    row = "001{n}00000000AAA,Acme {n},Customer,Software,US,005000000000001AAA,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z,false"
    write(landing, "crm/Account/b1.csv", "\n".join([header, row.format(n=1), row.format(n=2)]) + "\n")
    write(landing, "crm/Account/b2.csv", "\n".join([header, row.format(n=3), '"unterminated,x']) + "\n")
    write(landing, "crm/Account/b3.csv", "\n".join([header, row.format(n=4)]) + "\n")
    report = Loader(con, landing).load_object(BY_TABLE["crm__account"])
    got = {f.file.rsplit("/", 1)[1]: (f.status, f.rows_loaded, f.rows_quarantined) for f in report.files}
    assert got == {"b1.csv": ("loaded", 2, 0), "b2.csv": ("loaded", 1, 1), "b3.csv": ("loaded", 1, 0)}
    assert con.execute("SELECT reason_code FROM audit.quarantine").fetchall() == [("unparseable_row",)]

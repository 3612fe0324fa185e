"""The landing zone's odd files, class by class (docs/reliability.md): every file is read as itself, every
entry is accounted for, nothing is silently wrong.

Each case builds a small landing zone, loads it with the real loader into its own warehouse and asserts
the exact outcome per file (status, rows in / loaded / quarantined / unchanged, reason codes) and the row
accounting against the records counted independently of the loader (Python's csv and json on the file's
bytes, landing_classes.records_in), and what the warehouse holds (raw rows per file, quarantine, load log).
The figures per class are printed at the end of `make test-reliability`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.contract import BY_TABLE, SOURCES, object_for
from ingestion.loader import Loader
from ingestion.sources._common import Spool
from ingestion.warehouse import connect
from tests.reliability.landing_classes import (
    check_file,
    csv_records,
    figures,
    ids,
    jsonl_records,
    load,
    physical_records,
    put,
    records_in,
    without_file_read_override,
)
from tests.reliability.make_corpus import (
    OPP,
    charge,
    csv_text,
    event,
    invoice,
    jsonl,
    opp,
    price,
    subscription,
)

BIN = Path(sys.executable).parent


@pytest.fixture
def lz(tmp_path) -> Path:
    (tmp_path / "landing").mkdir()
    return tmp_path / "landing"


def _wh(lz: Path) -> Path:
    return lz.parent / "w.duckdb"


# == 1. File names are data, never patterns ==============================================================

NAME_SETS = {
    # the example: X[1].csv is a pattern matching X1.csv
    "brackets": ["X1.csv", "X[1].csv"],
    "star": ["X*.csv", "Xa.csv", "Xb.csv"],
    "question_mark": ["b?.csv", "b1.csv", "bb.csv"],
    "braces_and_commas": ["{a,b}.csv", "a,b.csv", "a.csv", "b.csv"],
    "double_star_and_open_bracket": ["**.csv", "[.csv", "].csv", "[!x].csv", "x.csv"],
    "quotes_spaces_unicode": ['Opp d\'été "q".csv', "日本 データ.csv", "tab\there.csv", "new\nline.csv"],
}


@pytest.mark.parametrize("names", NAME_SETS.values(), ids=NAME_SETS.keys())
def test_every_file_is_read_from_its_own_bytes_whatever_its_name(names, lz):
    rels = [f"crm/Opportunity/{n}" for n in names]
    for i, rel in enumerate(rels):
        put(lz, rel, csv_text(OPP, [opp(10 + i), opp(40 + i, Name=rel)]))
    got = load(lz, _wh(lz))
    total = 0
    for rel in rels:
        total += check_file(got, lz, rel)
        # the rows raw holds for this file are exactly the ones its bytes hold
        assert ids(got, "crm__opportunity", rel) == sorted(
            r["Id"] for r in csv_records((lz / rel).read_bytes())
        )
    # a later run sees every file as loaded (its own bytes), and loads nothing twice
    again = load(lz, _wh(lz), run_id="run-2")
    assert again.results == {}
    figures("names", files=len(rels), rows_in=total)


def test_json_files_whose_names_are_patterns_load_in_one_group_each_from_its_own_bytes(lz):
    names = ["e[1].jsonl", "e1.jsonl", "e*.jsonl", "e?.jsonl", "e{1,2}.jsonl"]
    rels = [f"activity/events/{n}" for n in names]
    for i, rel in enumerate(rels):
        put(lz, rel, jsonl([event(100 + i, subject=rel), event(200 + i)]))
    got = load(lz, _wh(lz))
    total = 0
    for rel in rels:
        total += check_file(got, lz, rel)
        assert ids(got, "activity__event", rel, "id") == sorted(
            r.value["id"] for r in jsonl_records((lz / rel).read_bytes())
        )
    figures("names", files=len(rels), rows_in=total)


def test_a_landing_zone_whose_path_holds_patterns_and_key_value_folders(tmp_path):
    """`[` in a parent folder would be a pattern; `env=prod/` a Hive partition DuckDB turns into a column."""
    landing = tmp_path / "drop [prod]" / "env=prod" / "landing"
    rels = ["crm/Opportunity/b1.csv", "billing/invoices/b1.jsonl", "billing/invoices/b2.jsonl"]
    put(landing, rels[0], csv_text(OPP, [opp(1)]))
    put(landing, rels[1], jsonl([invoice(1)]))
    put(landing, rels[2], jsonl([invoice(2)]))
    got = load(landing, tmp_path / "w.duckdb")
    total = sum(check_file(got, landing, rel) for rel in rels)
    columns = {
        r[0] for r in got.q("SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw'")
    }
    assert "env" not in columns  # no column made up from the path
    figures("names", files=len(rels), rows_in=total)


def test_connector_spool_files_under_a_path_with_patterns(tmp_path):
    """A connector writes each page as a spool file and loads it: its folder's name is data too."""
    spool = tmp_path / "spool [1]" / "*"
    con = connect(tmp_path / "w.duckdb")
    try:
        s = Spool(con, spool, "stripe")
        first = s.load(BY_TABLE["billing__invoice"], [invoice(1), invoice(2)])
        second = s.load(BY_TABLE["billing__invoice"], [invoice(3)])
        got = sorted(r[0] for r in con.execute("SELECT id FROM raw.billing__invoice").fetchall())
    finally:
        con.close()
    assert (first.rows_loaded, second.rows_loaded) == (2, 1)
    assert got == ["in_0001", "in_0002", "in_0003"]
    figures("names", files=2, rows_in=3)


# == 2. An incomplete nested list is never taken as complete =============================================


def _lines(n: int, has_more: bool | None) -> dict:
    data = [invoice(1)["lines"]["data"][0] | {"id": f"il_{i}", "amount": 6000} for i in range(n)]
    out = {"object": "list", "data": data, "url": "/v1/invoices/in_x/lines"}
    if has_more is not None:
        out["has_more"] = has_more
    return out


INCOMPLETE = {
    # the example: the first of two subscription lines, has_more true
    "invoice_lines": (
        "billing/invoices/b.jsonl",
        [
            invoice(1, lines=_lines(2, False)),
            invoice(2, lines=_lines(1, True)),
            invoice(3, lines=_lines(1, None)),
        ],
        {"incomplete_list": 1},
    ),
    "subscription_items": (
        "billing/subscriptions/b.jsonl",
        [
            subscription(1),
            subscription(2, items={"object": "list", "data": [], "has_more": True}),
            subscription(
                3,
                items={
                    "object": "list",
                    "data": [{"id": "si_9", "price": price(1), "quantity": 1}],
                    "has_more": True,
                    "total_count": 7,
                },
            ),
        ],  # fmt: skip
        {"incomplete_list": 2},
    ),
    "charge_refunds_not_in_the_contract": (
        "billing/charges/b.jsonl",
        [
            charge(1, refunds={"object": "list", "data": [], "has_more": False}),
            charge(2, refunds={"object": "list", "data": [{"id": "re_1"}], "has_more": True}),
            charge(3),
        ],
        {"incomplete_list": 1},
    ),
    "several_lists_one_row": (
        "billing/invoices/b.jsonl",
        [invoice(4, lines=_lines(1, True), discounts={"object": "list", "data": [], "has_more": True})],
        {"incomplete_list": 1},
    ),
}


@pytest.mark.parametrize("case", INCOMPLETE.values(), ids=INCOMPLETE.keys())
def test_an_incomplete_nested_list_is_quarantined(case, lz):
    rel, recs, reasons = case
    put(lz, rel, jsonl(recs))
    got = load(lz, _wh(lz))
    n = sum(reasons.values())
    rows = check_file(got, lz, rel, quarantined=n, reasons=reasons)
    # independently: the rows whose top-level list says has_more true are the quarantined ones
    flagged = [
        r.value["id"]
        for r in jsonl_records((lz / rel).read_bytes())
        if any(isinstance(v, dict) and v.get("has_more") is True for v in r.value.values())
    ]
    table = BY_TABLE[f"billing__{rel.split('/')[1][:-1]}"].table
    assert sorted(r[0] for r in got.q("SELECT record_id FROM audit.quarantine")) == sorted(flagged)
    assert not set(flagged) & set(ids(got, table, rel, "id"))
    figures("incomplete_lists", files=1, rows_in=rows)


def test_incomplete_lists_in_a_group_of_files(lz):
    rels = [f"billing/invoices/2025-0{i}.jsonl" for i in range(1, 4)]
    put(lz, rels[0], jsonl([invoice(1), invoice(2, lines=_lines(1, True))]))
    put(lz, rels[1], jsonl([invoice(3)]))
    put(lz, rels[2], jsonl([invoice(4, lines=_lines(3, True)), invoice(5)]))
    got = load(lz, _wh(lz))
    total = check_file(got, lz, rels[0], quarantined=1, reasons={"incomplete_list": 1})
    total += check_file(got, lz, rels[1])
    total += check_file(got, lz, rels[2], quarantined=1, reasons={"incomplete_list": 1})
    figures("incomplete_lists", files=3, rows_in=total)


# == 3. A changed file under a name already loaded is a later delivery ===================================

REDELIVERY = {
    # (rel, key, versions of the file, the column that changes, its value in the current view)
    "crm_same_modstamp": (
        "crm/Opportunity/Opportunity.csv",
        [csv_text(OPP, [opp(1), opp(2)]), csv_text(OPP, [opp(1, Amount="777.00"), opp(2)])],
        (
            "crm__opportunity",
            "Id",
            "CAST(Amount AS VARCHAR)",
            [("006000000000001AAA", "777.000000"), ("006000000000002AAA", "1002.500000")],
        ),
    ),  # fmt: skip
    "crm_back_to_the_first_content": (
        "crm/Opportunity/Opportunity.csv",
        [csv_text(OPP, [opp(1)]), csv_text(OPP, [opp(1, StageName="Closed Won")]), csv_text(OPP, [opp(1)])],
        ("crm__opportunity", "Id", "StageName", [("006000000000001AAA", "Prospecting")]),
    ),
    "stripe_product_same_updated": (
        "billing/products/products.jsonl",
        [
            jsonl(
                [
                    {
                        "id": "prod_1",
                        "object": "product",
                        "name": "Pro",
                        "active": True,
                        "created": 1,
                        "updated": 5,
                    }
                ]
            ),
            jsonl(
                [
                    {
                        "id": "prod_1",
                        "object": "product",
                        "name": "Pro+",
                        "active": True,
                        "created": 1,
                        "updated": 5,
                    }
                ]
            ),
        ],
        ("billing__product", "id", "name", [("prod_1", "Pro+")]),
    ),
    "stripe_unversioned_price": (
        "billing/prices/prices.jsonl",
        [jsonl([price(1)]), jsonl([price(1, unit_amount=9900)]), jsonl([price(1)])],
        ("billing__price", "id", "CAST(unit_amount AS VARCHAR)", [("price_0001", "5000")]),
    ),
    "events_same_updated_at": (
        "activity/events/events.jsonl",
        [jsonl([event(1), event(2)]), jsonl([event(1, outcome="voicemail"), event(2)])],
        ("activity__event", "id", "outcome", [("ev_00001", "voicemail"), ("ev_00002", "connected")]),
    ),
}


@pytest.mark.parametrize("case", REDELIVERY.values(), ids=REDELIVERY.keys())
def test_a_changed_file_under_a_loaded_name_becomes_current(case, lz):
    rel, versions, (table, key, column, current) = case
    total = 0
    for i, body in enumerate(versions, start=1):
        put(lz, rel, body)
        got = load(lz, _wh(lz), run_id=f"run-{i}")
        fr = got.results[rel]
        assert fr.status == "loaded", fr.message
        n = records_in(lz / rel)
        assert fr.rows_in == n == fr.rows_loaded + fr.rows_unchanged and fr.rows_quarantined == 0
        total += n
    assert got.q(f'SELECT "{key}", {column} FROM raw."{table}__current" ORDER BY 1') == current
    # the same bytes once more: already loaded, nothing logged, nothing changes
    again = load(lz, _wh(lz), run_id="run-again")
    assert again.results == {}
    assert got.q(f'SELECT "{key}", {column} FROM raw."{table}__current" ORDER BY 1') == current
    figures("redelivery", files=len(versions), rows_in=total)


# == 4. Delivered columns never collide with the loader's own ============================================

INTERNAL_CSV = ["rowid", "_row_number", "_record_hash", "_batch", "_load_id", "_source_file", "_errors", "#s1",
                "_first_of_dupes", "_ord", "_rid", "_salesdw_file", "line", "filename"]  # fmt: skip
RENAMED = {"rowid", "_row_number", "_record_hash", "_batch", "_load_id", "_source_file"}


def test_csv_columns_named_like_the_loaders_keep_their_values(lz):
    rels = ["crm/Opportunity/a.csv", "crm/Opportunity/b.csv"]  # two files: also the grouped read
    for i, rel in enumerate(rels):
        header = OPP + INTERNAL_CSV
        put(
            lz,
            rel,
            csv_text(header, [opp(i * 10 + j, **{c: f"{c}-{i}{j}" for c in INTERNAL_CSV}) for j in (1, 2)]),
        )
    got = load(lz, _wh(lz))
    total = 0
    for rel in rels:
        total += check_file(got, lz, rel)
        cols = ", ".join(f'"{c}__2"' if c in RENAMED else f'"{c}"' for c in INTERNAL_CSV)
        want = sorted(tuple(r[c] for c in INTERNAL_CSV) for r in csv_records((lz / rel).read_bytes()))
        assert sorted(got.raw_rows("crm__opportunity", rel, cols)) == want
    # the loader's own columns hold the loader's values
    assert got.q("SELECT DISTINCT _batch FROM raw.crm__opportunity ORDER BY 1") == [("a",), ("b",)]
    assert (
        got.q("SELECT _row_number FROM raw.crm__opportunity ORDER BY _batch, _row_number") == [(1,), (2,)] * 2
    )
    figures("internal_names", files=2, rows_in=total)


INTERNAL_JSON = ["_j", "_jt", "_v", "_row_number", "rowid", "_errors", "#x1", "line", "_record_hash", "_rn"]


@pytest.mark.parametrize("tolerant", [False, True], ids=["columns", "line_by_line"])
def test_json_keys_named_like_the_loaders_keep_their_values(tolerant, lz):
    rel = "activity/events/b.jsonl"
    recs = [event(i, **{k: f"{k}-{i}" for k in INTERNAL_JSON}) for i in (1, 2, 3)]
    body = jsonl(recs) + ("[1, 2]\n" if tolerant else "")  # a line that is not an object: the tolerant path
    put(lz, rel, body)
    got = load(lz, _wh(lz))
    rows = check_file(
        got, lz, rel, quarantined=int(tolerant), reasons={"unparseable_row": 1} if tolerant else {}
    )
    cols = ", ".join(f'"{k}__2"' if k in RENAMED else f'"{k}"' for k in INTERNAL_JSON)
    held = got.raw_rows("activity__event", rel, f"id, {cols}")
    want = sorted((r["id"], *(json.dumps(r[k]) for k in INTERNAL_JSON)) for r in recs)
    assert sorted(held) == want
    figures("internal_names", files=1, rows_in=rows)


def test_parquet_columns_named_like_the_loaders(lz, tmp_path):
    import duckdb

    rel = "crm/Opportunity/p.parquet"
    (lz / "crm/Opportunity").mkdir(parents=True)
    src = tmp_path / "src.csv"
    src.write_text(csv_text(OPP + ["rowid", "_row_number"], [opp(1, rowid="r1", _row_number="n1"), opp(2)]))
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{src}', all_varchar = true)) TO '{lz / rel}' (FORMAT parquet)")
    got = load(lz, _wh(lz))
    rows = check_file(got, lz, rel, rows_in=2)
    assert sorted(got.raw_rows("crm__opportunity", rel, '"Id", rowid__2, _row_number__2')) == [
        ("006000000000001AAA", "r1", "n1"),
        ("006000000000002AAA", None, None),
    ]
    figures("internal_names", files=1, rows_in=rows)


# == 5. One odd entry never stops the load ===============================================================


def _good_neighbours(lz: Path) -> list[str]:
    rels = ["crm/Opportunity/good.csv", "billing/invoices/good.jsonl", "activity/events/good.jsonl"]
    put(lz, rels[0], csv_text(OPP, [opp(1), opp(2)]))
    put(lz, rels[1], jsonl([invoice(1)]))
    put(lz, rels[2], jsonl([event(1)]))
    return rels


def _odd(lz: Path, kind: str) -> tuple[str, str, str]:
    """(relative path, status, message) of one odd entry planted next to good files."""
    if kind == "empty_json_key":
        rel = "billing/invoices/odd.jsonl"
        put(lz, rel, jsonl([invoice(2)]) + '{"id": "in_9", "": 1}\n')
        return rel, "refused", "a JSON key is the empty string"
    if kind == "symlink_loop":
        rel = "crm/Opportunity/odd.csv"
        os.symlink("odd.csv", lz / rel)  # a link to itself
        return rel, "refused", "symbolic link loop"
    if kind == "name_not_utf8":
        name = os.fsdecode(b"odd-\xe9t\xe9.csv")
        put(lz, f"crm/Opportunity/{name}", csv_text(OPP, [opp(7)]))
        return "crm/Opportunity/odd-\\xe9t\\xe9.csv", "refused", "its name is not UTF-8"
    if kind == "column_named_rowid":
        rel = "crm/Opportunity/odd.csv"
        put(lz, rel, csv_text(["rowid", *OPP], [opp(7, rowid="x")]))
        return rel, "loaded", ""
    if kind == "fifo":
        rel = "activity/events/odd.jsonl"
        os.mkfifo(lz / rel)  # opening it would wait for a writer forever
        return rel, "ignored", "not a regular file"
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind", ["empty_json_key", "symlink_loop", "name_not_utf8", "column_named_rowid", "fifo"]
)
def test_one_odd_entry_is_reported_and_every_other_file_loads(kind, lz):
    good = _good_neighbours(lz)
    rel, status, message = _odd(lz, kind)
    got = load(lz, _wh(lz))
    total = sum(check_file(got, lz, g) for g in good)
    if status == "loaded":
        total += check_file(got, lz, rel)
    else:
        check_file(got, lz, rel, status=status, message=message)
    # the next run is quiet for the good files and says the same about the odd entry
    again = load(lz, _wh(lz), run_id="run-2")
    assert set(again.results) <= {rel}
    figures("odd_entries", files=len(good) + 1, rows_in=total)


def test_a_file_the_process_may_not_read_is_refused_and_the_others_load(lz):
    good = _good_neighbours(lz)
    rel = "crm/Opportunity/secret.csv"
    put(lz, rel, csv_text(OPP, [opp(9)]))
    (lz / rel).chmod(0)
    put(lz, "crm/Account/a.csv", "Id\n001\n")
    (lz / "crm/Account").chmod(0)  # a folder that cannot be listed
    out = subprocess.run(
        [str(BIN / "salesdw"), "load", "--landing", str(lz), "--warehouse", str(_wh(lz))],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=without_file_read_override() if os.geteuid() == 0 else None,
    )
    assert out.returncode == 0 and "Traceback" not in out.stdout + out.stderr, out.stderr[-2000:]
    line = next(ln for ln in out.stdout.splitlines() if rel in ln)
    assert line.startswith("refused") and "permission denied" in line, line
    line = next(ln for ln in out.stdout.splitlines() if "crm/Account" in ln)
    assert line.startswith("refused") and "the folder cannot be listed (permission denied)" in line, line
    (lz / "crm/Account").chmod(0o755)
    for g in good:
        assert next(ln for ln in out.stdout.splitlines() if g in ln).startswith("loaded")
    # readable again: the next load reads it (it was never logged as loaded), and only it
    (lz / rel).chmod(0o644)
    got = load(lz, _wh(lz), run_id="check")
    assert sorted(got.results) == ["crm/Account/a.csv", rel]
    check_file(got, lz, rel)
    status = dict(got.q("SELECT file, list(status ORDER BY finished_at) FROM audit.load_log GROUP BY 1"))
    assert status[rel] == ["refused", "loaded"] and all(status[g] == ["loaded"] for g in good)
    figures("odd_entries", files=len(good) + 1, rows_in=sum(records_in(lz / g) for g in good) + 1)


def test_the_command_line_names_each_odd_entry_and_its_cause(lz):
    good = _good_neighbours(lz)
    odd = [_odd(lz, k) for k in ("empty_json_key", "symlink_loop", "fifo")]
    out = subprocess.run(
        [str(BIN / "salesdw"), "load", "--landing", str(lz), "--warehouse", str(_wh(lz))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and "Traceback" not in out.stdout + out.stderr, out.stderr[-2000:]
    for rel, status, message in odd:
        line = next(ln for ln in out.stdout.splitlines() if rel in ln)
        assert line.startswith(status) and message in line, line
    for rel in good:
        assert next(ln for ln in out.stdout.splitlines() if rel in ln).startswith("loaded")
    figures("odd_entries", files=len(good) + len(odd))


def test_a_failed_step_names_its_cause_not_dagsters_wrapper():
    import dagster as dg

    from ingestion.warehouse import WarehouseWriteError
    from orchestration.progress import failure_message

    @dg.asset
    def raw__crm__opportunity():
        raise WarehouseWriteError(
            "crm/Opportunity/b.csv: could not write to w.duckdb: no space left on device"
        )

    result = dg.materialize([raw__crm__opportunity], raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert (
        failure_message(failure)
        == "crm/Opportunity/b.csv: could not write to w.duckdb: no space left on device"
    )
    figures("odd_entries")


# == 6. Nothing in the landing zone is skipped silently ==================================================

IGNORED = {
    # relative path -> (how to make it, a word of the reason)
    "crm/opportunity": ("dir", "did you mean crm/Opportunity/"),
    "crm/Opportunities": ("dir", "did you mean crm/Opportunity/"),
    "crm/Campaign": ("dir", "not a contract object of crm"),
    "billing/invoice": ("dir", "did you mean billing/invoices/"),
    "crm/Opportunity.csv": ("file", "a file directly in crm/"),
    "hubspot": ("dir", "not a source folder"),
    "README.txt": ("file", "outside the source folders"),
    ".DS_Store": ("file", "hidden"),
    "crm/Opportunity/sub": ("dir", "a sub-folder"),
    "crm/Opportunity/named_like.csv": ("dir", "a folder named like a batch file"),
    "crm/Opportunity/dangling.csv": ("dangling", "a link to nothing"),
    "crm/Opportunity/b.csv.gz": ("file", "compressed"),
    "billing/invoices/b.json": ("file", "not a .jsonl/.parquet file"),
    "billing/invoices/.b.jsonl.part": ("file", "hidden"),
    "activity/events/b.csv": ("file", "not a .jsonl/.parquet file"),
}


def _plant(lz: Path, rel: str, how: str) -> None:
    p = lz / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if how == "dir":
        p.mkdir()
        (p / "x.csv").write_text(csv_text(OPP, [opp(50)]))
    elif how == "dangling":
        os.symlink("gone.csv", p)
    else:
        p.write_bytes(b"\x1f\x8b\x08\x00" if rel.endswith(".gz") else b"id\n1\n")


def _entries(landing: Path) -> set[str]:
    """Every entry of the landing zone down to the object folders' files, walked with os.scandir."""
    out = set()
    for top in os.scandir(landing):
        out.add(top.name)
        if top.name in SOURCES and top.is_dir(follow_symlinks=False):
            for e in os.scandir(top.path):
                rel = f"{top.name}/{e.name}"
                out.add(rel)
                if object_for(top.name, e.name) is not None and e.is_dir():
                    out.update(f"{rel}/{x.name}" for x in os.scandir(e.path))
    return out


def test_every_entry_that_is_not_loaded_is_logged_as_ignored_with_its_reason(lz):
    good = _good_neighbours(lz)
    for rel, (how, _) in IGNORED.items():
        _plant(lz, rel, how)
    got = load(lz, _wh(lz))
    total = sum(check_file(got, lz, g) for g in good)
    for rel, (_, reason) in IGNORED.items():
        check_file(got, lz, rel, status="ignored", message=reason)
    # accounting: every entry found walking the landing zone is a file loaded, an entry logged with its
    # reason, or a source or contract object folder (which holds them); nothing else
    logged = {r[0] for r in got.q("SELECT file FROM audit.load_log")}
    folders = {"crm", "billing", "activity", "crm/Opportunity", "billing/invoices", "activity/events"}
    assert _entries(lz) - logged - folders == set()
    # the source of each row, for the report's per-source list (none for what is outside the source folders)
    src = dict(got.q("SELECT file, source FROM audit.load_log WHERE status = 'ignored'"))
    assert src["crm/Campaign"] == "crm" and src["hubspot"] is None and src["crm/Opportunity/sub"] == "crm"
    # the next run reports them again (each run's summary lists what it did not load)
    again = load(lz, _wh(lz), run_id="run-2")
    assert {r for r, f in again.results.items() if f.status == "ignored"} == set(IGNORED)
    figures("skipped_silently", files=len(good), rows_in=total, entries=len(IGNORED))


def test_ignored_entries_are_reported_once_per_run_across_object_loads(lz):
    """In Dagster each object loads in its own step (its own Loader): the entries outside every object
    folder are logged by the first of them, once."""
    _good_neighbours(lz)
    _plant(lz, "crm/Campaign", "dir")
    with connect(_wh(lz)) as con:
        for table in ("crm__opportunity", "billing__invoice", "activity__event"):
            Loader(con, lz, run_id="one-run").load_object(BY_TABLE[table])
        n = con.execute("SELECT count(*) FROM audit.load_log WHERE file = 'crm/Campaign'").fetchone()[0]
    assert n == 1
    figures("skipped_silently", entries=1)


@pytest.mark.parametrize("command", ["run", "load"])
def test_a_missing_landing_zone_is_an_error_not_zero_files(command, tmp_path):
    missing = tmp_path / "no such landing"
    env = {**os.environ, "SALESDW_DEMO": "0", "SALESDW_LANDING_DIR": str(missing),
           "SALESDW_WAREHOUSE": str(tmp_path / "w.duckdb"), "DAGSTER_HOME": str(tmp_path / "dh")}  # fmt: skip
    out = subprocess.run(
        [str(BIN / "salesdw"), command], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(missing) in lines[0], out.stderr
    assert "does not exist" in lines[0] and "SALESDW_LANDING_DIR" in lines[0]
    assert "running the pipeline" not in out.stdout  # no step ran
    assert not (tmp_path / "w.duckdb").exists()
    figures("skipped_silently")


# == 7. Values are read as the standard says =============================================================

OFFSETS = {
    # SystemModstamp as delivered -> the instant (UTC) or None when it must be quarantined
    "2025-01-05T10:00:00.000Z": dt.datetime(2025, 1, 5, 10, tzinfo=dt.UTC),
    "2025-01-05T10:00:00+14:00": dt.datetime(2025, 1, 4, 20, tzinfo=dt.UTC),
    "2025-01-05T10:00:00-00:00": dt.datetime(2025, 1, 5, 10, tzinfo=dt.UTC),
    "2025-01-05T10:00:00+0530": dt.datetime(2025, 1, 5, 4, 30, tzinfo=dt.UTC),
    "2025-01-05T10:00:00+23:59": dt.datetime(2025, 1, 4, 10, 1, tzinfo=dt.UTC),
    "2025-01-05T10:00:00+25:00": None,
    "2025-01-05T10:00:00+0099": None,
    "2025-01-05T10:00:00-24:00": None,
    "2025-01-05T10:00:00+12:60": None,
    "2025-01-05T24:00:00Z": None,
    "2025-01-05T10:61:00Z": None,
}


def test_impossible_utc_offsets_are_quarantined_not_shifted(lz):
    rel = "crm/Opportunity/b.csv"
    stamps = list(OFFSETS)
    put(lz, rel, csv_text(OPP, [opp(i, SystemModstamp=s) for i, s in enumerate(stamps, start=1)]))
    got = load(lz, _wh(lz))
    bad = sum(v is None for v in OFFSETS.values())
    rows = check_file(got, lz, rel, quarantined=bad, reasons={"wrong_type": bad})
    held = dict(got.raw_rows("crm__opportunity", rel, '"Id", "SystemModstamp"'))
    for i, s in enumerate(stamps, start=1):
        assert held.get(opp(i)["Id"]) == OFFSETS[s], s
    # the same on a JSON field
    rel2 = "activity/events/b.jsonl"
    put(lz, rel2, jsonl([event(1, occurred_at="2025-03-31T09:05:00+25:00"), event(2, updated_at="2025-03-31T09:06:00-0099"),
                         event(3)]))  # fmt: skip
    got = load(lz, _wh(lz), run_id="run-2")
    rows += check_file(got, lz, rel2, quarantined=2, reasons={"wrong_type": 2})
    figures("values", files=2, rows_in=rows)


SPELLINGS = [
    ("2025-01-05T10:00:00.000Z", "2025-01-05T10:00:00.000+0000"),
    ("2025-01-05T10:00:00Z", "2025-01-05T10:00:00+00:00"),
    ("2025-01-05T11:30:00+01:30", "2025-01-05T10:00:00.000Z"),
]


@pytest.mark.parametrize("one,other", SPELLINGS)
def test_one_instant_spelled_two_ways_is_one_version(one, other, lz):
    rel = "crm/Opportunity/b.csv"
    put(lz, rel, csv_text(OPP, [opp(1, SystemModstamp=one), opp(1, SystemModstamp=other), opp(2)]))
    got = load(lz, _wh(lz))
    rows = check_file(got, lz, rel, unchanged=1)
    # and across files: a re-export spelling it the other way (and an amount as 1001.5) changes nothing
    put(lz, "crm/Opportunity/c.csv", csv_text(OPP, [opp(1, SystemModstamp=other, Amount="1001.5")]))
    got = load(lz, _wh(lz), run_id="run-2")
    rows += check_file(got, lz, "crm/Opportunity/c.csv", unchanged=1)
    assert got.q("SELECT count(*) FROM raw.crm__opportunity") == [(2,)]
    figures("values", files=2, rows_in=rows)


def test_an_object_naming_a_field_twice_is_quarantined_as_ambiguous(lz):
    rel = "billing/invoices/b.jsonl"
    good = jsonl([invoice(1)])
    twice = json.dumps(invoice(2))[:-1] + ', "total": 99}\n'  # "total" repeated: which one is meant?
    again = json.dumps(invoice(3))[:-1] + ', "customer": "cus_0002"}\n'
    spaced = json.dumps(invoice(4) | {" total": 5}) + "\n"  # "total" and " total" name the same field
    # inside a line of the list, and inside an object field: JSON paths downstream would read the first
    in_line = json.dumps(invoice(5)).replace('"amount": 12000', '"amount": 12000, "amount": 1', 1) + "\n"
    in_object = json.dumps(invoice(6)).replace('"paid_at": 1735693200', '"paid_at": 1, "paid_at": 2') + "\n"
    put(lz, rel, good + twice + again + spaced + in_line + in_object)
    got = load(lz, _wh(lz))
    parsed = jsonl_records((lz / rel).read_bytes())
    # Python's json sees the repeats (at any depth)
    assert [r.repeated for r in parsed] == [[], ["total"], ["customer"], [], ["amount"], ["paid_at"]]
    rows = check_file(got, lz, rel, quarantined=5, reasons={"duplicate_key": 5})
    assert ids(got, "billing__invoice", rel, "id") == ["in_0001"]
    # repeats only inside nested objects: the file takes DuckDB's fast path (one JSON column per key)
    rel_nested = "billing/invoices/c.jsonl"
    put(
        lz,
        rel_nested,
        jsonl([invoice(7)]) + in_line.replace("in_0005", "in_0008") + in_object.replace("in_0006", "in_0009"),
    )
    got = load(lz, _wh(lz), run_id="run-nested")
    rows += check_file(got, lz, rel_nested, quarantined=2, reasons={"duplicate_key": 2})
    assert ids(got, "billing__invoice", rel_nested, "id") == ["in_0007"]
    # in a field the contract does not know (kept as JSON in raw): ambiguous all the same
    rel_extra = "billing/charges/b.jsonl"
    outcome = {"type": "authorized", "risk_level": "normal"}
    put(lz, rel_extra, jsonl([charge(1, outcome=outcome)])
        + json.dumps(charge(2, outcome=outcome)).replace('"risk_level": "normal"', '"risk_level": "normal", "risk_level": "high"') + "\n")  # fmt: skip
    assert [r.repeated for r in jsonl_records((lz / rel_extra).read_bytes())] == [[], ["risk_level"]]
    got = load(lz, _wh(lz), run_id="run-extra")
    rows += check_file(got, lz, rel_extra, quarantined=1, reasons={"duplicate_key": 1})
    # the same on events, whose file otherwise takes DuckDB's fast path
    rel2 = "activity/events/b.jsonl"
    put(lz, rel2, jsonl([event(1)]) + json.dumps(event(2))[:-1] + ', "id": "ev_other"}\n')
    got = load(lz, _wh(lz), run_id="run-2")
    rows += check_file(got, lz, rel2, quarantined=1, reasons={"duplicate_key": 1})
    figures("values", files=4, rows_in=rows)


@pytest.mark.parametrize("name", [" Amount", "Amount ", " amount ", "AMOUNT"])
def test_a_header_name_with_stray_spaces_maps_to_its_field(name, lz):
    rel = "crm/Opportunity/b.csv"
    header = [name if h == "Amount" else h for h in OPP]
    put(lz, rel, csv_text(header, [opp(1) | {name: "1234.50"}, opp(2) | {name: "99"}]))
    got = load(lz, _wh(lz))
    rows = check_file(got, lz, rel)
    assert sorted(got.raw_rows("crm__opportunity", rel, '"Id", "Amount"')) == [
        ("006000000000001AAA", Decimal("1234.50")),
        ("006000000000002AAA", Decimal("99")),
    ]
    cols = {
        r[0]
        for r in got.q(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'crm__opportunity'"
        )
    }
    assert name not in cols or name == "Amount"  # no stray column beside the typed one
    figures("values", files=1, rows_in=rows)


def test_a_header_naming_one_field_twice_is_refused(lz):
    rel = "crm/Opportunity/b.csv"
    put(lz, rel, csv_text([*OPP, " Amount"], [opp(1) | {" Amount": "5"}]))
    got = load(lz, _wh(lz))
    check_file(got, lz, rel, status="refused", message="names one column twice")
    figures("values", files=1)


UNTERMINATED = {
    # (records before, the record whose Name opens a quote it never closes, records after, the ones that load)
    "swallows_to_the_end": ([opp(1), opp(2)], 3, [opp(4), opp(5), opp(6)], [1, 2]),
    "closed_by_a_later_quote": ([opp(1)], 2, [opp(3), opp(4, Name='"Deal 4"'), opp(5)], [1, 5]),
    "first_record": ([], 1, [opp(2), opp(3)], []),
    "last_record": ([opp(1), opp(2), opp(3)], 4, [], [1, 2, 3]),
}


@pytest.mark.parametrize("case", UNTERMINATED.values(), ids=UNTERMINATED.keys())
def test_an_unterminated_quote_counts_every_record_it_swallowed(case, lz):
    before, n, after, loaded_ns = case
    rel = "crm/Opportunity/b.csv"
    head = csv_text(OPP, before)
    broken = ",".join(v if k != "Name" else '"Deal that never closes' for k, v in opp(n).items()) + "\n"
    tail = "".join(",".join(r.values()) + "\n" for r in after)  # written as is: '"Deal 4"' is a quoted field
    put(lz, rel, head + broken + tail)
    data = (lz / rel).read_bytes()
    physical = physical_records(data)  # what the file was meant to hold, line by line
    assert physical == len(before) + 1 + len(after)
    got = load(lz, _wh(lz))
    rows = check_file(got, lz, rel, rows_in=physical, quarantined=physical - len(loaded_ns),
                      reasons={"unparseable_row": physical - len(loaded_ns)})  # fmt: skip
    assert ids(got, "crm__opportunity", rel) == [opp(i)["Id"] for i in loaded_ns]
    figures("values", files=1, rows_in=rows)


# == 8. A bad warehouse path fails first and clearly ======================================================


def _bad_warehouse(kind: str, root: Path) -> Path:
    if kind == "directory":
        (root / "wh").mkdir()
        return root / "wh"
    if kind == "text_file":
        (root / "notes.txt").write_text("these are my notes, not a database\n")
        return root / "notes.txt"
    if kind == "sqlite_file":
        with sqlite3.connect(root / "crm.sqlite") as db:
            db.execute("CREATE TABLE t (x INTEGER)")
            db.execute("INSERT INTO t VALUES (1)")
        return root / "crm.sqlite"
    if kind == "empty_file":
        (root / "empty.duckdb").write_bytes(b"")
        return root / "empty.duckdb"
    if kind == "below_a_file":
        (root / "afile").write_text("x")
        return root / "afile" / "w.duckdb"
    if kind == "named_like_a_schema":  # DuckDB would name its catalog `raw`, like the schema raw inside it
        return root / "raw.duckdb"
    if kind == "named_like_a_schema_any_case":
        return root / "Staging.v2.duckdb"
    raise ValueError(kind)


def _snapshot(p: Path) -> tuple:
    if p.is_dir():
        return ("dir", sorted(os.listdir(p)), p.stat().st_mtime_ns)
    if p.exists():
        st = p.stat()
        return (p.read_bytes(), st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return ("absent",)


@pytest.mark.parametrize("command", ["run", "load"])
@pytest.mark.parametrize(
    "kind",
    ["directory", "text_file", "sqlite_file", "empty_file", "below_a_file", "named_like_a_schema",
     "named_like_a_schema_any_case"],
)  # fmt: skip
def test_a_bad_warehouse_path_fails_first_with_one_line_and_is_left_untouched(kind, command, lz):
    _good_neighbours(lz)
    root = lz.parent
    warehouse = _bad_warehouse(kind, root)
    before = _snapshot(warehouse)
    siblings = sorted(os.listdir(warehouse.parent)) if warehouse.parent.is_dir() else None
    env = {**os.environ, "SALESDW_DEMO": "0", "SALESDW_LANDING_DIR": str(lz), "SALESDW_WAREHOUSE": str(warehouse),
           "DAGSTER_HOME": str(root / "dh"), "SALESDW_MARTS": str(root / "salesdw_marts.duckdb")}  # fmt: skip
    out = subprocess.run(
        [str(BIN / "salesdw"), command], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("error: SALESDW_WAREHOUSE ") and str(warehouse) in lines[0]
    ), lines
    assert "Point SALESDW_WAREHOUSE at" in lines[0] and "Traceback" not in out.stderr + out.stdout
    assert "running the pipeline" not in out.stdout  # before any step
    assert _snapshot(warehouse) == before
    if siblings is not None:
        assert sorted(os.listdir(warehouse.parent)) == siblings  # no .wal, no new file beside it
    figures("warehouse_path")


@pytest.mark.parametrize("name", ["marts.duckdb", "MARTS.db"])
def test_a_marts_file_named_like_its_schema_fails_first_with_one_line(name, lz):
    """The published file holds the schema marts: named marts.duckdb, every `marts.<table>` a BI tool (or the
    report) sends is ambiguous in DuckDB. The run refuses it before any step, naming the file and the fix."""
    _good_neighbours(lz)
    root = lz.parent
    marts = root / name
    env = {**os.environ, "SALESDW_DEMO": "0", "SALESDW_LANDING_DIR": str(lz), "SALESDW_MARTS": str(marts),
           "SALESDW_WAREHOUSE": str(root / "w.duckdb"), "DAGSTER_HOME": str(root / "dh")}  # fmt: skip
    out = subprocess.run([str(BIN / "salesdw"), "run"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: SALESDW_MARTS {marts}"), lines
    assert "Point SALESDW_MARTS at" in lines[0] and "running the pipeline" not in out.stdout
    assert not marts.exists() and not (root / "w.duckdb").exists()  # nothing created
    figures("warehouse_path")


# == 9. Stripe deletion stubs ==============================================================================


def _customer(n: int, **over) -> dict:
    return {"id": f"cus_{n:04d}", "object": "customer", "created": 1735689600, "email": f"c{n}@example.com",
            "name": f"Customer {n}", "currency": "usd", "metadata": {}} | over  # fmt: skip


def _product(n: int, **over) -> dict:
    return {"id": f"prod_{n:04d}", "object": "product", "name": f"Product {n}", "active": True,
            "created": 1735689600, "updated": 1735689600} | over  # fmt: skip


STUBS = {
    # (files in delivery order: (name, records)), table, id, stub current?)
    "customer_after_its_versions": (
        [
            ("2025-01.jsonl", [_customer(1), _customer(2)]),
            ("2025-02.jsonl", [_customer(1, name="Renamed")]),
            ("2025-03.jsonl", [{"id": "cus_0001", "object": "customer", "deleted": True}]),
        ],
        "billing__customer",
        "cus_0001",
    ),  # fmt: skip
    "customer_stub_in_an_earlier_named_batch": (
        [
            ("2025-05.jsonl", [_customer(1)]),
            ("0000_deleted.jsonl", [{"id": "cus_0001", "object": "customer", "deleted": True}]),
        ],
        "billing__customer",
        "cus_0001",
    ),  # fmt: skip
    "customer_stub_then_a_late_old_version": (
        [
            ("2025-03.jsonl", [{"id": "cus_0001", "object": "customer", "deleted": True}]),
            ("2025-01.jsonl", [_customer(1)]),
        ],
        "billing__customer",
        "cus_0001",
    ),  # fmt: skip
    "product_with_a_version_stamp": (
        [
            ("2025-01.jsonl", [_product(1), _product(2)]),
            ("2025-02.jsonl", [_product(1, updated=1738368000)]),
            ("2025-03.jsonl", [{"id": "prod_0001", "object": "product", "deleted": True}]),
        ],
        "billing__product",
        "prod_0001",
    ),  # fmt: skip
    "price_never_seen_before": (
        [("2025-01.jsonl", [price(1), {"id": "price_0009", "object": "price", "deleted": True}])],
        "billing__price",
        "price_0009",
    ),
}


@pytest.mark.parametrize("case", STUBS.values(), ids=STUBS.keys())
def test_a_deletion_stub_loads_and_is_the_current_version(case, lz):
    files, table, key = case
    folder = {"billing__customer": "customers", "billing__product": "products", "billing__price": "prices"}[
        table
    ]
    total = 0
    for i, (name, recs) in enumerate(files, start=1):
        rel = f"billing/{folder}/{name}"
        put(lz, rel, jsonl(recs))
        got = load(lz, _wh(lz), run_id=f"run-{i}")
        total += check_file(got, lz, rel, unchanged=got.results[rel].rows_unchanged)
    current = got.q(f'SELECT id, deleted, created FROM raw."{table}__current" WHERE id = {key!r}')
    assert current == [(key, True, None)]
    # every delivered version stays in raw; the other ids are untouched
    versions = {json.dumps(r, sort_keys=True) for _, recs in files for r in recs if r["id"] == key}
    assert got.q(f'SELECT count(*) FROM raw."{table}" WHERE id = {key!r}') == [(len(versions),)]
    assert got.q(f'SELECT count(*) FROM raw."{table}__current" WHERE id <> {key!r} AND deleted') == [(0,)]
    figures("deleted_stubs", files=len(files), rows_in=total)


def test_only_a_real_deletion_waives_the_required_fields(lz):
    rel = "billing/customers/b.jsonl"
    put(lz, rel, jsonl([
        {"id": "cus_0001", "object": "customer", "deleted": True},  # a stub: loads
        {"id": "cus_0002", "object": "customer", "deleted": False},  # not deleted: its fields are missing
        {"id": "cus_0003", "object": "customer"},  # no flag at all
        {"id": "cus_0004", "object": "customer", "deleted": "true"},  # a string, not true
        {"object": "customer", "deleted": True},  # a stub still needs its id
    ]))  # fmt: skip
    got = load(lz, _wh(lz))
    rows = check_file(got, lz, rel, quarantined=4, reasons={"missing_required": 4})
    assert ids(got, "billing__customer", rel, "id") == ["cus_0001"]
    why = dict(got.q("SELECT record_id, reason FROM audit.quarantine WHERE record_id = 'cus_0004'"))
    assert 'deleted: "true" is not a true/false' in why["cus_0004"]
    figures("deleted_stubs", files=1, rows_in=rows)


def test_deletion_stubs_in_a_group_of_files(lz):
    rels = [f"billing/prices/2025-0{i}.jsonl" for i in (1, 2, 3)]
    put(lz, rels[0], jsonl([price(1), price(2)]))
    put(lz, rels[1], jsonl([{"id": "price_0002", "object": "price", "deleted": True}]))
    put(lz, rels[2], jsonl([price(3), {"id": "price_0001", "object": "price", "deleted": True}]))
    got = load(lz, _wh(lz))
    total = sum(check_file(got, lz, r) for r in rels)
    assert got.q("SELECT id, coalesce(deleted, false) FROM raw.billing__price__current ORDER BY 1") == [
        ("price_0001", True),
        ("price_0002", True),
        ("price_0003", False),
    ]
    figures("deleted_stubs", files=3, rows_in=total)


# == 5 and 6 through `salesdw run`: the run summary names each entry not loaded, and why ==================


def test_the_run_summary_names_refused_and_ignored_entries_with_their_cause(tmp_path):
    from ingestion.demo.generator import generate
    from tests.reliability.support import env_for

    landing = tmp_path / "landing"
    generate(landing, scale=0.02, seed=7)
    odd = [_odd(landing, k) for k in ("empty_json_key", "symlink_loop")]
    for rel in (
        "crm/Campaign",
        "crm/Opportunity/sub",
        "crm/Opportunity/dangling.csv",
        "crm/Opportunity/b.csv.gz",
    ):
        _plant(landing, rel, IGNORED[rel][0])
    env = env_for(tmp_path / "run", landing)
    out = subprocess.run([str(BIN / "salesdw"), "run"], capture_output=True, text=True, env=env, timeout=1500)
    text = out.stdout
    assert "Traceback" not in text + out.stderr, (text + out.stderr)[-3000:]
    assert "Error occurred while executing op" not in text
    summary = text[text.index("salesdw run ") :]  # the summary after the progress lines
    refused = summary[summary.index("refused files (2)") :].splitlines()[1:3]
    assert [ln.strip().split(":")[0] for ln in refused] == sorted(r for r, _, _ in odd)
    for rel, _, message in odd:
        assert any(rel in ln and message in ln for ln in refused), refused
    ignored = summary[summary.index("ignored in the landing zone (4)") :].splitlines()[1:5]
    for rel in (
        "crm/Campaign",
        "crm/Opportunity/sub",
        "crm/Opportunity/dangling.csv",
        "crm/Opportunity/b.csv.gz",
    ):
        assert any(ln.strip().startswith(f"{rel}: ") and IGNORED[rel][1] in ln for ln in ignored), ignored
    figures("odd_entries", files=2)
    figures("skipped_silently", entries=4)

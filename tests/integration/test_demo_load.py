"""The loaders on the generated demo landing zone: clean data loads whole, dirty data is caught exactly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ingestion.contract import OBJECTS
from ingestion.demo.generator import generate
from ingestion.loader import load_landing
from ingestion.warehouse import connect
from tests.conftest import table_checksum

SCALE = 0.05


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("clean")
    generate(root / "landing", scale=SCALE, seed=7)
    con = connect(root / "w.duckdb")
    load_landing(con, root / "landing")
    con.close()
    return root / "landing", root / "w.duckdb"


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    root = tmp_path_factory.mktemp("dirty")
    generate(root / "landing", scale=SCALE, seed=7, dirty=True)
    con = connect(root / "w.duckdb")
    load_landing(con, root / "landing")
    con.close()
    manifest = [
        json.loads(line) for line in (root / "landing" / "dirty_manifest.jsonl").read_text().splitlines()
    ]
    return root / "landing", root / "w.duckdb", manifest


def test_clean_demo_data_loads_every_object_with_nothing_quarantined(clean):
    _, wh = clean
    con = connect(wh, read_only=True)
    for obj in OBJECTS:
        n = con.execute(f'SELECT count(*) FROM raw."{obj.table}__current"').fetchone()[0]
        assert n > 0, f"raw.{obj.table} is empty"
    assert con.execute("SELECT count(*) FROM audit.quarantine").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM audit.load_log WHERE status <> 'loaded'").fetchone()[0] == 0


def test_nothing_is_lost_every_row_is_loaded_quarantined_or_unchanged(dirty):
    _, wh, _ = dirty
    con = connect(wh, read_only=True)
    bad = con.execute(
        "SELECT file, rows_in, rows_loaded, rows_quarantined, rows_unchanged FROM audit.load_log "
        "WHERE status = 'loaded' AND rows_in <> rows_loaded + rows_quarantined + rows_unchanged"
    ).fetchall()
    assert bad == []


def test_quarantine_counts_equal_the_dirty_manifest_exactly(dirty):
    _, wh, manifest = dirty
    con = connect(wh, read_only=True)
    expected = Counter((m["file"], m["defect"]) for m in manifest if m["expect"] == "quarantine")
    got = Counter(
        {
            (f, code): n
            for f, code, n in con.execute(
                "SELECT file, reason_code, count(*) FROM audit.quarantine GROUP BY ALL"
            ).fetchall()
        }
    )
    assert got == expected
    # every row-level defect with a known id is quarantined under that id with that reason
    have = set(con.execute("SELECT file, record_id, reason_code FROM audit.quarantine").fetchall())
    for m in manifest:
        if m["expect"] == "quarantine" and m.get("id") and m["defect"] != "unparseable_row":
            assert (m["file"], m["id"], m["defect"]) in have, m


def test_refused_and_tolerated_files_match_the_manifest(dirty):
    _, wh, manifest = dirty
    con = connect(wh, read_only=True)
    status = dict(con.execute("SELECT file, status FROM audit.load_log").fetchall())
    refused = {m["file"] for m in manifest if m["expect"] == "refuse"}
    assert refused and {f for f, s in status.items() if s == "refused"} == refused
    for m in manifest:
        if m["expect"] == "load":
            assert status.get(m["file"]) == "loaded", m


def test_loading_the_same_landing_zone_twice_changes_nothing(clean):
    landing, wh = clean
    con = connect(wh)
    tables = [f"raw.{o.table}" for o in OBJECTS] + ["audit.quarantine"]
    before = {t: table_checksum(con, t) for t in tables}
    report = load_landing(con, landing)
    assert report.totals()["rows_loaded"] == 0
    assert {t: table_checksum(con, t) for t in tables} == before
    con.close()


def test_demo_data_cli_is_byte_identical_for_a_seed(tmp_path):
    import hashlib

    from salesdw_cli import main

    def tree(p: Path) -> dict[str, str]:
        return {
            str(f.relative_to(p)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(p.rglob("*"))
            if f.is_file()
        }

    for name in ("a", "b"):
        assert (
            main(["demo-data", "--out", str(tmp_path / name), "--scale", "0.02", "--seed", "7", "--dirty"])
            == 0
        )
    assert tree(tmp_path / "a") == tree(tmp_path / "b")

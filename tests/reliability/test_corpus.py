"""Every case of the bad-input corpus gets exactly its expected outcome, and no row is ever lost.

Each case is loaded by the real loader into its own temporary warehouse. Per file: the outcome
(refused / loaded), rows in, loaded, quarantined (by reason) and unchanged equal the manifest's
hand-written figures, rows in = loaded + quarantined + unchanged, and the warehouse agrees (raw rows
of that file, quarantine rows of that file, one load_log row). A refused file leaves raw and the
quarantine empty and says which file and what is wrong. The loader never raises.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ingestion.contract import OBJECTS, object_for
from ingestion.loader import Loader
from ingestion.warehouse import connect
from tests.reliability.conftest import record
from tests.reliability.make_corpus import CORPUS, load_manifest, write_runtime_cases

MANIFEST = load_manifest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(CORPUS, root, dirs_exist_ok=True, symlinks=True)
    write_runtime_cases(root)
    return root


def test_corpus_is_complete_and_committed_cases_are_current(tmp_path):
    """The committed corpus is what make_corpus.py writes (no hand edits drift), and it is big enough."""
    from tests.reliability.make_corpus import write_corpus

    fresh = write_corpus(tmp_path / "corpus")
    assert fresh == MANIFEST
    for case in MANIFEST:
        if not case.get("runtime"):
            rel = Path(case["id"]) / "landing" / case["file"]
            assert (tmp_path / "corpus" / rel).read_bytes() == (CORPUS / rel).read_bytes(), rel
    assert len(MANIFEST) >= 30
    assert {c["source"] for c in MANIFEST} == {"crm", "billing", "activity"}


def _object(case: dict):
    source, name = case["file"].split("/")[:2]
    obj = object_for(source, name)
    assert obj is not None, case["file"]
    return obj


def _load(case_dir: Path, case: dict, con):
    """Load the case the way the pipeline would; a case marked `direct` hands the path straight to
    Loader.load_file, as a sensor or API caller passing a file name would."""
    landing = case_dir / "landing"
    obj = _object(case)
    loader = Loader(con, landing, run_id="corpus")
    if case.get("direct"):
        return [loader.load_file(obj, landing / case["file"])]
    return [f for f in loader.load_object(obj).files if f.status != "already_loaded"]


@pytest.mark.parametrize("case", MANIFEST, ids=[c["id"] for c in MANIFEST])
def test_corpus_case(case, corpus, tmp_path):
    exp = case["expect"]
    con = connect(tmp_path / "w.duckdb")
    try:
        files = _load(corpus / case["id"], case, con)  # must not raise: no bare stack trace
        assert len(files) == 1, [(f.file, f.status, f.message) for f in files]
        fr = files[0]
        assert fr.file == case["file"]
        assert fr.status == exp["status"], fr.message
        log = con.execute(
            "SELECT status, rows_in, rows_loaded, rows_quarantined, rows_unchanged, message "
            "FROM audit.load_log WHERE file = ?",
            [case["file"]],
        ).fetchall()
        assert len(log) == 1, log
        raw_total = sum(con.execute(f'SELECT count(*) FROM raw."{o.table}"').fetchone()[0] for o in OBJECTS)
        quarantine = dict(
            con.execute(
                "SELECT reason_code, count(*) FROM audit.quarantine WHERE file = ? GROUP BY 1", [case["file"]]
            ).fetchall()
        )
        if exp["status"] == "refused":
            assert case["file"] in fr.message and exp["message"] in fr.message, fr.message
            assert log[0][0] == "refused" and log[0][5] == fr.message
            assert raw_total == 0 and quarantine == {}
            record(corpus_tried=1, corpus_refused=1)
            return
        got = (fr.rows_in, fr.rows_loaded, fr.rows_quarantined, fr.rows_unchanged)
        want = (exp["rows_in"], exp["rows_loaded"], exp["rows_quarantined"], exp["rows_unchanged"])
        assert got == want, f"(in, loaded, quarantined, unchanged) {got} != {want}: {fr.message}"
        assert log[0][:5] == ("loaded", *want)
        # the warehouse holds exactly what the result says: nothing dropped between the counts and the rows
        assert raw_total == exp["rows_loaded"]
        assert quarantine == exp["reasons"]
        for sql, rows in exp["checks"]:
            assert [list(r) for r in con.execute(sql).fetchall()] == rows, sql
        lost = exp["rows_in"] - raw_total - sum(quarantine.values()) - exp["rows_unchanged"]
        assert lost == 0
        record(
            corpus_tried=1,
            corpus_quarantined=int(exp["rows_quarantined"] > 0),
            corpus_loaded=int(exp["rows_quarantined"] == 0),
            corpus_rows_in=exp["rows_in"],
            corpus_rows_quarantined=exp["rows_quarantined"],
            corpus_lost=lost,
        )
    finally:
        con.close()


def test_corpus_outcomes_cover_every_kind():
    kinds = Counter(
        "refused"
        if c["expect"]["status"] == "refused"
        else ("quarantined" if c["expect"]["rows_quarantined"] else "loaded")
        for c in MANIFEST
    )
    assert kinds["refused"] >= 5 and kinds["quarantined"] >= 15 and kinds["loaded"] >= 10, kinds


@pytest.mark.parametrize(
    "case_id", ["crm_binary_garbage", "billing_no_line_is_an_object", "crm_symlink_out_of_landing_zone"]
)
def test_command_line_names_the_file_and_problem_without_a_traceback(case_id, corpus, tmp_path):
    """What an operator sees from `salesdw load`: one line per file with its problem, exit code 0."""
    case = next(c for c in MANIFEST if c["id"] == case_id)
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "salesdw"),
            "load",
            "--landing",
            str(corpus / case_id / "landing"),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    line = next(ln for ln in out.stdout.splitlines() if case["file"] in ln)
    assert line.startswith("refused") and case["expect"]["message"] in line, line

"""Security: no secret leaks, the landing zone is a jail, hostile names stay data, BI reads read-only.

Already proven elsewhere and not repeated here: a hostile CSV column name loads as a column and drops
nothing (tests/integration/test_loader.py::test_hostile_column_name_is_loaded_as_a_column_and_drops_nothing,
and the corpus cases crm_hostile_column_name / billing_hostile_key); links and ../ names out of the
landing zone are refused unread (corpus cases crm_symlink_out_of_landing_zone,
crm_folder_symlink_out_of_landing_zone, crm_path_traversal_name); the serving file is written
read-only and swapped atomically (tests/integration/test_publish.py).
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from ingestion.publish import publish_marts
from ingestion.settings import PROJECT_ROOT, Settings
from ingestion.warehouse import connect
from orchestration.changes import HASH_CACHE_FILE, new_in_landing
from tests.reliability.conftest import record
from tests.reliability.support import PLANTED_SECRETS


def _files_holding(root: Path, needles: list[bytes]) -> list[str]:
    """Files under root (links not followed) holding any needle. A folder or file that disappears during the walk
    is passed over: on another pytest-xdist worker, a dbt step may prune an old dbt_project/target folder."""
    hits = []
    for folder, _, names in os.walk(root):  # os.walk, unlike Path.rglob, passes over vanished folders
        for p in (Path(folder) / name for name in sorted(names)):
            if p.is_file() and not p.is_symlink():
                try:
                    data = p.read_bytes()
                except FileNotFoundError:
                    continue
                hits += [f"{p.relative_to(root)}" for n in needles if n in data]
    return hits


@pytest.mark.slow
def test_planted_secrets_appear_nowhere(pipeline_reference):
    """A full `salesdw run` (Dagster in process, its own DAGSTER_HOME) with fake credentials in its
    environment: they are not in its stdout/stderr, Dagster's run storage, event log and captured
    compute logs, the report, the warehouse or the marts, dbt's logs and targets, or the repository."""
    secrets = list(PLANTED_SECRETS.values())
    # the password alone, too: a DSN shown with its user and host but an unmasked password is a leak
    needles = [s.encode() for s in secrets] + [
        b"S3cr3t-planted-" + secrets[0].split("S3cr3t-planted-")[1][:12].encode()
    ]
    output = "\n".join(pipeline_reference["output"])
    assert "published:" in output  # the run really ran to the end
    assert not [s for s in secrets if s in output]
    root: Path = pipeline_reference["root"]
    assert (root / "dagster_home" / "history").exists() or (root / "dagster_home" / "storage").exists()
    assert (root / "reports" / "index.html").exists()
    assert _files_holding(root, needles) == []  # dagster_home, reports, warehouse, marts
    assert _files_holding(PROJECT_ROOT / "dbt_project", needles) == []  # dbt logs, targets, manifests
    for secret in secrets:  # the repository: tracked and untracked files
        grep = subprocess.run(
            ["git", "grep", "-I", "-l", "-F", "--untracked", secret],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        )
        assert grep.returncode == 1 and grep.stdout == "", grep.stdout
    record(security_checks_tried=1, security_checks_passed=1)


# Shapes of real credentials. A URL with a password is allowed only with an obvious placeholder.
CREDENTIAL_PATTERNS = {
    "Stripe secret key": re.compile(r"\b[sr]k_(live|test)_[0-9A-Za-z]{16,}"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Salesforce session id": re.compile(r"\b00D[0-9A-Za-z]{12,15}![0-9A-Za-z._]{40,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[0-9A-Za-z]{36}\b"),
    "URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:([^\s@/'\"]+)@"),
}
PLACEHOLDERS = re.compile(
    r"^(<[^>]+>|\*+|\$\{?[A-Za-z_]+\}?|\{[^}]*\}|password|pass|secret|pw|pwd|x+|changeme)$", re.I
)


def test_the_repository_holds_no_credentials():
    """No tracked or untracked (not ignored) file outside tests/ holds something shaped like a credential."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    found = []
    for rel in files:
        p = PROJECT_ROOT / rel
        # tests/ plants fake credentials on purpose, to prove they never leak; vendored assets are minified JS
        if rel.startswith("tests/") or "/vendor/" in rel or not p.is_file() or p.stat().st_size > 5_000_000:
            continue
        text = p.read_bytes().decode("utf-8", errors="ignore")
        for name, rx in CREDENTIAL_PATTERNS.items():
            for m in rx.finditer(text):
                if name == "URL with a password" and PLACEHOLDERS.match(m.group(1)):
                    continue
                found.append(f"{rel}: {name}: {m.group(0)[:40]}")
    assert found == [], "\n".join(found)
    record(security_checks_tried=1, security_checks_passed=1)


def test_the_landing_sensor_does_not_follow_links_out_of_the_landing_zone(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    (landing / "crm/Opportunity").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.csv").write_text("Id,Name\n006X,outside\n")
    (landing / "crm/Opportunity/evil.csv").symlink_to(outside / "secret.csv")
    (landing / "crm/Account").symlink_to(outside, target_is_directory=True)
    (landing / "crm/Opportunity/ok.csv").write_text("Id,Name\n006A,inside\n")
    settings = Settings.from_env()
    new, _ = new_in_landing(settings)
    # the links are new entries (the load refuses them with the reason), the outside file is never read
    assert new == {
        "crm__account": ["crm/Account/secret.csv"],
        "crm__opportunity": ["crm/Opportunity/evil.csv", "crm/Opportunity/ok.csv"],
    }
    assert list(json.loads((settings.report_dir / HASH_CACHE_FILE).read_text())) == ["crm/Opportunity/ok.csv"]
    record(security_checks_tried=1, security_checks_passed=1)


@pytest.fixture
def served(tmp_path) -> Path:
    wh, marts = tmp_path / "w.duckdb", tmp_path / "data" / "salesdw_marts.duckdb"
    with connect(wh) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.fct_x AS SELECT range AS id FROM range(10)")
    publish_marts(wh, marts, run_id="run-1")
    return marts


def test_bi_tools_read_the_serving_file_read_only(served):
    """The ways the README tells BI tools to connect all refuse writes; the file has no write bits."""
    assert not served.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    engines = {
        "SQLAlchemy URL": sa.create_engine(f"duckdb:///{served}?access_mode=read_only"),
        "SQLAlchemy connect_args": sa.create_engine(f"duckdb:///{served}", connect_args={"read_only": True}),
    }
    for how, engine in engines.items():
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM marts.fct_x")).scalar() == 10, how
            with pytest.raises(sa.exc.DBAPIError, match="read-only"):
                c.execute(sa.text("CREATE TABLE marts.evil AS SELECT 1"))
        engine.dispose()
    con = duckdb.connect(str(served), read_only=True)
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DELETE FROM marts.fct_x")
    con.close()
    check = duckdb.connect(str(served), read_only=True)
    assert check.execute("SELECT count(*) FROM marts.fct_x").fetchone()[0] == 10
    check.close()
    record(security_checks_tried=1, security_checks_passed=1)


def _connect_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and (getattr(n.func, "attr", None) or getattr(n.func, "id", None)) in ("connect", "create_engine")
    ]


def test_bi_code_opens_the_marts_read_only():
    """Every connection the BI layer (bi/) opens passes read_only=True or access_mode=read_only."""
    files = sorted((PROJECT_ROOT / "bi").glob("*.py"))
    calls = [(f, c) for f in files for c in _connect_calls(f)]
    assert calls, "bi/ opens no connection at all: nothing to check"
    for f, call in calls:
        src = ast.unparse(call)
        ro = any(
            kw.arg == "read_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
            for kw in call.keywords
        ) or re.search(r"read_only|READ_ONLY", src)
        assert ro, f"{f.relative_to(PROJECT_ROOT)}:{call.lineno}: {src} is not read-only"
    record(security_checks_tried=1, security_checks_passed=1)

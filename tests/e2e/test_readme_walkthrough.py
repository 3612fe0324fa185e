"""The README, followed by a newcomer: every offline command of its command table, in the order a newcomer runs
them, from a fresh working copy, exits 0 and prints what the README says it prints.

The working copy holds the files git tracks, as they are in this checkout (so a file that was never added
fails here as it would in a fresh clone), without data/, .venv or dbt's target. Its .venv is installed by its own
`make run` from requirements.lock, as a newcomer's is: reusing this checkout's .venv would run this checkout's
code (it is installed in editable mode), not the copy's. uv's package cache makes the install a matter of
seconds to a minute. Subprocesses get this process's environment without any SALESDW_*, DAGSTER_HOME or DBT_*
variable, so every setting is at its default.

The walk runs twice, each from an empty data/ (`make clean`): at the defaults, then with a February fiscal year
and euros as the corporate currency (SALESDW_FISCAL_YEAR_START_MONTH=2, SALESDW_CORPORATE_CURRENCY=EUR), with
the demo data at scale 0.1 for that second walk, since these settings change no cost that grows with the data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from ingestion.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
# The command table's commands, in the order a newcomer runs them, and what the walk runs for each.
WALK = {
    "make run": [["make", "run"]],
    'make metrics Q="…"': None,  # each `make metrics Q="..."` example the README prints
    "make dashboard": [["make", "dashboard"]],
    "make report": [["make", "report"]],
    "make docs": [["make", "docs-generate"]],  # the generate step; `make docs` then serves until stopped
    "make demo": [["make", "demo"]],
    ".venv/bin/salesdw load": [[".venv/bin/salesdw", "load"]],
    "make pull": [["make", "pull"]],  # with no connector configured
}
NOT_WALKED = {
    "make dev": "a server that runs until stopped (tests/e2e/test_ui.py starts dagster dev)",
    "make report-screenshot": "needs chromium; tests/integration/test_report.py renders the report in it",
    "make dashboard-screenshot": "needs chromium; tests/bi/test_dashboard.py renders the dashboard in it",
    "make lint": "the developers' check, not a newcomer's step",
    "make bench": "ten minutes at its default scale; tests/integration/test_bench.py runs it small",
    "make test-reliability": "its tests are part of this suite (tests/reliability)",
}
SECOND_WALK = {
    "SALESDW_FISCAL_YEAR_START_MONTH": "2",
    "SALESDW_CORPORATE_CURRENCY": "EUR",
    "SALESDW_DEMO_SCALE": "0.1",
}
TIMEOUT = 1800


# --------------------------------------------------------------------------- what the README says


def command_table() -> dict[str, list[str]]:
    """README command -> the fragments its 'it prints' cell promises, for every command in the table."""
    text = README.read_text()
    rows = {}
    for line in text[text.index("## What you get") :].splitlines():
        if not line.startswith("| `"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        printed = re.findall(r"`([^`]+)`", cells[2]) if len(cells) > 2 else []
        for command in re.findall(r"`([^`]+)`", cells[0]):
            rows[command] = printed
    return rows


def metrics_examples() -> list[str]:
    """Every `make metrics Q="..."` the README prints, as the Q value."""
    return re.findall(r'^make metrics Q="([^"]+)"', README.read_text(), re.M)


def expect(output: str, fragment: str) -> bool:
    """`…` in a README fragment stands for anything."""
    pattern = ".*?".join(re.escape(part) for part in fragment.split("…"))
    return re.search(pattern, output) is not None


# --------------------------------------------------------------------------- the fresh working copy


def fresh_copy(dest: Path) -> Path:
    listed = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = PROJECT_ROOT / rel
        if src.is_file():  # a tracked file deleted in this checkout is not in the copy either
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SALESDW_", "DBT_", "PYTEST")) and k not in ("DAGSTER_HOME", "VIRTUAL_ENV")
    }
    env.pop("PYTHONPATH", None)
    return {**env, **(extra or {})}


class Newcomer:
    """Runs commands in the copy as a newcomer types them, keeping every output."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env
        self.printed: dict[str, str] = {}  # README command -> what it printed (walk)

    def run(self, argv: list[str]) -> str:
        shown = " ".join(argv)
        started = time.perf_counter()
        done = subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=TIMEOUT
        )
        print(f"{time.perf_counter() - started:7.1f} s  {shown}")  # where the walk's time goes (pytest -s)
        assert done.returncode == 0, (
            f"`{shown}` exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
        return done.stdout


def walk(newcomer: Newcomer) -> dict[str, str]:
    """Every walked command of the README, in order: README command -> its output (all examples for metrics)."""
    table = command_table()
    printed = {}
    for command, argvs in WALK.items():
        if argvs is None:
            outputs = [newcomer.run(["make", "metrics", f"Q={q}"]) for q in metrics_examples()]
            for q, out in zip(metrics_examples(), outputs, strict=True):
                check_metrics_output(q, out)
        else:
            outputs = [newcomer.run(argv) for argv in argvs]
        printed[command] = "\n".join(outputs)
        for fragment in table[command]:
            assert expect(printed[command], fragment), (
                f"`{command}` did not print {fragment!r}:\n{printed[command][-3000:]}"
            )
    return printed


def check_metrics_output(query: str, out: str) -> None:
    """A table with a column per metric and group, at least one row, and no row without its period."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)*", line))
    header = lines[rule - 1]
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    columns = [header[a:b].strip() for a, b in spans]
    body = [line for line in lines[rule + 1 :] if line and not line.startswith("(")]
    metrics, _, groups = query.partition(" by ")
    for name in [m.strip() for m in metrics.split(",")] if query != "--list" else []:
        assert name in columns, (query, columns)
    for group in [g.strip() for g in groups.split(",") if g.strip()]:
        assert any(c == group or c.endswith(f"__{group}") for c in columns), (query, group, columns)
    assert body, f"{query}: no rows\n{out}"
    for c, (a, b) in zip(columns, spans, strict=True):
        if c.startswith("metric_time"):
            assert all(row[a:b].strip() for row in body), f"{query}: a row without a period\n{out}"
    assert re.search(r"\(\d+ rows up to the as-of date \d{4}-\d\d-\d\d", out), out


# --------------------------------------------------------------------------- the walks


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout: the walkthrough copies the files git tracks")
    return fresh_copy(tmp_path_factory.mktemp("newcomer") / "salesdw")


@pytest.fixture(scope="module")
def first_walk(copy) -> Newcomer:
    newcomer = Newcomer(copy, clean_env())
    newcomer.printed = walk(newcomer)
    return newcomer


@pytest.fixture(scope="module")
def second_walk(first_walk) -> Newcomer:
    newcomer = Newcomer(first_walk.root, clean_env(SECOND_WALK))
    newcomer.run(["make", "clean"])
    newcomer.printed = walk(newcomer)
    return newcomer


def test_every_command_of_the_table_is_walked_or_has_a_reason():
    table = command_table()
    assert set(table) == set(WALK) | set(NOT_WALKED), set(table) ^ (set(WALK) | set(NOT_WALKED))
    assert len(metrics_examples()) >= 3


def test_first_walk_at_the_defaults(first_walk):
    """The walk itself asserts exit codes and outputs; here what a newcomer then finds on disk."""
    data = first_walk.root / "data"
    assert_one_verdict(first_walk, data)
    assert_dashboard_drawn(data)
    assert_metrics_inside_the_data(data)


def test_second_walk_with_a_february_fiscal_year_and_euros(second_walk):
    data = second_walk.root / "data"
    assert_one_verdict(second_walk, data)
    assert_dashboard_drawn(data)
    assert_metrics_inside_the_data(data, fiscal_year_start_month=2)
    con = duckdb.connect(str(data / "salesdw_marts.duckdb"), read_only=True)
    try:
        quarters = dict(
            con.execute("SELECT date_day::VARCHAR, fiscal_quarter FROM marts.dim_date").fetchall()
        )
        by_currency = dict(
            con.execute(
                "SELECT currency, bool_and(amount = amount_native) FROM marts.fct_opportunities "
                "WHERE amount_native IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
    finally:
        con.close()
    # the fiscal year starts on February 1st and is named by the calendar year it ends in
    assert quarters["2025-01-31"] == "FY2025-Q4" and quarters["2025-02-01"] == "FY2026-Q1"
    # euros are the corporate currency: a EUR amount is taken as it is, a GBP one converted
    assert by_currency["EUR"] is True and by_currency["GBP"] is False


def assert_one_verdict(newcomer: Newcomer, data: Path) -> None:
    """`make run` printed the verdict the report states, and the run was not blocked."""
    summary = json.loads((data / "reports" / "summary.json").read_text())
    verdict = summary["verdict"]
    assert f"verdict: {verdict['headline']} ({verdict['counts_line']})" in newcomer.printed["make run"]
    assert summary["status"] in ("trusted", "warning"), summary["issues"]
    assert newcomer.printed["make report"].startswith(f"{verdict['headline']}\nreport: ") or (
        f"\n{verdict['headline']}\nreport: " in newcomer.printed["make report"]
    )
    # every mart shows its checks
    assert all(m["checks_defined"] and m["dbt"]["ran"] for m in summary["marts"]), [
        m["mart"] for m in summary["marts"] if not (m["checks_defined"] and m["dbt"]["ran"])
    ]


def assert_dashboard_drawn(data: Path) -> None:
    page = (data / "dashboard" / "index.html").read_text()
    charts = int(re.search(r"index\.html \((\d+) charts\)", README.read_text())[1])  # as the README says
    assert page.count('class="card"') == charts and "no data:" not in page


def assert_metrics_inside_the_data(data: Path, fiscal_year_start_month: int = 1) -> None:
    from bi.metrics import MetricsClient
    from tests.bi.inside_data import periods_outside_data

    marts = data / "salesdw_marts.duckdb"
    with MetricsClient(marts, fiscal_year_start_month=fiscal_year_start_month) as client:
        assert periods_outside_data(client, marts, grains=("fiscal_quarter",)) == []

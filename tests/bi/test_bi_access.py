"""BI routes to the published marts work read-only while a load holds the warehouse's write lock.

tests/integration/test_publish.py already proves the plain `duckdb.connect(..., read_only=True)` route; here:
SQLAlchemy + duckdb_engine (Superset and most Python BI tools), the DuckDB CLI when installed, and the governed
metrics (bi.metrics), each in its own process, running the README's example query, with a writer holding the
warehouse open in a transaction as a load does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest

# The README's example query ("For BI tools").
EXAMPLE = (
    "SELECT fiscal_quarter, sum(bookings) AS bookings FROM marts.rpt_rep_performance_quarterly "
    "GROUP BY 1 ORDER BY 1"
)


@pytest.fixture
def load_running(bi_warehouse):
    """Another process holds the warehouse for writing, mid-transaction, as a long load does."""
    warehouse = bi_warehouse[0]
    code = (
        "import duckdb, time\n"
        f"c = duckdb.connect({str(warehouse)!r})\n"
        "c.execute('BEGIN')\n"
        "c.execute('CREATE TABLE raw.__load_in_progress AS SELECT range AS i FROM range(1000)')\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        # the lock is really held: a second writer cannot open the warehouse
        probe = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(warehouse)!r})"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert probe.returncode != 0 and "lock" in probe.stderr.lower(), probe.stderr
        yield
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture(scope="module")
def expected(bi_warehouse):
    con = duckdb.connect(str(bi_warehouse[1]), read_only=True)
    try:
        rows = con.execute(EXAMPLE).fetchall()
    finally:
        con.close()
    assert len(rows) >= 4 and sum(r[1] for r in rows) > 0
    return [[q, str(Decimal(b).quantize(Decimal("0.01")))] for q, b in rows]


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_sqlalchemy_duckdb_engine_reads_while_a_load_runs(bi_warehouse, load_running, expected):
    url = f"duckdb:///{bi_warehouse[1]}?access_mode=read_only"  # the URL the README documents
    code = f"""
import json
from decimal import Decimal
import sqlalchemy as sa
engine = sa.create_engine({url!r})
with engine.connect() as c:
    rows = c.execute(sa.text({EXAMPLE!r})).fetchall()
    tables = sa.inspect(c).get_table_names(schema="marts")
    try:
        c.execute(sa.text("CREATE TABLE marts.bi_scribble (i INTEGER)"))
        wrote = True
    except Exception as e:
        wrote = type(e).__name__ + ": " + str(e).splitlines()[0]
print(json.dumps({{"rows": [[q, str(Decimal(b).quantize(Decimal("0.01")))] for q, b in rows],
                   "tables": tables, "wrote": wrote}}))
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["rows"] == expected
    assert {"fct_opportunities", "rpt_rep_performance_quarterly", "fct_mrr_monthly"} <= set(got["tables"])
    assert got["wrote"] is not True and "read-only" in got["wrote"].lower(), got["wrote"]


def test_duckdb_cli_reads_while_a_load_runs(bi_warehouse, load_running, expected):
    cli = shutil.which("duckdb")
    if cli is None:
        pytest.skip(
            "the DuckDB CLI is not installed (the duckdb Python package has none): no `duckdb` on PATH"
        )
    out = subprocess.run(
        [cli, "-readonly", "-json", str(bi_warehouse[1]), "-c", EXAMPLE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    got = [
        [r["fiscal_quarter"], str(Decimal(str(r["bookings"])).quantize(Decimal("0.01")))]
        for r in json.loads(out.stdout)
    ]
    assert got == expected


def test_metrics_query_reads_the_serving_file_while_a_load_runs(bi_warehouse, load_running, expected):
    # `make metrics Q="bookings by fiscal_quarter"`: the same totals as the example query, by the governed metric
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bi.metrics",
            "--marts",
            str(bi_warehouse[1]),
            "--json",
            "bookings by fiscal_quarter",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = {r["metric_time__fiscal_quarter"]: r["bookings"] for r in json.loads(out.stdout)}
    for quarter, bookings in expected:
        # a quarter in which nothing closed has a mart row (0) and no metric row
        assert abs(Decimal(str(got.get(quarter, 0))) - Decimal(bookings)) < Decimal("0.01"), quarter

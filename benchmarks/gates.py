"""Gates stage: every Great Expectations suite vs the same rules as hand-written aggregate SQL.

The floor is what a careful engineer would write by hand on one read-only connection: one aggregate
pass per table for all column rules, a query per uniqueness and reconciliation rule, and a sample
query for each failing rule (the gates show sample rows, so the floor fetches them too). Both sides
must report the same counts; a mismatch is recorded in the results, not hidden.

    python -m benchmarks.gates --rows 1000000    GE vs SQL on two synthetic raw tables (for GE tuning)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import great_expectations.expectations as gxe

from expectations.runner import validate
from expectations.suites import Suite, all_suites, raw_suites
from ingestion.contract import BY_TABLE
from ingestion.warehouse import connect, ensure_raw_schema, quote_ident, quote_literal, rebuild_current


def _bad_condition(e) -> str | None:
    """The SQL condition for a bad row of a column rule (NULLs pass all but not-null, as in GE)."""
    col = quote_ident(getattr(e, "column", "") or "")
    if isinstance(e, gxe.ExpectColumnValuesToNotBeNull):
        return f"{col} IS NULL"
    if isinstance(e, gxe.ExpectColumnValuesToMatchRegex):
        return f"{col} IS NOT NULL AND NOT regexp_matches({col}, {quote_literal(e.regex)})"
    if isinstance(e, gxe.ExpectColumnValuesToBeInSet):
        values = ", ".join(quote_literal(v) for v in e.value_set)
        return f"{col} IS NOT NULL AND {col} NOT IN ({values})"
    return None


def hand_written(con, suite: Suite, sample_size: int = 20) -> dict[str, int]:
    """The suite's rules as plain SQL: counts for every rule, a sample of rows for each failing one."""
    view = f"({suite.query})" if suite.query else f"{suite.layer}.{quote_ident(suite.table)}"
    names = [Suite.expectation_name(e) for e in suite.expectations]
    conditions = {n: _bad_condition(e) for n, e in zip(names, suite.expectations, strict=True)}
    columns = {n: c for n, c in conditions.items() if c}
    counts: dict[str, int] = {}
    samples: dict[str, str] = {}
    if columns:
        filters = ", ".join(f"count(*) FILTER (WHERE {c})" for c in columns.values())
        row = con.execute(f"SELECT count(*), {filters} FROM {view}").fetchone()
        counts = dict(zip(columns, row[1:], strict=True))
        samples = {n: f"SELECT * FROM {view} WHERE {c} LIMIT {sample_size}" for n, c in columns.items()}
    for n, e in zip(names, suite.expectations, strict=True):
        if isinstance(e, gxe.ExpectColumnValuesToBeUnique):
            col = quote_ident(e.column)
            dupes = f"SELECT {col} FROM {view} WHERE {col} IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
            counts[n] = con.execute(f"SELECT count(*) FROM {view} WHERE {col} IN ({dupes})").fetchone()[0]
            samples[n] = f"SELECT * FROM {view} WHERE {col} IN ({dupes}) LIMIT {sample_size}"
        elif isinstance(e, gxe.UnexpectedRowsExpectation):
            query = e.unexpected_rows_query.replace("{batch}", view)
            counts[n] = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
            samples[n] = f"SELECT * FROM ({query}) LIMIT {sample_size}"
        elif n not in counts:
            raise NotImplementedError(f"{suite.name}: no hand-written SQL for {type(e).__name__}")
    for n, count in counts.items():
        if count:
            con.execute(samples[n]).fetchall()
    return counts


def run_ge(warehouse: Path, suites: dict[str, Suite]) -> dict:
    """Every suite through expectations.runner.validate, as the Dagster gates run them."""
    t = time.perf_counter()
    counts: dict[str, dict[str, int | None]] = {}
    per_suite: dict[str, float] = {}
    for name, suite in suites.items():
        result = validate(warehouse, suite)
        per_suite[name] = round(result.duration_seconds, 3)
        counts[name] = {r.name: r.unexpected_count for r in result.results}
    return {"seconds": time.perf_counter() - t, "counts": counts, "seconds_by_suite": per_suite}


def run_sql(warehouse: Path, suites: dict[str, Suite]) -> dict:
    t = time.perf_counter()
    con = connect(warehouse, read_only=True)
    try:
        counts = {name: hand_written(con, suite) for name, suite in suites.items()}
    finally:
        con.close()
    return {"seconds": time.perf_counter() - t, "counts": counts}


def counts_mismatch(ge: dict, sql: dict) -> list[str]:
    """Expectations whose GE count differs from the hand-written SQL count."""
    out = []
    for suite, rules in sql.items():
        for rule, n in rules.items():
            if ge.get(suite, {}).get(rule) != n:
                out.append(f"{suite} / {rule}: GE {ge.get(suite, {}).get(rule)!r}, SQL {n}")
    return out


def gated_suites() -> dict[str, Suite]:
    return all_suites()


# --------------------------------------------------------------------------- synthetic GE tuning bench

TABLES = ("crm__opportunity", "billing__invoice")
STAGES = ("Prospecting", "Qualification", "Proposal", "Closed Won", "Closed Lost")


def build_synthetic(path: Path, rows: int) -> None:
    """`rows` opportunities and invoices, every 100 000th row breaking a rule."""
    path.unlink(missing_ok=True)
    con = connect(path)
    ensure_raw_schema(con)
    con.execute(
        "INSERT INTO raw.crm__opportunity_stage "
        '("Id", "MasterLabel", "SortOrder", "IsClosed", "IsWon", "IsActive", _batch, _row_number) '
        "SELECT '01J' || lpad(CAST(i AS VARCHAR), 15, '0'), s, i, s LIKE 'Closed%', s = 'Closed Won', true, "
        f"'b1', i FROM (SELECT unnest({list(STAGES)}) AS s, generate_subscripts({list(STAGES)}, 1) AS i)"
    )
    con.execute(
        f"""INSERT INTO raw.crm__opportunity ("Id", "Name", "AccountId", "OwnerId", "StageName", "Amount",
            "CloseDate", "IsClosed", "IsWon", "ForecastCategoryName", "Type", "CreatedDate", "SystemModstamp",
            "IsDeleted", _batch, _row_number)
        SELECT '006' || lpad(CAST(i AS VARCHAR), 15, '0'), 'Deal ' || i,
            CASE WHEN i % 100000 = 1 THEN 'not-an-id' ELSE '001' || lpad(CAST(i % 5000 AS VARCHAR), 15, '0') END,
            '005' || lpad(CAST(i % 300 AS VARCHAR), 15, '0'),
            CASE WHEN i % 100000 = 2 THEN 'Negotiation' ELSE {list(STAGES)}[1 + i % 5] END,
            i % 100000, DATE '2024-01-01' + CAST(i % 700 AS INTEGER), i % 5 >= 3, i % 5 = 3, 'Pipeline',
            ['New Business', 'Existing Business', 'Renewal'][1 + i % 3],
            TIMESTAMPTZ '2023-01-01 00:00:00+00' + to_seconds(i), TIMESTAMPTZ '2024-06-01 00:00:00+00' + to_seconds(i),
            false, 'b1', i
        FROM range({rows}) r(i)"""
    )
    con.execute(
        f"""INSERT INTO raw.billing__invoice (id, object, customer, subscription, status, created, period_start,
            period_end, currency, subtotal, total, amount_due, amount_paid, lines, _batch, _row_number)
        SELECT CASE WHEN i % 100000 = 3 THEN 'inv_' ELSE 'in_' END || i, 'invoice', 'cus_' || (i % 40000),
            'sub_' || (i % 50000), ['draft', 'open', 'paid', 'uncollectible', 'void'][1 + i % 5],
            to_timestamp(1700000000 + i), to_timestamp(1700000000 + i), to_timestamp(1702592000 + i), 'usd',
            i % 10000, i % 10000, i % 10000, i % 10000, '{{"object": "list", "data": []}}', 'b1', i
        FROM range({rows}) r(i)"""
    )
    # the loader keeps raw.<table>__current; here raw is written directly
    for table in ("crm__opportunity_stage", *TABLES):
        rebuild_current(con, BY_TABLE[table])
    con.execute("CHECKPOINT")
    con.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the warehouse built by a previous run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warehouse", type=Path, default=Path(tempfile.gettempdir()) / "ge_bench.duckdb")
    args = parser.parse_args(argv)

    if not args.reuse:
        build_synthetic(args.warehouse, args.rows)
    suites = raw_suites()
    validate(args.warehouse, suites["raw.crm__user__current"])  # warm up GE's imports and caches
    report = {}
    for table in TABLES:
        suite = {f"raw.{table}__current": suites[f"raw.{table}__current"]}
        ge_times, sql_times = [], []
        for _ in range(args.repeat):  # interleaved, so machine load hits both sides alike
            ge = run_ge(args.warehouse, suite)
            ge_times.append(ge["seconds"])
            sql = run_sql(args.warehouse, suite)
            sql_times.append(sql["seconds"])
        mismatch = counts_mismatch(ge["counts"], sql["counts"])
        assert not mismatch, mismatch
        report[table] = {
            "ge_s_median": round(statistics.median(ge_times), 3),
            "sql_s_median": round(statistics.median(sql_times), 3),
            "ratio": round(statistics.median(ge_times) / statistics.median(sql_times), 2),
        }
        print(table, report[table])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

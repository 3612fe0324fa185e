"""Great Expectations 1.x on DuckDB gives exact counts and complete samples, never a silent pass.

The proof the GE route needs (great_expectations issue 11579: through plain duckdb_engine every
metric comes back empty): on a few thousand rows with planted bad rows, each expectation type
reports exactly the planted count and samples exactly the planted rows; a clean table passes with
no exception; unexpected-rows queries, the generated raw suites and the file lock behave; and the
dialect's shortcuts (each unexpected-rows query evaluated once, no sample scans while counting)
change no count or row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_engine
import great_expectations.expectations as gxe
import pytest
import sqlalchemy as sa
from sqlalchemy import text

from expectations import engine as engine_module
from expectations.engine import BufferedDuckDBDialect, make_engine
from expectations.runner import validate
from expectations.suites import Suite, critical, raw_suites, warning
from ingestion.contract import BY_TABLE
from ingestion.warehouse import connect, ensure_raw_schema, rebuild_current

ROWS = 3000

# id -> the rule it breaks. Each rule gets its own rows, so every count and sample is exact.
BAD = {
    "name": {5, 1400, 2998},  # null
    "ref": {100, 101, 200, 201, 202},  # duplicated ('dup1' twice, 'dup2' three times)
    "status": {7, 2500},  # not in the set
    "code": {17, 1500, 2999},  # does not match ^\d{3}$
    "email": {30, 31},  # no '@' at all (GE's regex is a search, not a full match)
    "note": {40, 41, 42, 43},  # contains a phone number (must NOT match \d{3}-\d{4})
    "amount": set(range(1000, 1030)),  # out of [0, 1_000_000]: 30 rows, more than the sample
}
SAMPLE = 20


def _make_table(path: Path, *, dirty: bool) -> None:
    def bad(rule: str, then: str, otherwise: str) -> str:
        ids = ", ".join(str(i) for i in sorted(BAD[rule])) if dirty else "-1"
        return f"CASE WHEN i IN ({ids}) THEN {then} ELSE {otherwise} END"

    con = connect(path)
    con.execute("CREATE SCHEMA IF NOT EXISTS qa")
    con.execute(
        f"""CREATE OR REPLACE TABLE qa.proof AS
        SELECT
            i AS id,
            {bad("name", "NULL", "'Deal ' || i")} AS name,
            CASE WHEN {str(dirty).lower()} AND i IN (100, 101) THEN 'dup1'
                 WHEN {str(dirty).lower()} AND i IN (200, 201, 202) THEN 'dup2'
                 ELSE 'r' || i END AS ref,
            {bad("status", "CASE WHEN i = 7 THEN 'Open ' ELSE 'pending' END", "['open', 'won', 'lost'][1 + i % 3]")}
                AS status,
            {bad("code", "CASE i WHEN 17 THEN 'x12' WHEN 1500 THEN '1234' ELSE '12a' END", "lpad(CAST(i % 1000 AS VARCHAR), 3, '0')")}
                AS code,
            {bad("email", "'rep' || i || '.example.com'", "'rep' || i || '@example.com'")} AS email,
            {bad("note", "'call 555-' || lpad(CAST(i AS VARCHAR), 4, '0')", "'note ' || i")} AS note,
            {bad("amount", "CASE WHEN i % 2 = 0 THEN -5 ELSE 2000000 END", "CAST(i * 100 AS BIGINT)")} AS amount
        FROM range({ROWS}) AS r(i)"""
    )
    con.close()


def _proof_suite() -> Suite:
    return Suite(
        name="qa.proof",
        key=("id",),
        expectations=(
            critical(gxe.ExpectColumnValuesToNotBeNull(column="name"), "Every deal has a name.", "name"),
            critical(gxe.ExpectColumnValuesToBeUnique(column="ref"), "Each reference appears once.", "ref"),
            critical(
                gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["open", "won", "lost"]),
                "Status is open, won or lost.",
                "status",
            ),
            warning(
                gxe.ExpectColumnValuesToMatchRegex(column="code", regex=r"^\d{3}$"),
                "Codes are three digits.",
                "code",
            ),
            warning(
                gxe.ExpectColumnValuesToMatchRegex(column="email", regex="@"), "E-mails have an @.", "email"
            ),
            warning(
                gxe.ExpectColumnValuesToNotMatchRegex(column="note", regex=r"\d{3}-\d{4}"),
                "Notes hold no phone numbers.",
                "note",
            ),
            critical(
                gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0, max_value=1_000_000),
                "Amounts are between 0 and 1,000,000.",
                "amount",
            ),
        ),
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


def test_each_expectation_reports_exactly_the_planted_rows(warehouse: Path):
    _make_table(warehouse, dirty=True)
    result = validate(warehouse, _proof_suite(), sample_size=SAMPLE)

    assert result.error is None
    by_name = {r.name: r for r in result.results}
    assert set(by_name) == set(BAD)
    for rule, bad_ids in BAD.items():
        r = by_name[rule]
        assert r.exception is None, (rule, r.exception)
        assert not r.success, rule
        assert r.element_count == ROWS, rule
        assert r.unexpected_count == len(bad_ids), rule
        sampled = [row["id"] for row in r.sample]
        assert len(sampled) == min(len(bad_ids), SAMPLE), rule  # every requested row, not one
        assert len(set(sampled)) == len(sampled), rule
        if len(bad_ids) <= SAMPLE:
            assert set(sampled) == bad_ids, rule
        else:
            assert set(sampled) <= bad_ids, rule
        assert all(rule in row for row in r.sample), rule  # whole rows: the offending value is there

    # GE's query for "all the bad rows" keeps the backslashes and finds exactly those rows.
    code_query = by_name["code"].unexpected_query
    assert r"'^\d{3}$'" in code_query and r"\\d" not in code_query
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert {row[0] for row in con.execute(code_query).fetchall()} == BAD["code"]

    assert not result.passed
    assert {r.name for r in result.critical_failures} == {"name", "ref", "status", "amount"}
    assert {r.name for r in result.warnings} == {"code", "email", "note"}
    docs = result.validation_result
    assert docs["suite_name"] == "qa.proof" and len(docs["results"]) == len(BAD)
    assert docs["statistics"]["unsuccessful_expectations"] == len(BAD)


def test_clean_table_passes_everything_without_exceptions(warehouse: Path):
    _make_table(warehouse, dirty=False)
    result = validate(warehouse, _proof_suite())

    assert result.passed and not result.warnings and result.error is None
    for r in result.results:
        assert r.success and r.exception is None, r.name
        assert r.element_count == ROWS and r.unexpected_count == 0 and r.sample == [], r.name
        assert r.ge_result["exception_info"]["raised_exception"] is False, r.name
    assert result.validation_result["success"] is True


def _orders(warehouse: Path) -> None:
    con = connect(warehouse)
    con.execute("CREATE SCHEMA qa")
    con.execute("CREATE TABLE qa.customers AS SELECT 'c' || i AS customer_id FROM range(100) r(i)")
    con.execute(
        "CREATE TABLE qa.orders AS SELECT i AS order_id, "
        "CASE WHEN i IN (3, 77, 1999) THEN 'ghost' || i ELSE 'c' || (i % 100) END AS customer_id "
        "FROM range(2000) r(i)"
    )
    con.close()


ORPHANS = (
    "SELECT order_id, customer_id FROM {batch} "
    "WHERE customer_id NOT IN (SELECT customer_id FROM qa.customers) ORDER BY order_id"
)


def test_unexpected_rows_query_reports_the_right_rows(warehouse: Path):
    _orders(warehouse)
    suite = Suite(
        name="qa.orders",
        key=("order_id",),
        expectations=(
            critical(
                gxe.UnexpectedRowsExpectation(unexpected_rows_query=ORPHANS),
                "Every order belongs to a known customer.",
                "orders have customers",
            ),
            warning(
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query="SELECT * FROM {batch} WHERE order_id < 0"
                ),
                "No negative order ids.",
                "order ids positive",
            ),
        ),
    )
    result = validate(warehouse, suite)

    orphans, positive = result.results
    assert orphans.exception is None and not orphans.success and orphans.severity == "critical"
    assert orphans.unexpected_count == 3
    assert orphans.sample == [
        {"order_id": 3, "customer_id": "ghost3"},
        {"order_id": 77, "customer_id": "ghost77"},
        {"order_id": 1999, "customer_id": "ghost1999"},
    ]
    assert positive.success and positive.exception is None and positive.unexpected_count == 0
    assert not result.passed


def test_unexpected_rows_query_sample_is_capped_but_count_is_not(warehouse: Path):
    _orders(warehouse)
    suite = Suite(
        name="qa.orders",
        expectations=(
            warning(
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query="SELECT order_id FROM {batch} WHERE order_id % 2 = 0"
                ),
                "Only odd order ids (deliberately false).",
                "odd ids",
            ),
        ),
    )
    (r,) = validate(warehouse, suite, sample_size=50).results
    assert r.unexpected_count == 1000 and len(r.sample) == 50 and not r.success
    assert validate(warehouse, suite).passed  # a warning does not block


def test_errors_are_failures_not_passes(warehouse: Path):
    _make_table(warehouse, dirty=False)
    suite = Suite(
        name="qa.proof",
        expectations=(
            warning(gxe.ExpectColumnValuesToNotBeNull(column="no_such_column"), "Broken rule.", "broken"),
            critical(
                gxe.UnexpectedRowsExpectation(unexpected_rows_query="SELECT * FROM {batch} WHERE nope"),
                "Broken query.",
                "broken query",
            ),
            critical(gxe.ExpectColumnValuesToNotBeNull(column="id"), "Ids are filled.", "fine"),
        ),
    )
    result = validate(warehouse, suite)
    broken, broken_query, fine = result.results
    assert not broken.success and "no_such_column" in broken.exception
    assert not broken_query.success and broken_query.exception
    assert fine.success
    assert [r.name for r in result.critical_failures] == ["broken query"]

    missing = validate(warehouse, Suite(name="qa.missing", expectations=suite.expectations[2:]))
    assert missing.error and not missing.passed
    assert "missing" in missing.results[0].exception


def test_warehouse_is_not_locked_after_validate(warehouse: Path):
    _make_table(warehouse, dirty=True)
    validate(warehouse, _proof_suite())
    validate(warehouse, Suite(name="qa.missing", expectations=_proof_suite().expectations[:1]))
    # A writer (another process in real life) can open the file right away.
    con = duckdb.connect(str(warehouse))
    con.execute("INSERT INTO qa.proof (id) VALUES (-1)")
    con.close()


# --------------------------------------------------------------------------- raw suites

STAGES = ["Prospecting", "Qualification", "Closed Won", "Closed Lost"]
OPP_COLS = (
    '"Id", "Name", "OwnerId", "StageName", "CloseDate", "IsClosed", "IsWon", "ForecastCategoryName", '
    '"CreatedDate", "SystemModstamp", "IsDeleted", _batch, _row_number'
)
INVOICE_COLS = (
    "id, object, customer, subscription, status, created, period_start, period_end, currency, subtotal, "
    "total, amount_due, amount_paid, lines, _batch, _row_number"
)


def _opp(n: int, stage: str) -> str:
    return (
        f"('006000000000{n:03d}AAA', 'Deal {n}', '005000000000001AAA', '{stage}', DATE '2024-03-31', "
        f"false, false, 'Pipeline', TIMESTAMPTZ '2024-01-05 10:00:00+00', TIMESTAMPTZ '2024-01-05 10:00:00+00', "
        f"false, 'b1', {n})"
    )


def _invoice(n: int, id_: str) -> str:
    ts = "TIMESTAMPTZ '2024-02-01 00:00:00+00'"
    return (
        f"('{id_}', 'invoice', 'cus_A{n}', 'sub_A{n}', 'paid', {ts}, {ts}, {ts}, 'usd', 1000, 1000, 1000, "
        f'1000, \'{{"object": "list", "data": []}}\', \'b1\', {n})'
    )


def test_raw_suites_catch_exactly_the_planted_rows(warehouse: Path):
    con = connect(warehouse)
    ensure_raw_schema(con)
    con.execute(
        'INSERT INTO raw.crm__opportunity_stage ("Id", "MasterLabel", "SortOrder", "IsClosed", "IsWon", '
        '"IsActive", _batch, _row_number) VALUES '
        + ", ".join(
            f"('01J000000000{i:03d}AAA', '{s}', {i}, {str('Closed' in s).lower()}, {str(s == 'Closed Won').lower()}, "
            f"true, 'b1', {i})"
            for i, s in enumerate(STAGES)
        )
    )
    opps = [_opp(n, STAGES[n % 4]) for n in range(40)] + [_opp(99, "Negotiation/Review")]  # planted
    con.execute(f"INSERT INTO raw.crm__opportunity ({OPP_COLS}) VALUES {', '.join(opps)}")
    invoices = [_invoice(n, f"in_A{n}") for n in range(30)] + [_invoice(99, "inv_99")]  # planted
    con.execute(f"INSERT INTO raw.billing__invoice ({INVOICE_COLS}) VALUES {', '.join(invoices)}")
    # the loader keeps raw.<table>__current; here raw is written directly
    for table in ("crm__opportunity_stage", "crm__opportunity", "billing__invoice"):
        rebuild_current(con, BY_TABLE[table])
    # Delivered, as the loader would log it: the suites of a source never delivered are skipped (not in use).
    con.execute(
        "INSERT INTO audit.load_log (load_id, source, object, status) "
        "VALUES ('l1', 'crm', 'Opportunity', 'loaded'), ('l2', 'billing', 'invoices', 'loaded')"
    )
    con.close()

    results = {name: validate(warehouse, suite) for name, suite in raw_suites().items()}

    for name, result in results.items():
        assert result.error is None, (name, result.error)
        for r in result.results:
            assert r.exception is None, (name, r.name, r.exception)
    failing = {(name, r.name) for name, res in results.items() for r in res.failures}
    assert failing == {
        ("raw.crm__opportunity__current", "StageName: a known OpportunityStage"),
        ("raw.billing__invoice__current", "id: Stripe invoice id"),
    }
    opp = results["raw.crm__opportunity__current"]
    (stage,) = opp.critical_failures
    assert stage.unexpected_count == 1
    assert [(row["Id"], row["StageName"]) for row in stage.sample] == [
        ("006000000000099AAA", "Negotiation/Review")
    ]
    invoice = results["raw.billing__invoice__current"]
    (bad_id,) = invoice.critical_failures
    assert bad_id.element_count == 31 and bad_id.unexpected_count == 1
    assert [row["id"] for row in bad_id.sample] == ["inv_99"]
    assert not opp.passed and not invoice.passed
    assert all(res.passed for name, res in results.items() if name not in {opp.suite, invoice.suite})


# --------------------------------------------------------------------------- queries that reach DuckDB


@pytest.fixture
def sent_to_duckdb(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the dialect hands to DuckDB (after its own substitutions), in order."""
    sent: list[str] = []
    real = duckdb_engine.CursorWrapper.execute

    def spy(self, statement, parameters=None, context=None):
        sent.append(statement)
        return real(self, statement, parameters, context)

    monkeypatch.setattr(duckdb_engine.CursorWrapper, "execute", spy)
    return sent


EVERY_7TH = "SELECT order_id, customer_id FROM qa.orders WHERE order_id % 7 = 0 ORDER BY order_id"


def _ge_count(query: str) -> str:
    """GE 1.x's wording for the row count of an unexpected-rows query (QueryRowCount._sqlalchemy)."""
    return f"SELECT COUNT(*) as unexpected_row_count FROM ({query}) AS substituted_batch_subquery"


def _plain(warehouse: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


@pytest.mark.parametrize("rows_first", [True, False], ids=["rows-then-count", "count-then-rows"])
def test_an_unexpected_rows_query_is_evaluated_once_in_either_order(warehouse, sent_to_duckdb, rows_first):
    _orders(warehouse)
    expected_rows = _plain(warehouse, EVERY_7TH)
    (expected_count,) = _plain(warehouse, _ge_count(EVERY_7TH))[0]
    assert expected_count == 286 == len(expected_rows)  # 0, 7, ..., 1995

    engine = make_engine(warehouse)
    try:
        with engine.connect() as c:
            if rows_first:
                rows = [tuple(r) for r in c.execute(text(EVERY_7TH)).fetchall()]
                count = c.execute(text(_ge_count(EVERY_7TH))).scalar_one()
            else:
                count = c.execute(text(_ge_count(EVERY_7TH))).scalar_one()
                rows = [tuple(r) for r in c.execute(text(EVERY_7TH)).fetchall()]
    finally:
        engine.dispose()

    assert count == expected_count and rows == expected_rows
    assert sum(s == EVERY_7TH for s in sent_to_duckdb) == 1
    assert not any("substituted_batch_subquery" in s for s in sent_to_duckdb)


def test_a_counted_query_with_too_many_rows_to_keep_runs_again(warehouse, sent_to_duckdb, monkeypatch):
    _orders(warehouse)
    monkeypatch.setattr(engine_module, "MAX_KEPT_ROWS", 100)  # fewer than the query's 286 rows
    engine = make_engine(warehouse)
    try:
        with engine.connect() as c:
            count = c.execute(text(_ge_count(EVERY_7TH))).scalar_one()
            rows = [tuple(r) for r in c.execute(text(EVERY_7TH)).fetchall()]
            engine.dialect.forget_results()
            recount = c.execute(text(_ge_count(EVERY_7TH))).scalar_one()
    finally:
        engine.dispose()
    assert count == recount == 286 and rows == _plain(warehouse, EVERY_7TH)
    # counted, fetched (not kept), counted again after forget_results(): three evaluations
    assert sum(s == EVERY_7TH for s in sent_to_duckdb) == 3


def test_validation_evaluates_each_unexpected_rows_query_once(warehouse, sent_to_duckdb):
    _orders(warehouse)
    suite = Suite(
        name="qa.orders",
        key=("order_id",),
        expectations=(
            critical(gxe.UnexpectedRowsExpectation(unexpected_rows_query=ORPHANS), "Orphans.", "orphans"),
            warning(
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query="SELECT * FROM {batch} WHERE order_id < 0"
                ),
                "No negative order ids.",
                "negative",
            ),
        ),
    )
    orphans, negative = validate(warehouse, suite).results
    assert (orphans.unexpected_count, negative.unexpected_count) == (3, 0)
    assert [row["order_id"] for row in orphans.sample] == [3, 77, 1999]
    assert sum("FROM qa.customers" in s for s in sent_to_duckdb) == 1
    assert sum("order_id < 0" in s for s in sent_to_duckdb) == 1


def test_counting_pass_reads_no_sample_values(warehouse, sent_to_duckdb):
    """On a clean table only counts are needed: GE's per-rule sample queries ask for LIMIT 0 (a literal,
    which DuckDB answers without reading). Samples of failing rules are still fetched (see above)."""
    _make_table(warehouse, dirty=False)
    assert validate(warehouse, _proof_suite()).passed
    samples = [s for s in sent_to_duckdb if "unexpected_values" in s]
    assert len(samples) == len(BAD)  # one per rule, as GE builds them
    assert all(s.rstrip().endswith("LIMIT 0") for s in samples), samples


def test_limits_are_rendered_as_literals():
    stmt = sa.select(sa.column("x")).select_from(sa.table("t")).limit(20).offset(5)
    sql = str(stmt.compile(dialect=BufferedDuckDBDialect()))
    assert "LIMIT 20" in sql and "OFFSET 5" in sql and "$" not in sql

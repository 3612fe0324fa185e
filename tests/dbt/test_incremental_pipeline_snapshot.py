"""fct_pipeline_snapshot_daily's incremental run equals a full rebuild and rebuilds only what changed.

The deltas are written into the raw layer the way a later extract would deliver them (new versions of
records, new history rows, a re-delivered conversion rate), then the model's lineage is built twice from
the same raw data: incrementally on the previous build, and from scratch (--full-refresh).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.contract import BY_TABLE
from ingestion.targets import postgres as pg
from ingestion.warehouse import refresh_current, transaction
from tests.pg_server import fresh_database, pg_dsn  # noqa: F401
from tests.warehouses import assert_ok, built_demo_warehouse, dbt_build

pytestmark = pytest.mark.slow

MODEL = "fct_pipeline_snapshot_daily"
TABLE = f"marts.{MODEL}"
SELECT = ("--select", f"+{MODEL}")
DELTA_BATCH = "2099-01-01T000000_9001"  # sorts after every generated batch
# Rows the incremental run leaves alone keep this mark; the rows it (re)inserts do not have it.
MARK = "kept:"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_demo_warehouse(tmp_path_factory.mktemp("snapshot_base"), *SELECT)


def one(con, sql: str, params=None):
    return con.execute(sql, params or []).fetchone()


def as_of(con) -> date:
    return one(con, "SELECT as_of_date FROM intermediate.int_as_of_date")[0]


def delta_is_current(con, table: str) -> None:
    """raw.<table>__current takes the versions just written to raw.<table>, as the loader's writes do."""
    with transaction(con):
        refresh_current(con, BY_TABLE[table], f"_batch = '{DELTA_BATCH}'")


def new_history(con, opp: str, day: date, stage: str, suffix: str) -> None:
    """A new OpportunityHistory row of `opp` on `day`, copied from its latest one with another stage."""
    con.execute(
        f"""
        INSERT INTO raw.crm__opportunity_history BY NAME
        SELECT * REPLACE (
            Id || '{suffix}' AS Id, ? AS StageName,
            CAST(? AS TIMESTAMPTZ) AS CreatedDate, CAST(? AS TIMESTAMPTZ) AS SystemModstamp,
            '{DELTA_BATCH}' AS _batch)
        FROM raw.crm__opportunity_history__current WHERE OpportunityId = ?
        QUALIFY row_number() OVER (ORDER BY CreatedDate DESC, Id DESC) = 1
        """,
        [stage, f"{day} 12:00:00+00", f"{day} 12:00:00+00", opp],
    )
    delta_is_current(con, "crm__opportunity_history")


def apply_deltas(con) -> tuple[date, set[str], str]:
    """Every kind of change the snapshot depends on; returns the as-of date before them and the opportunities
    whose snapshot rows up to that date change, and the reopened one."""
    before = as_of(con)
    states = "intermediate.int_opportunity_states_historized"
    with_history = "opportunity_id IN (SELECT OpportunityId FROM raw.crm__opportunity_history__current)"
    # open now, in its current state for at least 40 days, with recorded history
    open_now = one(
        con,
        f"SELECT list(opportunity_id ORDER BY opportunity_id) FROM {states} WHERE valid_to IS NULL "
        f"AND NOT is_closed AND valid_from <= ? AND {with_history}",
        [before - timedelta(days=40)],
    )[0]
    staged, amended, won, lost, deleted = open_now[:5]
    closed_now = one(
        con,
        f"SELECT list(opportunity_id ORDER BY opportunity_id) FROM {states} WHERE valid_to IS NULL "
        f"AND is_closed AND valid_from <= ? AND {with_history}",
        [before - timedelta(days=40)],
    )[0]
    reopened, template = closed_now[0], closed_now[1]

    def current_from(opp):
        return one(
            con, f"SELECT valid_from FROM {states} WHERE opportunity_id = ? AND valid_to IS NULL", [opp]
        )[0]

    # a stage change dated in the past, inside the current state's interval
    stage = one(
        con, f"SELECT stage_name FROM {states} WHERE opportunity_id = ? AND valid_to IS NULL", [staged]
    )[0]
    other = "Negotiation" if stage != "Negotiation" else "Proposal"
    new_history(con, staged, current_from(staged) + timedelta(days=20), other, "S")
    # an amount change: a new version of the latest history row
    con.execute(
        f"""
        INSERT INTO raw.crm__opportunity_history BY NAME
        SELECT * REPLACE (Amount + 1000 AS Amount, SystemModstamp + INTERVAL 1 SECOND AS SystemModstamp,
                          '{DELTA_BATCH}' AS _batch)
        FROM raw.crm__opportunity_history__current WHERE OpportunityId = ?
        QUALIFY row_number() OVER (ORDER BY CreatedDate DESC, Id DESC) = 1
        """,
        [amended],
    )
    delta_is_current(con, "crm__opportunity_history")
    # closes, won and lost, before the as-of date
    new_history(con, won, before - timedelta(days=10), "Closed Won", "W")
    new_history(con, lost, before - timedelta(days=12), "Closed Lost", "L")
    # a reopened deal, reopened after the current as-of date: the as-of date moves 3 days forward
    new_history(con, reopened, before + timedelta(days=3), "Qualification", "R")
    # a new opportunity with back-dated history (a copy of another one's record and history)
    new_id = template[:-4] + "ZZZZ"
    con.execute(
        f"""
        INSERT INTO raw.crm__opportunity BY NAME
        SELECT * REPLACE (? AS Id, SystemModstamp + INTERVAL 1 SECOND AS SystemModstamp, '{DELTA_BATCH}' AS _batch)
        FROM raw.crm__opportunity__current WHERE Id = ?
        """,
        [new_id, template],
    )
    delta_is_current(con, "crm__opportunity")
    con.execute(
        f"""
        INSERT INTO raw.crm__opportunity_history BY NAME
        SELECT * REPLACE (Id || 'N' AS Id, ? AS OpportunityId, '{DELTA_BATCH}' AS _batch)
        FROM raw.crm__opportunity_history__current WHERE OpportunityId = ?
        """,
        [new_id, template],
    )
    delta_is_current(con, "crm__opportunity_history")
    # a deleted opportunity: gone from the marts with its history
    con.execute(
        f"""
        INSERT INTO raw.crm__opportunity BY NAME
        SELECT * REPLACE (true AS IsDeleted, SystemModstamp + INTERVAL 1 SECOND AS SystemModstamp,
                          '{DELTA_BATCH}' AS _batch)
        FROM raw.crm__opportunity__current WHERE Id = ?
        """,
        [deleted],
    )
    delta_is_current(con, "crm__opportunity")
    # a re-delivered dated conversion rate: the period that converts the fewest open states (but some)
    rate_id, converted = one(
        con,
        f"""
        SELECT r.Id, list(DISTINCT s.opportunity_id) FROM raw.crm__dated_conversion_rate__current AS r
        JOIN {states} AS s ON s.currency = r.IsoCode AND s.close_date >= r.StartDate
            AND s.close_date < r.NextStartDate AND NOT s.is_closed
        WHERE r.IsoCode <> 'USD' GROUP BY r.Id ORDER BY count(*), r.Id LIMIT 1
        """,
    )
    con.execute(
        f"""
        INSERT INTO raw.crm__dated_conversion_rate BY NAME
        SELECT * REPLACE (ConversionRate * 1.1 AS ConversionRate, '{DELTA_BATCH}' AS _batch)
        FROM raw.crm__dated_conversion_rate__current WHERE Id = ?
        """,
        [rate_id],
    )
    delta_is_current(con, "crm__dated_conversion_rate")
    # the opportunities whose rows up to the old as-of date change, and the reopened one (its state rows changed,
    # its rows up to that date did not)
    return before, {staged, amended, won, lost, deleted, new_id, *converted}, reopened


def build_pair(built: Path, tmp_path: Path, change, settings: dict[str, str] | None = None):
    """(incremental, full) warehouses after `change(con)`; the incremental one's kept rows are marked."""
    # the file name is the catalog name the models were built under
    inc, full = tmp_path / "inc" / "warehouse.duckdb", tmp_path / "full" / "warehouse.duckdb"
    inc.parent.mkdir(parents=True)
    full.parent.mkdir(parents=True)
    shutil.copy(built, inc)
    con = duckdb.connect(str(inc))
    try:
        result = change(con)
        con.execute(f"UPDATE {TABLE} SET snapshot_fiscal_quarter = '{MARK}' || snapshot_fiscal_quarter")
    finally:
        con.close()
    shutil.copy(inc, full)
    assert_ok(dbt_build(inc, tmp_path / "inc", *SELECT, settings=settings))
    assert_ok(dbt_build(full, tmp_path / "full", *SELECT, "--full-refresh", settings=settings))
    return inc, full, result


def compare(inc: Path, full: Path, upto: date) -> dict:
    """Unmarks the incremental table; asserts it equals the full rebuild row for row; counts the kept rows
    and lists the opportunities with rebuilt rows up to `upto`."""
    con = duckdb.connect(str(inc))
    try:
        kept = one(con, f"SELECT count(*) FROM {TABLE} WHERE starts_with(snapshot_fiscal_quarter, '{MARK}')")[
            0
        ]
        rebuilt_opps = {
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT opportunity_id FROM {TABLE} "
                f"WHERE NOT starts_with(snapshot_fiscal_quarter, '{MARK}') AND snapshot_date <= ?",
                [upto],
            ).fetchall()
        }
        con.execute(
            f"UPDATE {TABLE} SET snapshot_fiscal_quarter = substr(snapshot_fiscal_quarter, {len(MARK) + 1}) "
            f"WHERE starts_with(snapshot_fiscal_quarter, '{MARK}')"
        )
        con.execute(f"ATTACH '{full}' AS f (READ_ONLY)")
        total = one(con, f"SELECT count(*) FROM {TABLE}")[0]
        assert total == one(con, f"SELECT count(*) FROM f.{TABLE}")[0]
        extra = one(con, f"SELECT count(*) FROM (FROM {TABLE} EXCEPT ALL FROM f.{TABLE})")[0]
        missing = one(con, f"SELECT count(*) FROM (FROM f.{TABLE} EXCEPT ALL FROM {TABLE})")[0]
        assert (extra, missing) == (0, 0), (
            f"incremental vs full rebuild: {extra} extra, {missing} missing rows"
        )
        return {"total": total, "kept": kept, "rebuilt_opps": rebuilt_opps}
    finally:
        con.close()


def test_incremental_build_equals_full_rebuild_and_rebuilds_only_changes(built: Path, tmp_path: Path):
    inc, full, (before, expected, reopened) = build_pair(built, tmp_path, apply_deltas)

    # What changed, from the two tables themselves: opportunities whose rows up to the old as-of date differ
    # between the previous build and the full rebuild.
    con = duckdb.connect(str(built), read_only=True)
    try:
        con.execute(f"ATTACH '{full}' AS f (READ_ONLY)")
        upto = f"snapshot_date <= DATE '{before}'"
        differing = {
            r[0]
            for r in con.execute(
                f"""
                SELECT opportunity_id FROM (
                    (FROM {TABLE} WHERE {upto} EXCEPT ALL FROM f.{TABLE} WHERE {upto})
                    UNION ALL
                    (FROM f.{TABLE} WHERE {upto} EXCEPT ALL FROM {TABLE} WHERE {upto}))
                """
            ).fetchall()
        }
        new_days = one(con, f"SELECT count(*) FROM f.{TABLE} WHERE snapshot_date > DATE '{before}'")[0]
    finally:
        con.close()
    assert differing == expected, "the deltas must change what the test expects them to change"

    got = compare(inc, full, before)
    # the rows of exactly the changed opportunities were rebuilt, every other row was kept
    rebuilt = differing | {reopened}
    con = duckdb.connect(str(full), read_only=True)
    try:
        rows_of_changed = one(
            con,
            f"SELECT count(*) FROM {TABLE} WHERE opportunity_id IN (SELECT unnest(?)) AND snapshot_date <= ?",
            [sorted(rebuilt), before],
        )[0]
        with_rows = {
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT opportunity_id FROM {TABLE} WHERE opportunity_id IN (SELECT unnest(?)) "
                "AND snapshot_date <= ?",
                [sorted(rebuilt), before],
            ).fetchall()
        }
        assert as_of(con) == before + timedelta(days=3)
    finally:
        con.close()
    # (the deleted opportunity's rows went, none came back)
    assert got["rebuilt_opps"] == with_rows and len(rebuilt - with_rows) == 1
    # and the days after the old as-of date were added for every open opportunity
    assert got["total"] - got["kept"] == rows_of_changed + new_days
    assert got["kept"] / got["total"] > 0.9, got


def test_as_of_date_backwards_backfills_and_settings_each_give_the_full_rebuild(built: Path, tmp_path: Path):
    con = duckdb.connect(str(built), read_only=True)
    try:
        earlier = str(as_of(con) - timedelta(days=30))
    finally:
        con.close()

    # an earlier as-of date: the later days go, nothing else is touched
    setting = {"SALESDW_AS_OF_DATE": earlier}
    inc, full, _ = build_pair(built, tmp_path / "earlier", lambda con: None, settings=setting)
    got = compare(inc, full, date.fromisoformat(earlier))
    assert got["kept"] == got["total"] > 0, got

    # a backfill (partitioned run) of two months, then a run without a window: the fingerprints do not describe
    # a backfilled table, so that run rebuilds everything; and the default as-of date is later again
    window = '{"partition_start": "2025-03-01", "partition_end": "2025-05-01"}'
    assert_ok(dbt_build(inc, tmp_path / "window", "--select", MODEL, "--vars", window))
    con = duckdb.connect(str(inc), read_only=True)
    try:
        assert (
            one(
                con,
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'dbt_state' "
                f"AND table_name = '{MODEL}__fingerprints'",
            )[0]
            == 0
        )
    finally:
        con.close()
    # (with the calendar views, which the earlier as-of date was compiled into)
    assert_ok(dbt_build(inc, tmp_path / "after_window", *SELECT))
    compare(inc, built, date.max)

    # another fiscal year start changes every row's fiscal quarter: all rebuilt, as a full rebuild gives them
    setting = {"SALESDW_FISCAL_YEAR_START_MONTH": "4"}
    no_unit = ("--exclude", "test_type:unit")  # their fixtures assume the default fiscal year
    full = tmp_path / "fiscal" / "warehouse.duckdb"
    full.parent.mkdir(parents=True)
    shutil.copy(built, full)
    assert_ok(dbt_build(inc, tmp_path / "fiscal_inc", *SELECT, *no_unit, settings=setting))
    assert_ok(
        dbt_build(full, tmp_path / "fiscal_full", *SELECT, *no_unit, "--full-refresh", settings=setting)
    )
    compare(inc, full, date.max)


def test_postgres_incremental_build_equals_full_rebuild(
    built: Path,
    tmp_path: Path,
    pg_dsn: str,  # noqa: F811
):
    """The same deltas on the Postgres target (md5 fingerprints, Postgres DDL in the hooks)."""
    warehouse = tmp_path / "duck" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(built, warehouse)
    dsn = fresh_database(pg_dsn, "salesdw_snapshot_incremental")
    on_pg = ("--target", "postgres", *SELECT)

    def replicate():
        con = duckdb.connect(str(warehouse))
        try:
            pg.replicate_raw(con, dsn, full=True)
        finally:
            con.close()

    replicate()
    assert_ok(dbt_build(warehouse, tmp_path / "first", *on_pg, settings=pg.dbt_env(dsn)))
    con = duckdb.connect(str(warehouse))
    try:
        apply_deltas(con)
    finally:
        con.close()
    replicate()
    pcon = pg.connect(dsn)
    try:
        with pcon.cursor() as cur:
            cur.execute(f"UPDATE {TABLE} SET snapshot_fiscal_quarter = '{MARK}' || snapshot_fiscal_quarter")
        pcon.commit()
        assert_ok(dbt_build(warehouse, tmp_path / "inc", *on_pg, settings=pg.dbt_env(dsn)))
        with pcon.cursor() as cur:
            cur.execute(
                f"SELECT count(*), count(*) FILTER (WHERE snapshot_fiscal_quarter LIKE '{MARK}%') FROM {TABLE}"
            )
            total, kept = cur.fetchone()
            cur.execute(
                "CREATE TABLE public.snapshot_incremental AS SELECT snapshot_date, opportunity_id, owner_user_id, "
                "stage_name, stage_sort_order, forecast_category, amount, amount_native, currency, probability, "
                "expected_amount, close_date, close_fiscal_quarter, "
                f"replace(snapshot_fiscal_quarter, '{MARK}', '') AS snapshot_fiscal_quarter FROM {TABLE}"
            )
        pcon.commit()
        assert_ok(dbt_build(warehouse, tmp_path / "full", *on_pg, "--full-refresh", settings=pg.dbt_env(dsn)))
        with pcon.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {TABLE}")
            assert cur.fetchone()[0] == total
            for a, b in ((TABLE, "public.snapshot_incremental"), ("public.snapshot_incremental", TABLE)):
                cur.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) AS d")
                assert cur.fetchone()[0] == 0, f"{a} has rows {b} lacks"
    finally:
        pcon.close()
    assert 0.9 < kept / total < 1, (kept, total)

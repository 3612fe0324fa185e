"""The incremental activity models (int_activity_*, int_activities_matched, fct_activities) equal a full rebuild.

A demo warehouse is built, then deliveries change what matching depends on - new events (one in an old month), new
versions of events with other participants and CRM ids, a soft-deleted event, a contact whose e-mail changes, a lead
converted to an account, an account deleted, an account website that makes a domain non-unique and then unique
again, an opportunity moved to another account, a user whose e-mail changes - and after each incremental
`dbt build` the tables are compared row for row (EXCEPT ALL both ways) with a build from scratch of the same
landing zone. The incremental runs must also have rewritten only a few rows. The same holds on the Postgres target
(skipped without PostgreSQL binaries), and for the first run on a table built before the model was incremental.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import psycopg2
import pytest

from ingestion.loader import load_landing
from ingestion.targets import postgres as pg
from ingestion.warehouse import connect
from tests.pg_server import fresh_database, pg_dsn  # noqa: F401
from tests.warehouses import DBT, DBT_PROJECT_DIR, assert_ok, dbt_build, loaded_demo_warehouse

pytestmark = pytest.mark.slow

SELECT = ("-s", "+fct_activities")
# table -> columns compared (bookkeeping of the incremental runs left out), rows compared
TABLES = {
    "intermediate.int_activities_matched": ("* EXCLUDE (matched_at)", "true"),
    "intermediate.int_activity_participants": ("*", "true"),
    # a key that stopped resolving stays as a not-current row (a full rebuild has none)
    "intermediate.int_activity_match_keys": ("* EXCLUDE (changed_at)", "is_current"),
    "marts.fct_activities": ("*", "true"),
}


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _latest_crm(landing: Path, obj: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Header and latest version (by SystemModstamp, then file order) of every record of a CRM object."""
    header: list[str] = []
    latest: dict[str, dict[str, str]] = {}
    for path in sorted((landing / "crm" / obj).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = header or list(reader.fieldnames or [])
            for row in reader:
                held = latest.get(row["Id"])
                if held is None or row["SystemModstamp"] >= held["SystemModstamp"]:
                    latest[row["Id"]] = row
    return header, latest


def write_crm_versions(landing: Path, batch: str, obj: str, changes: dict[str, dict[str, str]]) -> None:
    """A new batch of `obj` with a later version of each record in `changes`, those fields replaced."""
    header, latest = _latest_crm(landing, obj)
    path = landing / "crm" / obj / f"{batch}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for record_id, fields in changes.items():
            row = dict(latest[record_id])
            stamp = datetime.strptime(row["SystemModstamp"][:19], "%Y-%m-%dT%H:%M:%S") + timedelta(days=1)
            row.update(fields, SystemModstamp=_iso(stamp))
            writer.writerow(row)


def latest_events(landing: Path) -> dict[str, dict]:
    events: dict[str, dict] = {}
    for path in sorted((landing / "activity" / "events").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                event = json.loads(line)
                events[event["id"]] = event  # batches in order: a later line is a later delivery
    return events


def write_events(landing: Path, batch: str, events: list[dict]) -> None:
    path = landing / "activity" / "events" / f"{batch}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")


def bumped(event: dict, **fields) -> dict:
    """A later version of `event` (updated_at one day on) with `fields` replaced."""
    updated = datetime.fromisoformat(event["updated_at"]) + timedelta(days=1)
    return {**event, **fields, "updated_at": updated.isoformat()}


def load(warehouse: Path, landing: Path) -> None:
    con = connect(warehouse)
    try:
        load_landing(con, landing)
    finally:
        con.close()


def dbt_compile(warehouse: Path, work: Path, model: str) -> str:
    """The select `dbt compile` renders for `model` against the warehouse as it is now."""
    env = {**os.environ, "SALESDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [
        str(DBT), "compile", "-s", model,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    assert_ok(subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600))
    (path,) = (work / "target" / "compiled" / "salesdw" / "models").glob(f"*/*/{model}.sql")
    return path.read_text(encoding="utf-8")


def count(warehouse: Path, sql: str, *params) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, list(params)).fetchone()[0]


def incremental_build(warehouse: Path, work: Path) -> dict[str, tuple[int, int]]:
    """The incremental `dbt build` of the activity models, in steps so as to count what each one writes:
    {table: (rows written, rows in the table)}.

    An incremental model here writes exactly the rows of its compiled select (delete+insert of that batch), so the
    select is compiled and counted just before its model is built; int_activities_matched stamps what it writes.
    """
    written = {}
    batch = dbt_compile(warehouse, work, "int_activity_participants")
    written["intermediate.int_activity_participants"] = count(warehouse, f"SELECT count(*) FROM ({batch})")
    last_matched = count(warehouse, "SELECT max(matched_at) FROM intermediate.int_activities_matched")
    assert_ok(dbt_build(warehouse, work, "-s", "+int_activities_matched"))
    written["intermediate.int_activities_matched"] = count(
        warehouse,
        "SELECT count(*) FROM intermediate.int_activities_matched WHERE matched_at > ?",
        last_matched,
    )
    batch = dbt_compile(warehouse, work, "fct_activities")
    written["marts.fct_activities"] = count(warehouse, f"SELECT count(*) FROM ({batch})")
    assert_ok(dbt_build(warehouse, work, "-s", "fct_activities"))
    return {t: (n, count(warehouse, f"SELECT count(*) FROM {t}")) for t, n in written.items()}


def assert_equals_full_rebuild(incremental: Path, landing: Path, work: Path) -> None:
    full = work / "full.duckdb"
    full.unlink(missing_ok=True)
    load(full, landing)
    assert_ok(dbt_build(full, work, *SELECT))
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        con.execute(f"ATTACH '{full}' AS full_build (READ_ONLY)")
        for table, (columns, where) in TABLES.items():
            inc = f"SELECT {columns} FROM {table} WHERE {where}"
            ref = f"SELECT {columns} FROM full_build.{table} WHERE {where}"
            extra = con.execute(f"SELECT count(*) FROM ({inc} EXCEPT ALL {ref})").fetchone()[0]
            missing = con.execute(f"SELECT count(*) FROM ({ref} EXCEPT ALL {inc})").fetchone()[0]
            counts = [con.execute(f"SELECT count(*) FROM ({q})").fetchone()[0] for q in (inc, ref)]
            assert (extra, missing) == (0, 0), f"{table}: {extra} rows only incremental, {missing} only full"
            assert counts[0] == counts[1] > 0, table
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("incremental_activities")
    warehouse = loaded_demo_warehouse(work)
    assert_ok(dbt_build(warehouse, work, *SELECT))
    return work, warehouse


def pick(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    row = con.execute(sql).fetchone()
    assert row is not None, f"the demo data has no candidate for: {sql}"
    return row


def test_incremental_runs_equal_full_rebuilds(built: tuple[Path, Path], tmp_path: Path):
    work, warehouse = built
    landing = work / "landing"
    events = latest_events(landing)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        # a user who logs activities changes e-mail: their events lose user_id
        user_id, user_email = pick(
            con,
            "SELECT user_id, rep_email FROM marts.fct_activities WHERE user_id IS NOT NULL "
            "GROUP BY ALL ORDER BY count(*) DESC, user_id LIMIT 1",
        )
        # a contact that is the e-mail match of some events, the only contact with that e-mail, changes e-mail
        contact_id, contact_email = pick(
            con,
            "SELECT c.contact_id, c.email_normalized FROM staging.stg_crm__contacts c "
            "JOIN marts.fct_activities a ON a.contact_id = c.contact_id AND a.match_method = 'email' "
            "WHERE (SELECT count(*) FROM staging.stg_crm__contacts d WHERE d.email_normalized = c.email_normalized) = 1 "
            "ORDER BY c.contact_id LIMIT 1",
        )
        # an unconverted lead that is the e-mail match of some events (no contact) converts to an account
        (lead_id,) = pick(
            con,
            "SELECT l.lead_id FROM staging.stg_crm__leads l JOIN marts.fct_activities a ON a.lead_id = l.lead_id "
            "WHERE a.contact_id IS NULL AND a.match_method = 'email' AND l.converted_account_id IS NULL "
            "ORDER BY l.lead_id LIMIT 1",
        )
        # an opportunity that an event comes to name without an account id (delivery 1) moves to another
        # account (delivery 2)
        opportunity_id, old_account = pick(
            con,
            "SELECT o.opportunity_id, o.account_id FROM staging.stg_crm__opportunities o "
            "JOIN staging.stg_activity__events e ON e.crm_opportunity_id = o.opportunity_id "
            "WHERE o.account_id IS NOT NULL ORDER BY o.opportunity_id LIMIT 1",
        )
        (new_account,) = pick(
            con,
            f"SELECT account_id FROM staging.stg_crm__accounts WHERE account_id <> '{old_account}' "
            "ORDER BY account_id LIMIT 1",
        )
        # a domain some events match by: another account takes the same website, so it is no longer unique
        domain, domain_account = pick(
            con,
            "SELECT k.match_key, k.account_id FROM intermediate.int_activity_match_keys k "
            "JOIN intermediate.int_activity_participants p ON p.participant_domain = k.match_key "
            "JOIN marts.fct_activities a ON a.activity_id = p.activity_id AND a.match_method = 'domain' "
            "WHERE k.key_type = 'participant_domain' ORDER BY k.match_key LIMIT 1",
        )
        (website_taker,) = pick(
            con,
            "SELECT account_id FROM staging.stg_crm__accounts "
            f"WHERE account_id NOT IN ('{domain_account}', '{new_account}', '{old_account}') "
            "ORDER BY account_id DESC LIMIT 1",
        )
        # an account some events name by CRM id is deleted
        (deleted_account,) = pick(
            con,
            "SELECT e.crm_account_id FROM staging.stg_activity__events e "
            "JOIN staging.stg_crm__accounts a ON a.account_id = e.crm_account_id "
            f"WHERE e.crm_account_id NOT IN ('{domain_account}', '{new_account}', '{old_account}', "
            f"'{website_taker}') ORDER BY 1 LIMIT 1",
        )
        (other_contact_email,) = pick(
            con,
            "SELECT email_normalized FROM staging.stg_crm__contacts WHERE email_normalized IS NOT NULL "
            f"AND account_id = '{new_account}' ORDER BY 1 LIMIT 1",
        )
        plain = [
            r[0]
            for r in con.execute(
                "SELECT activity_id FROM marts.fct_activities ORDER BY occurred_at, activity_id LIMIT 6"
            ).fetchall()
        ]
        n_events = con.execute("SELECT count(*) FROM marts.fct_activities").fetchone()[0]

    # delivery 1
    batch = "2026-06-01T000000_0001"
    write_crm_versions(landing, batch, "User", {user_id: {"Email": "renamed." + user_email}})
    write_crm_versions(landing, batch, "Contact", {contact_id: {"Email": "moved." + contact_email}})
    write_crm_versions(
        landing,
        batch,
        "Lead",
        {
            lead_id: {
                "IsConverted": "true",
                "ConvertedAccountId": new_account,
                "ConvertedDate": "2026-01-15",
                "Status": "Closed - Converted",
            }
        },
    )
    write_crm_versions(
        landing,
        batch,
        "Account",
        {website_taker: {"Website": f"https://www.{domain}/"}, deleted_account: {"IsDeleted": "true"}},
    )
    oldest, second, third, fourth = (events[i] for i in plain[:4])
    write_events(
        landing,
        batch,
        [
            # new events, one of them in the oldest month
            {**oldest, "id": "evt_h1_new_old_month"},
            {**events[plain[4]], "id": "evt_h1_new_2", "participant_emails": [other_contact_email]},
            # an id that SQL must quote: the incremental models name the changed ids as literals (ids_in)
            {**events[plain[4]], "id": "evt_h1_new_o'neil\\3"},
            # new versions: other participants, other CRM ids, soft delete
            bumped(second, participant_emails=["Nobody@Example.org", other_contact_email]),
            bumped(third, crm_account_id=None, crm_opportunity_id=opportunity_id),
            bumped(fourth, is_deleted=True),
        ],
    )
    load(warehouse, landing)
    written = incremental_build(warehouse, work)
    assert_equals_full_rebuild(warehouse, landing, tmp_path)

    with duckdb.connect(str(warehouse), read_only=True) as con:

        def one(sql: str):
            return con.execute(sql).fetchone()[0]

        # the delivery's effects, stated independently of the models
        assert one(f"SELECT count(*) FROM marts.fct_activities WHERE user_id = '{user_id}'") == 0
        assert one(f"SELECT count(*) FROM marts.fct_activities WHERE rep_email = '{user_email}'") > 0
        assert one(f"SELECT count(*) FROM marts.fct_activities WHERE contact_id = '{contact_id}'") == 0
        lead_accounts = con.execute(
            f"SELECT DISTINCT account_id FROM marts.fct_activities WHERE lead_id = '{lead_id}' AND "
            "match_method = 'email' AND contact_id IS NULL"
        ).fetchall()
        assert lead_accounts == [(new_account,)]
        # (its contacts still point to it, so an e-mail match may still give it: not a CRM-id match)
        assert (
            one(
                f"SELECT count(*) FROM marts.fct_activities WHERE account_id = '{deleted_account}' "
                "AND match_method = 'crm_id' AND opportunity_id IS NULL"
            )
            == 0
        )
        assert one(f"SELECT count(*) FROM marts.fct_activities WHERE activity_id = '{fourth['id']}'") == 0
        assert one("SELECT count(*) FROM marts.fct_activities WHERE activity_id LIKE 'evt_h1_new%'") == 3
        assert (
            one(f"SELECT account_id FROM marts.fct_activities WHERE activity_id = '{third['id']}'")
            == old_account
        )
        assert one("SELECT count(*) FROM marts.fct_activities") == n_events + 3 - 1

    # only the affected events were rewritten: a full rebuild would write every row again
    for table, (new_rows, size) in written.items():
        assert 0 < new_rows < size * 0.25, (table, new_rows, size)

    # delivery 2: the website goes back, so the domain is unique again; the opportunity moves; no event changes
    batch = "2026-07-01T000000_0001"
    write_crm_versions(
        landing, batch, "Account", {website_taker: {"Website": "https://www.h1-elsewhere.test/"}}
    )
    write_crm_versions(landing, batch, "Opportunity", {opportunity_id: {"AccountId": new_account}})
    # an event delivered again with other content under the same updated_at: the later batch's version is the
    # live one (raw keeps both), so it must be re-read and re-matched although its version stamp did not move
    resent = {**events[plain[5]], "participant_emails": [other_contact_email], "subject": "h1 resent"}
    write_events(landing, batch, [resent])
    load(warehouse, landing)
    written = incremental_build(warehouse, work)
    assert_equals_full_rebuild(warehouse, landing, tmp_path)
    assert written["intermediate.int_activity_participants"][0] == 1  # the resent event's one participant
    with duckdb.connect(str(warehouse), read_only=True) as con:
        moved = con.execute(
            f"SELECT account_id FROM marts.fct_activities WHERE activity_id = '{third['id']}'"
        )
        assert moved.fetchone()[0] == new_account
        resent_subject = con.execute(
            f"SELECT subject FROM marts.fct_activities WHERE activity_id = '{resent['id']}'"
        ).fetchone()[0]
        assert resent_subject == "h1 resent"
    assert 0 < written["intermediate.int_activities_matched"][0] < n_events * 0.25
    assert 0 < written["marts.fct_activities"][0] < n_events * 0.25

    # a run with nothing delivered rewrites nothing
    written = incremental_build(warehouse, work)
    assert {t: n for t, (n, _) in written.items()} == dict.fromkeys(written, 0)


def test_first_incremental_run_on_a_table_built_before_it_was_incremental(tmp_path: Path):
    """The table int_activities_matched used to be: the first run adds the new columns and re-matches everything."""
    warehouse = loaded_demo_warehouse(tmp_path)
    assert_ok(dbt_build(warehouse, tmp_path, *SELECT))
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "CREATE OR REPLACE TABLE intermediate.int_activities_matched AS SELECT * EXCLUDE (sent_crm_account_id, "
            "sent_crm_opportunity_id, event_updated_at, event_record_hash, row_fingerprint, matched_at) "
            "FROM intermediate.int_activities_matched"
        )
    assert_ok(dbt_build(warehouse, tmp_path, *SELECT))
    (tmp_path / "again").mkdir()
    assert_equals_full_rebuild(warehouse, tmp_path / "landing", tmp_path / "again")


def postgres_build(warehouse: Path, work: Path, dsn: str) -> None:
    env = {**os.environ, "SALESDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.update(pg.dbt_env(dsn))
    cmd = [
        str(DBT), "build", "--target", "postgres", *SELECT,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target_pg"), "--log-path", str(work / "logs_pg"),
    ]  # fmt: skip
    assert_ok(subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900))


def postgres_rows(dsn: str, table: str) -> Counter:
    columns, where = TABLES[table]
    skip = {"matched_at", "changed_at"}
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} WHERE {where}")
        keep = [i for i, d in enumerate(cur.description) if d.name not in skip]
        return Counter(tuple(row[i] for i in keep) for row in cur.fetchall())


def test_incremental_run_equals_full_rebuild_on_postgres(tmp_path: Path, pg_dsn: str):  # noqa: F811
    """The same on the Postgres target (its own fingerprints and SQL): one delivery of every kind of change."""
    warehouse = loaded_demo_warehouse(tmp_path)
    landing = tmp_path / "landing"
    dsn = fresh_database(pg_dsn, "salesdw_incremental_activities")
    with connect(warehouse) as con:
        pg.replicate_raw(con, dsn)
    postgres_build(warehouse, tmp_path, dsn)

    events = latest_events(landing)
    ids = sorted(events)
    participants = {e.lower() for ev in events.values() for e in ev["participant_emails"] or []}
    reps = {ev["rep_email"].lower() for ev in events.values()}
    _, contacts = _latest_crm(landing, "Contact")
    _, leads = _latest_crm(landing, "Lead")
    _, users = _latest_crm(landing, "User")
    _, accounts = _latest_crm(landing, "Account")
    _, opportunities = _latest_crm(landing, "Opportunity")
    contact = next(i for i in sorted(contacts) if contacts[i]["Email"].lower() in participants)
    lead = next(
        i
        for i in sorted(leads)
        if leads[i]["Email"].lower() in participants and leads[i]["IsConverted"] == "false"
    )
    user = next(i for i in sorted(users) if users[i]["Email"].lower() in reps)
    with_site = [i for i in sorted(accounts) if accounts[i]["Website"]]
    opportunity = next(
        i for i in sorted(opportunities) if any(e["crm_opportunity_id"] == i for e in events.values())
    )
    batch = "2026-06-01T000000_0001"
    write_crm_versions(landing, batch, "Contact", {contact: {"Email": "moved." + contacts[contact]["Email"]}})
    write_crm_versions(
        landing, batch, "Lead", {lead: {"IsConverted": "true", "ConvertedAccountId": with_site[0]}}
    )
    write_crm_versions(landing, batch, "User", {user: {"Email": "renamed." + users[user]["Email"]}})
    write_crm_versions(
        landing, batch, "Account", {with_site[1]: {"Website": accounts[with_site[0]]["Website"]}}
    )
    write_crm_versions(landing, batch, "Opportunity", {opportunity: {"AccountId": with_site[2]}})
    write_events(
        landing,
        batch,
        [
            {**events[ids[0]], "id": "evt_h1_pg_new_o'neil\\3"},  # an id SQL must quote (ids_in)
            bumped(events[ids[1]], participant_emails=[contacts[contact]["Email"]], crm_account_id=None),
            bumped(events[ids[2]], is_deleted=True),
        ],
    )
    with connect(warehouse) as con:
        load_landing(con, landing)
        pg.replicate_raw(con, dsn)
    postgres_build(warehouse, tmp_path, dsn)

    full_dsn = fresh_database(pg_dsn, "salesdw_incremental_activities_full")
    with connect(warehouse) as con:
        pg.replicate_raw(con, full_dsn)
    postgres_build(warehouse, tmp_path, full_dsn)
    for table in TABLES:
        incremental, full = postgres_rows(dsn, table), postgres_rows(full_dsn, table)
        assert incremental == full, (table, len(incremental - full), len(full - incremental))
        assert sum(full.values()) > 0, table
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE matched_at = (SELECT max(matched_at) FROM intermediate.int_activities_matched)),"
            " count(*) FROM intermediate.int_activities_matched"
        )
        rematched, size = cur.fetchone()
    assert 0 < rematched < size * 0.25

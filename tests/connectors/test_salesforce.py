"""Salesforce connector against a local Salesforce REST server holding the demo CRM data."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from ingestion.contract import CRM_OBJECTS, object_for
from ingestion.sources._common import ConnectorError, StateStore
from ingestion.sources.salesforce import SalesforceConnector, parse_sf_datetime
from ingestion.warehouse import connect
from tests.servers._base import Faults
from tests.servers.demo import batches, connector_settings, count, diff_raw
from tests.servers.salesforce_api import SalesforceServer

TOKEN = "00Dtest!AQ4AQ.secret-session-token"
INCREMENTAL = [o for o in CRM_OBJECTS if o.version == "SystemModstamp"]


def _settings(tmp_path, server, lookback="60"):
    return connector_settings(
        tmp_path / "spool",
        SALESDW_SALESFORCE_INSTANCE_URL=server.url,
        SALESDW_SALESFORCE_ACCESS_TOKEN=TOKEN,
        SALESDW_SALESFORCE_LOOKBACK_MINUTES=lookback,
    )


def _cursors(con) -> dict[str, str]:
    st = StateStore(con, "salesforce")
    return {o.name: st.get(o.name).cursor for o in INCREMENTAL}


def _load_all(server, demo_landing):
    for _, files in batches(demo_landing, "crm"):
        for obj, path in files:
            server.upsert_csv(obj, path)


def test_incremental_pulls_equal_the_file_drop_load(tmp_path, demo_landing, file_drop, fast_retry, sleeps):
    """The org changes batch by batch as the demo delivered it; one pull after each change. The raw layer
    (every version, and the current view) must equal a file-drop load of the same batches."""
    faults = Faults(every={429: 7, 500: 13}, retry_after="2")
    with SalesforceServer(TOKEN, page_size=150, faults=faults) as server:
        con = connect(tmp_path / "api.duckdb")
        seen: list[dict] = []
        pages = 0
        for _, files in batches(demo_landing, "crm"):
            for obj, path in files:
                server.upsert_csv(obj, path)
            res = SalesforceConnector(
                con, _settings(tmp_path, server), retry=fast_retry, batch_size=200
            ).pull()
            pages += res.pages
            seen.append(_cursors(con))
        fd = connect(file_drop("crm"), read_only=True)
        diff = diff_raw(con, fd, "crm")
        assert {rel: d for rel, d in diff.items() if d[2] or d[3] or d[0] != d[1]} == {}
        total = sum(d[0] for rel, d in diff.items() if not rel.endswith("__current"))
        assert total == count(fd, "SELECT sum(rows_loaded) FROM audit.load_log") > 5000
        assert pages > 2 * len(CRM_OBJECTS)  # paginated: many more pages than objects
        assert count(con, "SELECT count(*) FROM audit.quarantine") == 0
        # Faults were served and survived; every 429 asked for 2 s and got at least that.
        assert server.statuses.count(429) >= 3 and server.statuses.count(500) >= 2
        assert sum(s >= 2.0 for s in sleeps) == server.statuses.count(429)
        # After the first pull, incremental objects were queried from their cursor minus the look-back.
        later = [q for q in server.queries[len(CRM_OBJECTS) :] if " FROM Opportunity " in q]
        assert later and all("WHERE SystemModstamp >= " in q for q in later)
        # Cursors only move forward.
        for before, after in zip(seen, seen[1:], strict=False):
            for name, value in before.items():
                if value is not None:
                    assert parse_sf_datetime(after[name]) >= parse_sf_datetime(value)
        fd.close()
        con.close()


def _no_gaps_no_duplicates(con, fd):
    """Every current record of the org is in raw exactly once (the org holds one version per Id)."""
    diff = diff_raw(con, fd, "crm")
    for obj in CRM_OBJECTS:
        cur = diff[f"raw.{obj.table}__current"]
        assert cur[2:] == (0, 0), obj.name
        assert count(con, f"SELECT count(*) FROM raw.{obj.table}") == cur[1], obj.name


def test_kill_mid_pull_resumes_without_gaps_or_duplicates(tmp_path, demo_landing, file_drop, fast_retry):
    with SalesforceServer(TOKEN, page_size=100) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        files = []

        def die_after_commit(fr):
            files.append(fr)
            if len(files) == 7:  # the page's load committed, its cursor not yet stored: the worst moment
                raise KeyboardInterrupt("killed")

        s = _settings(tmp_path, server)
        with pytest.raises(KeyboardInterrupt):
            SalesforceConnector(con, s, retry=fast_retry, batch_size=200, on_file=die_after_commit).pull()
        partial = count(con, "SELECT count(*) FROM raw.crm__account") + count(
            con, "SELECT count(*) FROM raw.crm__contact"
        )
        assert partial > 0
        # A second interruption, this time the server going away mid-pagination (retries exhausted).
        server.faults = Faults(outage_after_pages=server.pages_served + 5)
        with pytest.raises(ConnectorError, match="resumes from there"):
            SalesforceConnector(con, s, retry=fast_retry, batch_size=200).pull()
        server.faults = Faults()
        res = SalesforceConnector(con, s, retry=fast_retry, batch_size=200).pull()
        assert res.rows_loaded > 0
        fd = connect(file_drop("crm"), read_only=True)
        _no_gaps_no_duplicates(con, fd)
        fd.close()
        con.close()


@pytest.mark.parametrize("lookback", ["60", "0"])
def test_second_pull_gets_changes_and_late_rows_within_the_look_back(
    tmp_path, demo_landing, file_drop, fast_retry, lookback
):
    with SalesforceServer(TOKEN, page_size=500) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, lookback=lookback)
        SalesforceConnector(con, s, retry=fast_retry).pull()
        cursors = _cursors(con)
        cursor = parse_sf_datetime(cursors["Opportunity"])
        opps = server.records["Opportunity"]
        ids = sorted(opps)
        fmt = "%Y-%m-%dT%H:%M:%S.000+0000"
        # Two ordinary changes after the cursor, and one late row: committed after the pull but stamped
        # 30 minutes before the cursor (a long transaction), which only a look-back can catch.
        opps[ids[0]] = {
            **opps[ids[0]],
            "StageName": "Negotiation",
            "SystemModstamp": (cursor + timedelta(hours=1)).strftime(fmt),
        }
        opps[ids[1]] = {
            **opps[ids[1]],
            "Amount": 12345.5,
            "SystemModstamp": (cursor + timedelta(hours=2)).strftime(fmt),
        }
        opps[ids[2]] = {
            **opps[ids[2]],
            "IsDeleted": True,
            "SystemModstamp": (cursor - timedelta(minutes=30)).strftime(fmt),
        }
        # What the second pull must ask for, computed from the server's records, not the connector.
        back = timedelta(minutes=int(lookback))
        expected_fetch = {
            o.name: sum(
                1
                for r in server.records[o.name].values()
                if parse_sf_datetime(r["SystemModstamp"]) >= parse_sf_datetime(cursors[o.name]) - back
            )
            for o in INCREMENTAL
        }
        queries_before = len(server.queries)
        res = SalesforceConnector(con, s, retry=fast_retry).pull()
        full_tables = [o for o in CRM_OBJECTS if o not in INCREMENTAL]
        expected_total = sum(expected_fetch.values()) + sum(len(server.records[o.name]) for o in full_tables)
        assert res.records == expected_total
        assert len(server.queries) - queries_before == len(CRM_OBJECTS)
        assert res.rows_loaded == (3 if lookback == "60" else 2)
        fresh = connect(tmp_path / "fresh.duckdb")
        SalesforceConnector(fresh, _settings(tmp_path / "f", server), retry=fast_retry).pull()
        d = diff_raw(con, fresh, "crm")["raw.crm__opportunity__current"]
        if lookback == "60":
            assert d[2:] == (0, 0)
            assert count(con, "SELECT count(*) FROM raw.crm__opportunity__current WHERE IsDeleted") == count(
                fresh, "SELECT count(*) FROM raw.crm__opportunity__current WHERE IsDeleted"
            )
        else:
            assert d[2:] == (1, 1)  # without a look-back the late row is lost: exactly what it is for
        fresh.close()
        con.close()


def test_a_future_cursor_returns_nothing_and_state_never_goes_backwards(tmp_path, demo_landing, fast_retry):
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        st = StateStore(con, "salesforce")
        future = "2100-01-01T00:00:00.000Z"
        for o in INCREMENTAL:
            st.put(o.name, future, None, order=parse_sf_datetime)
        res = SalesforceConnector(con, _settings(tmp_path, server), retry=fast_retry).pull()
        for o in INCREMENTAL:
            assert count(con, f"SELECT count(*) FROM raw.{o.table}") == 0, o.name
            assert st.get(o.name).cursor == future
        # Only the reference tables without SystemModstamp were read (whole).
        assert {f.object for f in res.files} == {o.table for o in CRM_OBJECTS if o not in INCREMENTAL}
        st.put("Opportunity", "2020-01-01T00:00:00.000Z", None, order=parse_sf_datetime)
        assert st.get("Opportunity").cursor == future
        con.close()


def test_rejected_token_says_what_to_do_and_is_never_logged(tmp_path, fast_retry, caplog):
    caplog.set_level(logging.DEBUG)
    with SalesforceServer("the-right-token") as server:
        con = connect(tmp_path / "api.duckdb")
        with pytest.raises(ConnectorError) as err:
            SalesforceConnector(con, _settings(tmp_path, server), retry=fast_retry).pull()
        assert "SALESDW_SALESFORCE_ACCESS_TOKEN" in str(err.value) and "401" in str(err.value)
        assert TOKEN not in str(err.value) and TOKEN not in caplog.text
        assert TOKEN not in repr(_settings(tmp_path, server))
        con.close()


def test_missing_optional_field_and_missing_object_do_not_stop_the_pull(tmp_path, demo_landing, fast_retry):
    """A single-currency org has no CurrencyIsoCode; an org without forecasts has no ForecastingQuota."""
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        opp = object_for("crm", "Opportunity")
        server.objects["Opportunity"] = type(opp)(
            **{**opp.__dict__, "fields": tuple(f for f in opp.fields if f.name != "CurrencyIsoCode")}
        )
        del server.objects["ForecastingQuota"]
        con = connect(tmp_path / "api.duckdb")
        SalesforceConnector(con, _settings(tmp_path, server), retry=fast_retry).pull()
        assert count(con, "SELECT count(*) FROM raw.crm__opportunity") == len(server.records["Opportunity"])
        assert count(con, "SELECT count(*) FROM raw.crm__opportunity WHERE CurrencyIsoCode IS NOT NULL") == 0
        assert count(con, "SELECT count(*) FROM raw.crm__forecasting_quota") == 0
        con.close()


def test_sigkill_mid_pull_then_resume_gives_every_record_once(tmp_path, demo_landing, file_drop, fast_retry):
    """A real kill -9 of a pulling process (DuckDB recovers its WAL), then a resumed pull."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with SalesforceServer(TOKEN, page_size=50) as server:
        _load_all(server, demo_landing)
        env = {
            **os.environ,
            "SALESDW_SALESFORCE_INSTANCE_URL": server.url,
            "SALESDW_SALESFORCE_ACCESS_TOKEN": TOKEN,
            "SALESDW_CONNECTOR_SPOOL": str(tmp_path / "spool"),
            "SALESDW_WAREHOUSE": str(tmp_path / "api.duckdb"),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion.sources", "salesforce"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while server.pages_served < 40 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert proc.poll() is None, "the pull finished before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        con = connect(tmp_path / "api.duckdb")
        before = count(con, "SELECT count(*) FROM audit.load_log")
        assert 0 < before
        SalesforceConnector(con, _settings(tmp_path, server), retry=fast_retry).pull()
        fd = connect(file_drop("crm"), read_only=True)
        _no_gaps_no_duplicates(con, fd)
        fd.close()
        con.close()
        assert not [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]  # no spool file left behind


def test_an_expired_query_cursor_is_queried_again_from_the_stored_cursor(
    tmp_path, demo_landing, file_drop, fast_retry
):
    with SalesforceServer(TOKEN, page_size=300) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        expired = []

        def expire_once(fr):
            if fr.object == "crm__opportunity_history" and not expired:
                expired.append(fr.file)
                server.cursors.clear()  # Salesforce drops idle query locators after ~15 minutes

        SalesforceConnector(con, _settings(tmp_path, server), retry=fast_retry, on_file=expire_once).pull()
        assert expired and sum(" FROM OpportunityHistory " in q for q in server.queries) == 2
        assert 400 in server.statuses
        fd = connect(file_drop("crm"), read_only=True)
        _no_gaps_no_duplicates(con, fd)
        fd.close()
        con.close()


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    from email.utils import format_datetime

    from ingestion.sources._common import retry_after_seconds

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= retry_after_seconds(in_a_minute) <= 60

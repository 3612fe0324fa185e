"""Salesforce connector against a local Salesforce server (REST query and Bulk API 2.0) holding the demo CRM
data: pulls equal file drops through either API, paging, kills and resumes, failures said clearly."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ingestion.contract import CRM_OBJECTS, object_for
from ingestion.sources._common import ConnectorError, StateStore
from ingestion.sources.salesforce import (
    BulkPolling,
    PullIncomplete,
    SalesforceConnector,
    canonical_text,
    parse_sf_datetime,
)
from ingestion.warehouse import connect
from tests.servers._base import Faults
from tests.servers.demo import batches, connector_settings, count, diff_raw
from tests.servers.salesforce_api import SalesforceServer

TOKEN = "00Dtest!AQ4AQ.secret-session-token"
INCREMENTAL = [o for o in CRM_OBJECTS if o.version == "SystemModstamp"]
DEFAULT_BULK = {"OpportunityHistory", "Contact", "Lead"}
# How the objects are routed in a test: all through REST, all through Bulk API 2.0, or the default list plus
# a record-count threshold the demo's Opportunity and OpportunityLineItem cross as the org grows.
APIS = {
    "rest": {"SALESDW_SALESFORCE_BULK_OBJECTS": "none", "SALESDW_SALESFORCE_BULK_THRESHOLD": str(10**9)},
    "bulk": {"SALESDW_SALESFORCE_BULK_OBJECTS": ",".join(o.name for o in CRM_OBJECTS)},
    "auto": {"SALESDW_SALESFORCE_BULK_THRESHOLD": "1000"},
}


def _settings(tmp_path, server, lookback="60", api="rest", **env):
    return connector_settings(
        tmp_path / "spool",
        SALESDW_SALESFORCE_INSTANCE_URL=server.url,
        SALESDW_SALESFORCE_ACCESS_TOKEN=TOKEN,
        SALESDW_SALESFORCE_LOOKBACK_MINUTES=lookback,
        **{**APIS[api], **env},
    )


@pytest.fixture
def polls() -> list[float]:
    """The waits between a Bulk job's state checks (recorded, not slept)."""
    return []


@pytest.fixture
def polling(polls) -> BulkPolling:
    return BulkPolling(first=0.5, factor=1.5, longest=2.0, sleep=polls.append)


def _cursors(con) -> dict[str, str]:
    st = StateStore(con, "salesforce")
    return {o.name: st.get(o.name).cursor for o in INCREMENTAL}


def _load_all(server, demo_landing):
    for _, files in batches(demo_landing, "crm"):
        for obj, path in files:
            server.upsert_csv(obj, path)


def _queries(server) -> list[str]:
    """Every SOQL the server was asked, REST queries and Bulk jobs alike."""
    return server.queries + server.job_queries


def _jobs_per_object(server) -> Counter:
    return Counter(q.split(" FROM ")[1].split()[0] for q in server.job_queries)


@pytest.mark.parametrize("api", ["rest", "bulk", "auto"])
def test_incremental_pulls_equal_the_file_drop_load(
    tmp_path, demo_landing, file_drop, fast_retry, sleeps, polling, polls, api
):
    """The org changes batch by batch as the demo delivered it; one pull after each change. The raw layer
    (every version, and the current view) must equal a file-drop load of the same batches, whichever API
    reads each object, and when an object moves from REST to Bulk as it grows ('auto')."""
    faults = Faults(every={429: 7, 500: 13}, retry_after="2")
    with SalesforceServer(TOKEN, page_size=150, faults=faults) as server:
        con = connect(tmp_path / "api.duckdb")
        seen: list[dict] = []
        routes: dict[str, set[str]] = {}
        pages = 0
        for _, files in batches(demo_landing, "crm"):
            for obj, path in files:
                server.upsert_csv(obj, path)
            connector = SalesforceConnector(
                con,
                _settings(tmp_path, server, api=api),
                retry=fast_retry,
                polling=polling,
                batch_size=200,
                bulk_page_size=150,
            )
            res = connector.pull()
            pages += res.pages
            seen.append(_cursors(con))
            for name, route in connector.routes.items():
                routes.setdefault(name, set()).add(route)
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
        opp = [q for q in _queries(server) if " FROM Opportunity " in q or q.endswith(" FROM Opportunity")]
        assert len(opp) == len(seen) and all("WHERE SystemModstamp >= " in q for q in opp[1:])
        # Bulk SOQL has no ORDER BY (it would switch off Salesforce's PK chunking); REST's has.
        assert all("ORDER BY" not in q for q in server.job_queries)
        assert all("ORDER BY" in q for q in server.queries)
        expected_routes = {
            "rest": {o.name: {"rest"} for o in CRM_OBJECTS},
            "bulk": {o.name: {"bulk"} for o in CRM_OBJECTS},
            # Opportunity and OpportunityLineItem pass 1,000 records as the batches arrive.
            "auto": {
                o.name: {"bulk"}
                if o.name in DEFAULT_BULK
                else {"rest", "bulk"}
                if o.name in ("Opportunity", "OpportunityLineItem")
                else {"rest"}
                for o in CRM_OBJECTS
            },
        }[api]
        assert routes == expected_routes
        # Every job was polled until complete (one wait each: the server completes on the second check),
        # read to its last result set, and deleted.
        assert len(polls) == len(server.job_queries) and set(polls) <= {0.5}
        assert server.jobs == {} and len(server.deleted_jobs) == len(server.job_queries)
        if api != "rest":
            assert len(server.job_queries) > 0
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


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_kill_mid_pull_resumes_without_gaps_or_duplicates(
    tmp_path, demo_landing, file_drop, fast_retry, polling, api
):
    with SalesforceServer(TOKEN, page_size=100) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        files = []

        def die_after_commit(fr):
            files.append(fr)
            if len(files) == 7:  # the page's load committed, its cursor not yet stored: the worst moment
                raise KeyboardInterrupt("killed")

        s = _settings(tmp_path, server, api=api)
        kw = {"retry": fast_retry, "polling": polling, "batch_size": 200, "bulk_page_size": 100}
        with pytest.raises(KeyboardInterrupt):
            SalesforceConnector(con, s, on_file=die_after_commit, **kw).pull()
        partial = count(con, "SELECT count(*) FROM raw.crm__account") + count(
            con, "SELECT count(*) FROM raw.crm__contact"
        )
        assert partial > 0
        # A second interruption, this time the server going away mid-pagination (retries exhausted).
        server.faults = Faults(outage_after_pages=server.pages_served + 5)
        with pytest.raises(ConnectorError, match="resumes from there"):
            SalesforceConnector(con, s, **kw).pull()
        server.faults = Faults()
        res = SalesforceConnector(con, s, **kw).pull()
        assert res.rows_loaded > 0
        fd = connect(file_drop("crm"), read_only=True)
        _no_gaps_no_duplicates(con, fd)
        fd.close()
        if api == "bulk":
            # The interrupted jobs were continued, not abandoned for new ones: every job was read to its
            # end and deleted.
            assert server.jobs == {} and sorted(server.deleted_jobs) == sorted(server.job_ids)
        assert all(StateStore(con, "salesforce").get(o.name).resume is None for o in CRM_OBJECTS)
        con.close()


@pytest.mark.parametrize("api", ["rest", "bulk"])
@pytest.mark.parametrize("lookback", ["60", "0"])
def test_second_pull_gets_changes_and_late_rows_within_the_look_back(
    tmp_path, demo_landing, file_drop, fast_retry, polling, lookback, api
):
    with SalesforceServer(TOKEN, page_size=500) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, lookback=lookback, api=api)
        SalesforceConnector(con, s, retry=fast_retry, polling=polling).pull()
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
        queries_before = len(_queries(server))
        res = SalesforceConnector(con, s, retry=fast_retry, polling=polling).pull()
        full_tables = [o for o in CRM_OBJECTS if o not in INCREMENTAL]
        expected_total = sum(expected_fetch.values()) + sum(len(server.records[o.name]) for o in full_tables)
        assert res.records == expected_total
        assert len(_queries(server)) - queries_before == len(CRM_OBJECTS)
        assert res.rows_loaded == (3 if lookback == "60" else 2)
        fresh = connect(tmp_path / "fresh.duckdb")
        SalesforceConnector(
            fresh, _settings(tmp_path / "f", server, api=api), retry=fast_retry, polling=polling
        ).pull()
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


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_a_future_cursor_returns_nothing_and_state_never_goes_backwards(
    tmp_path, demo_landing, fast_retry, polling, api
):
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        st = StateStore(con, "salesforce")
        future = "2100-01-01T00:00:00.000Z"
        for o in INCREMENTAL:
            st.put(o.name, future, None, order=parse_sf_datetime)
        res = SalesforceConnector(
            con, _settings(tmp_path, server, api=api), retry=fast_retry, polling=polling
        ).pull()
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
            SalesforceConnector(con, _settings(tmp_path, server, api="auto"), retry=fast_retry).pull()
        assert "SALESDW_SALESFORCE_ACCESS_TOKEN" in str(err.value) and "401" in str(err.value)
        assert TOKEN not in str(err.value) and TOKEN not in caplog.text
        assert TOKEN not in repr(_settings(tmp_path, server))
        con.close()


def _without_field(server, name: str, field: str) -> None:
    obj = object_for("crm", name)
    server.objects[name] = type(obj)(
        **{**obj.__dict__, "fields": tuple(f for f in obj.fields if f.name != field)}
    )


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_missing_optional_field_and_missing_object_do_not_stop_the_pull(
    tmp_path, demo_landing, fast_retry, polling, caplog, api
):
    """A single-currency org has no CurrencyIsoCode; an org without forecasts has no ForecastingQuota."""
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        _without_field(server, "Opportunity", "CurrencyIsoCode")
        del server.objects["ForecastingQuota"]
        con = connect(tmp_path / "api.duckdb")
        SalesforceConnector(
            con, _settings(tmp_path, server, api=api), retry=fast_retry, polling=polling
        ).pull()
        assert count(con, "SELECT count(*) FROM raw.crm__opportunity") == len(server.records["Opportunity"])
        assert count(con, "SELECT count(*) FROM raw.crm__opportunity WHERE CurrencyIsoCode IS NOT NULL") == 0
        assert count(con, "SELECT count(*) FROM raw.crm__forecasting_quota") == 0
        assert "Opportunity has no field CurrencyIsoCode" in caplog.text
        assert "no ForecastingQuota object" in caplog.text
        con.close()


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_a_missing_required_field_is_named_and_the_other_objects_are_still_pulled(
    tmp_path, demo_landing, fast_retry, polling, api
):
    """StageName hidden by field-level security: the marts cannot do without it, so Opportunity is not
    pulled (not pulled half, with a null stage), the pull says which field and what to do, and loses
    nothing of the other objects."""
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        _without_field(server, "Opportunity", "StageName")
        con = connect(tmp_path / "api.duckdb")
        with pytest.raises(PullIncomplete) as err:
            SalesforceConnector(
                con, _settings(tmp_path, server, api=api), retry=fast_retry, polling=polling
            ).pull()
        msg = str(err.value)
        assert "Opportunity has no field StageName" in msg and "field-level security" in msg
        assert [type(p).__name__ for p in err.value.problems] == ["ObjectProblem"]
        assert count(con, "SELECT count(*) FROM raw.crm__opportunity") == 0
        assert StateStore(con, "salesforce").get("Opportunity").cursor is None
        for name in ("Account", "OpportunityHistory", "OpportunityLineItem"):
            obj = object_for("crm", name)
            assert count(con, f"SELECT count(*) FROM raw.{obj.table}") == len(server.records[name]), name
        assert err.value.result.rows_loaded == count(con, "SELECT sum(rows_loaded) FROM audit.load_log")
        con.close()


def test_a_failed_bulk_job_is_reported_with_its_error_message_and_the_next_pull_recovers(
    tmp_path, demo_landing, file_drop, fast_retry, polling
):
    reason = (
        "InvalidBatch : Failed to process query: QUERY_TIMEOUT: Your query request was running for too long."
    )
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        server.fail_jobs["Lead"] = reason
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, api="auto")
        with pytest.raises(PullIncomplete) as err:
            SalesforceConnector(con, s, retry=fast_retry, polling=polling).pull()
        (problem,) = err.value.problems
        assert problem.state == "Failed" and problem.job_id in str(problem)
        assert "Salesforce Lead: Bulk API 2.0 query job" in str(err.value) and reason in str(err.value)
        st = StateStore(con, "salesforce").get("Lead")
        assert (st.cursor, st.resume) == (None, None)  # nothing of the job moved the cursor
        assert count(con, "SELECT count(*) FROM raw.crm__lead") == 0
        assert count(con, "SELECT count(*) FROM raw.crm__contact") == len(server.records["Contact"])
        # The failed job is left for the admin to inspect; the next pull starts a new one and completes.
        assert server.jobs[problem.job_id]["state"] == "Failed"
        SalesforceConnector(con, s, retry=fast_retry, polling=polling).pull()
        assert _jobs_per_object(server)["Lead"] == 2
        fd = connect(file_drop("crm"), read_only=True)
        _no_gaps_no_duplicates(con, fd)
        fd.close()
        con.close()


def test_bulk_result_sets_are_followed_by_locator_until_null(tmp_path, demo_landing, fast_retry, polling):
    """OpportunityHistory through one Bulk job read in sets of 1,000: every set fetched once, in order,
    each one batch file; the count is the server's own (deleted rows included: queryAll)."""
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        history = object_for("crm", "OpportunityHistory")
        con = connect(tmp_path / "api.duckdb")
        res = SalesforceConnector(
            con,
            _settings(tmp_path, server, api="auto"),
            objects=[history],
            retry=fast_retry,
            polling=polling,
            bulk_page_size=1000,
        ).pull()
        n = len(server.records["OpportunityHistory"])
        sets = -(-n // 1000)
        assert n > 3000 and res.records == n and res.pages == sets
        assert [f.object for f in res.files] == ["crm__opportunity_history"] * sets
        assert [f.rows_in for f in res.files] == [1000] * (sets - 1) + [n - 1000 * (sets - 1)]
        results = [p for p in server.paths if p.endswith("/results")]
        assert len(results) == sets
        assert count(con, "SELECT count(*) FROM raw.crm__opportunity_history") == n
        assert count(con, "SELECT count(DISTINCT _source_file) FROM raw.crm__opportunity_history") == sets
        con.close()


def test_rest_pages_hold_as_many_records_as_the_batch_size_asks(tmp_path, demo_landing, fast_retry):
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        opp = object_for("crm", "Opportunity")
        res = SalesforceConnector(
            con, _settings(tmp_path, server, api="rest"), objects=[opp], retry=fast_retry, batch_size=200
        ).pull()
        n = len(server.records["Opportunity"])
        assert n > 1000 and res.pages == -(-n // 200) and res.records == n
        con.close()


def test_a_pull_killed_while_its_job_runs_waits_for_the_same_job_next_time(
    tmp_path, demo_landing, file_drop, fast_retry
):
    with SalesforceServer(TOKEN, job_polls=4) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, api="bulk")

        def killed(seconds):
            raise KeyboardInterrupt("killed while polling")

        with pytest.raises(KeyboardInterrupt):
            SalesforceConnector(con, s, retry=fast_retry, polling=BulkPolling(first=0.5, sleep=killed)).pull()
        first = CRM_OBJECTS[0].name
        waiting = StateStore(con, "salesforce").get(first).resume
        assert waiting["bulk_job"] in server.jobs and waiting["locator"] is None
        waits: list[float] = []
        SalesforceConnector(
            con, s, retry=fast_retry, polling=BulkPolling(first=0.5, sleep=waits.append)
        ).pull()
        assert _jobs_per_object(server)[first] == 1 and waiting["bulk_job"] in server.deleted_jobs
        # Backoff between state checks: 0.5 s, growing by half each time (the continued job needed two more).
        assert waits[:2] == [0.5, 0.75] and waits[2:5] == [0.5, 0.75, 1.125]
        fd = connect(file_drop("crm"), read_only=True)
        _no_gaps_no_duplicates(con, fd)
        fd.close()
        con.close()


def test_a_job_deleted_mid_read_starts_again_from_the_unmoved_cursor(
    tmp_path, demo_landing, file_drop, fast_retry, polling
):
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        gone = []

        def delete_the_job(fr):
            if fr.object == "crm__opportunity_history" and not gone:
                (job_id,) = [j for j, info in server.jobs.items() if info["object"] == "OpportunityHistory"]
                gone.append(server.jobs.pop(job_id))  # deleted in Setup, or expired

        SalesforceConnector(
            con,
            _settings(tmp_path, server, api="auto"),
            retry=fast_retry,
            polling=polling,
            bulk_page_size=500,
            on_file=delete_the_job,
        ).pull()
        assert gone and _jobs_per_object(server)["OpportunityHistory"] == 2
        fd = connect(file_drop("crm"), read_only=True)
        _no_gaps_no_duplicates(con, fd)  # the sets read twice were recognised as unchanged
        fd.close()
        con.close()


def test_objects_above_the_threshold_go_through_bulk_and_counts_that_cannot_be_read_mean_rest(
    tmp_path, demo_landing, fast_retry, polling, caplog
):
    with SalesforceServer(TOKEN) as server:
        _load_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, api="rest", SALESDW_SALESFORCE_BULK_THRESHOLD="1000")
        connector = SalesforceConnector(con, s, retry=fast_retry, polling=polling)
        live = {
            name: sum(not r.get("IsDeleted") for r in recs.values()) for name, recs in server.records.items()
        }
        plan = connector.plan()
        assert plan == {o.name: "bulk" if live[o.name] > 1000 else "rest" for o in CRM_OBJECTS}
        assert plan["OpportunityHistory"] == "bulk" and plan["User"] == "rest"
        assert server.paths == [f"/services/data/v{server.api_version}/limits/recordCount"]  # one call

        server.route = lambda *a: (403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}], {})
        assert set(connector.plan().values()) == {"rest"}
        assert "record counts unavailable" in caplog.text
        con.close()


def test_an_api_version_the_org_does_not_offer_is_named(tmp_path, fast_retry):
    with SalesforceServer(TOKEN, api_version="67.0") as server:
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, api="auto", SALESDW_SALESFORCE_API_VERSION="68.0")
        with pytest.raises(ConnectorError) as err:
            SalesforceConnector(con, s, retry=fast_retry).pull()
        assert "does not offer API version 68.0" in str(err.value)
        assert "SALESDW_SALESFORCE_API_VERSION=67.0" in str(err.value)
        con.close()


def test_both_apis_values_are_written_in_one_text():
    """REST JSON and Bulk CSV spell the same value differently; the loader knows a version by its text."""
    assert canonical_text("datetime", "2024-03-31T17:05:09.000+0000") == "2024-03-31T17:05:09.000Z"
    assert canonical_text("datetime", "2024-03-31T17:05:09.000Z") == "2024-03-31T17:05:09.000Z"
    assert canonical_text("decimal", Decimal("92932.5")) == canonical_text("decimal", "92932.50") == "92932.5"
    assert (
        canonical_text("decimal", Decimal("1.39E+9"))
        == canonical_text("decimal", "1390000000")
        == "1390000000"
    )
    assert (
        canonical_text("int", 250) == canonical_text("int", "250") == canonical_text("int", "250.0") == "250"
    )
    assert canonical_text("decimal", "100") == canonical_text("decimal", Decimal("1E+2")) == "100"
    assert (
        canonical_text("decimal", "123456789012345678901234567890.10") == "123456789012345678901234567890.1"
    )
    assert canonical_text("bool", True) == canonical_text("bool", "true") == "true"
    assert canonical_text("decimal", None) == canonical_text("decimal", "") == ""
    assert canonical_text("decimal", "12,5") == "12,5"  # not a number: left for the loader to quarantine
    assert canonical_text("str", "  Acme, Inc. ") == "  Acme, Inc. "


def test_sigkill_mid_pull_then_resume_gives_every_record_once(tmp_path, demo_landing, file_drop, fast_retry):
    """A real kill -9 of a pulling process (DuckDB recovers its WAL), then a resumed pull; OpportunityHistory,
    Contact and Lead go through Bulk API 2.0 jobs read in sets of 200, the others through REST."""
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
            "SALESDW_SALESFORCE_BULK_PAGE_SIZE": "200",
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
            while server.pages_served < 60 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert proc.poll() is None, "the pull finished before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        con = connect(tmp_path / "api.duckdb")
        before = count(con, "SELECT count(*) FROM audit.load_log")
        assert 0 < before
        SalesforceConnector(
            con,
            _settings(tmp_path, server, api="auto", SALESDW_SALESFORCE_BULK_THRESHOLD="10000"),
            retry=fast_retry,
            polling=BulkPolling(first=0.0, sleep=lambda s: None),
        ).pull()
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

        SalesforceConnector(
            con, _settings(tmp_path, server, api="rest"), retry=fast_retry, on_file=expire_once
        ).pull()
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

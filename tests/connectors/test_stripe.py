"""Stripe connector against a local Stripe API server holding the demo billing data."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime

import pytest

from ingestion.contract import BILLING_OBJECTS
from ingestion.sources._common import ConnectorError, StateStore
from ingestion.sources.stripe import StripeConnector
from ingestion.warehouse import connect
from tests.servers._base import Faults
from tests.servers.demo import batches, connector_settings, count, data_rows, diff_raw
from tests.servers.stripe_api import StripeServer

KEY = "sk_test_51Hsecretkeythatmustneverbelogged"


def _settings(tmp_path, server, lookback="60"):
    return connector_settings(
        tmp_path / "spool",
        SALESDW_STRIPE_API_BASE=server.url,
        SALESDW_STRIPE_API_KEY=KEY,
        SALESDW_STRIPE_LOOKBACK_MINUTES=lookback,
    )


def _at(stem: str) -> int:
    return int(datetime.strptime(stem[:10], "%Y-%m-%d").replace(tzinfo=UTC).timestamp())


def _apply_all(server, demo_landing):
    for stem, files in batches(demo_landing, "billing"):
        for obj, path in files:
            server.apply_jsonl(obj, path, _at(stem))


def test_incremental_pulls_equal_the_file_drop_load(tmp_path, demo_landing, file_drop, fast_retry, sleeps):
    faults = Faults(every={429: 6, 500: 11}, retry_after="3")
    with StripeServer(KEY, embed_limit=1, faults=faults) as server:
        con = connect(tmp_path / "api.duckdb")
        pages = 0
        for stem, files in batches(demo_landing, "billing"):
            for obj, path in files:
                server.apply_jsonl(obj, path, _at(stem))
            last_pull = len(server.list_params)
            pages += StripeConnector(con, _settings(tmp_path, server), retry=fast_retry).pull().pages
        fd = connect(file_drop("billing"), read_only=True)
        diff = diff_raw(con, fd, "billing")
        assert {rel: d for rel, d in diff.items() if d[2] or d[3] or d[0] != d[1]} == {}
        assert sum(d[0] for rel, d in diff.items() if not rel.endswith("__current")) == count(
            fd, "SELECT sum(rows_loaded) FROM audit.load_log"
        )
        assert count(con, "SELECT count(*) FROM audit.quarantine") == 0
        # Invoices with more than one line were completed from their lines url (embed_limit=1).
        multi = count(
            fd, "SELECT count(*) FROM raw.billing__invoice WHERE json_array_length(lines->'$.data') > 1"
        )
        assert (
            multi > 0
            and server.paths.count("/v1/subscription_items") + sum(p.endswith("/lines") for p in server.paths)
            >= multi
        )
        assert pages > 2 * len(BILLING_OBJECTS)
        assert server.statuses.count(429) >= 3 and server.statuses.count(500) >= 2
        assert sum(s >= 3.0 for s in sleeps) == server.statuses.count(429)  # Retry-After honoured
        # Once an object has a cursor, its list requests ask only for the created window, not all history.
        for name, q in server.list_params[last_pull:]:
            assert "created[gte]" in q, name
        fd.close()
        con.close()


def test_kill_mid_list_pull_resumes_where_it_stopped(tmp_path, demo_landing, file_drop, fast_retry):
    with StripeServer(KEY) as server:
        _apply_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server)
        files = []

        def die_after_commit(fr):
            files.append(fr)
            if len(files) == 4:  # committed, cursor not yet stored
                raise KeyboardInterrupt("killed")

        with pytest.raises(KeyboardInterrupt):
            StripeConnector(con, s, retry=fast_retry, on_file=die_after_commit, use_events=False).pull()
        server.faults = Faults(outage_after_pages=server.pages_served + 6)
        with pytest.raises(ConnectorError, match="resumes from there"):
            StripeConnector(con, s, retry=fast_retry, use_events=False).pull()
        st = StateStore(con, "stripe")
        interrupted = {o.name: st.get(o.name).resume for o in BILLING_OBJECTS if st.get(o.name).resume}
        assert len(interrupted) == 1, "the outage hit in the middle of a list: its resume point is stored"
        ((name, resume),) = interrupted.items()
        server.faults = Faults()
        n_before = len(server.list_params)
        StripeConnector(con, s, retry=fast_retry, use_events=False).pull()
        first = next(q for n, q in server.list_params[n_before:] if n == name)
        assert first["starting_after"] == resume["after"]  # continued after the last committed page
        assert st.get(name).resume is None
        fd = connect(file_drop("billing"), read_only=True)
        for obj in BILLING_OBJECTS:
            api = data_rows(con, f"raw.{obj.table}")
            current = data_rows(fd, f"raw.{obj.table}__current")
            if obj.name == "customers":  # Stripe does not list deleted customers; events bring those
                deleted_col = [r[0] for r in fd.execute("DESCRIBE raw.billing__customer").fetchall()].index(
                    "deleted"
                )
                current = [r for r in current if r[deleted_col] != "true"]
            assert api == current, obj.name  # every record once: no gaps, no duplicates
        fd.close()
        con.close()


def test_second_pull_gets_only_changes_and_equals_a_fresh_full_pull(tmp_path, demo_landing, fast_retry):
    with StripeServer(KEY, embed_limit=2) as server:
        _apply_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server)
        StripeConnector(con, s, retry=fast_retry).pull()
        top_invoice = max(r["created"] for r in server.store["invoices"].values())
        assert StateStore(con, "stripe").get("invoices").cursor == str(top_invoice)
        later = max(e["created"] for e in server.events) + 86400
        sub = next(r for r in server.store["subscriptions"].values() if r["status"] == "active")
        server.apply(
            "subscriptions", {**sub, "status": "canceled", "canceled_at": later, "ended_at": later}, later
        )
        inv = copy.deepcopy(next(r for r in server.store["invoices"].values() if r["lines"]["data"]))
        line = inv["lines"]["data"][0]
        inv.update(id="in_connectortest0001", created=later, status="open")
        inv["lines"]["data"] = [{**line, "id": f"il_connectortest{i}"} for i in range(5)]
        inv["lines"]["url"] = "/v1/invoices/in_connectortest0001/lines"
        server.apply("invoices", inv, later)
        n_before = len(server.list_params)
        res = StripeConnector(con, s, retry=fast_retry).pull()
        assert res.rows_loaded == 2  # the cancelled subscription and the new invoice; nothing else is new
        inv_q = [q for name, q in server.list_params[n_before:] if name == "invoices"]
        assert inv_q[0]["created[gte]"] == str(top_invoice - 3600)  # cursor minus the 60-minute look-back
        lines = con.execute(
            "SELECT json_array_length(lines->'$.data'), lines->>'$.has_more' FROM raw.billing__invoice "
            "WHERE id = 'in_connectortest0001'"
        ).fetchall()
        assert lines == [(5, "false")]
        fresh = connect(tmp_path / "fresh.duckdb")
        StripeConnector(fresh, _settings(tmp_path / "f", server), retry=fast_retry).pull()
        diff = diff_raw(con, fresh, "billing")
        assert {rel: d for rel, d in diff.items() if rel.endswith("__current") and (d[2] or d[3])} == {}
        fresh.close()
        con.close()


def test_a_future_cursor_returns_nothing_and_state_never_goes_backwards(tmp_path, demo_landing, fast_retry):
    with StripeServer(KEY) as server:
        _apply_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        st = StateStore(con, "stripe")
        future = str(4102444800)  # 2100-01-01
        for name in [o.name for o in BILLING_OBJECTS] + ["events"]:
            st.put(name, future, None, order=int)
        res = StripeConnector(con, _settings(tmp_path, server), retry=fast_retry).pull()
        assert res.records == 0 and res.files == []
        for name in [o.name for o in BILLING_OBJECTS] + ["events"]:
            assert st.get(name).cursor == future
        st.put("invoices", "1000", None, order=int)
        assert st.get("invoices").cursor == future
        con.close()


def test_rejected_key_says_what_to_do_and_is_never_logged(tmp_path, fast_retry, caplog):
    caplog.set_level(logging.DEBUG)
    with StripeServer("sk_test_other") as server:
        con = connect(tmp_path / "api.duckdb")
        with pytest.raises(ConnectorError) as err:
            StripeConnector(con, _settings(tmp_path, server), retry=fast_retry).pull()
        assert "SALESDW_STRIPE_API_KEY" in str(err.value) and "401" in str(err.value)
        assert KEY not in str(err.value) and KEY not in caplog.text
        con.close()

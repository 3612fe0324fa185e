"""Stripe connector against a local Stripe API server holding the demo billing data, in an API version before
2025-03-31.basil and in the current one (the demo writes the same account in either shape)."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime

import pytest
import requests

from ingestion.contract import BILLING_OBJECTS, object_for
from ingestion.demo.generator import generate
from ingestion.sources import stripe_versions
from ingestion.sources._common import ConnectorError, StateStore
from ingestion.sources.stripe import StripeConnector, _unexpanded_discounts
from ingestion.warehouse import connect
from tests.servers._base import Faults
from tests.servers.demo import batches, connector_settings, count, data_rows, diff_raw, file_drop_load
from tests.servers.stripe_api import StripeServer

KEY = "sk_test_51Hsecretkeythatmustneverbelogged"
OLD, CURRENT = stripe_versions.LAST_BEFORE_BASIL, stripe_versions.CURRENT


@pytest.fixture(scope="module", params=[OLD, CURRENT])
def version(request) -> str:
    """The account answers in, and the connector pins, an API version before basil or the current one."""
    return request.param


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory, version):
    """The scale-0.05 demo landing zone, billing shaped as `version` answers."""
    out = tmp_path_factory.mktemp(f"demo_{version}") / "landing"
    generate(out, scale=0.05, seed=7, stripe_api_version=version)
    return out


@pytest.fixture(scope="module")
def file_drop(tmp_path_factory, demo_landing):
    """A warehouse holding a plain file-drop load of the demo billing files."""
    built = {}

    def get(source: str):
        if source not in built:
            built[source] = tmp_path_factory.mktemp("file_drop") / f"{source}.duckdb"
            file_drop_load(demo_landing, built[source], source)
        return built[source]

    return get


def _settings(tmp_path, server, lookback="60", version=CURRENT):
    return connector_settings(
        tmp_path / "spool",
        SALESDW_STRIPE_API_BASE=server.url,
        SALESDW_STRIPE_API_KEY=KEY,
        SALESDW_STRIPE_LOOKBACK_MINUTES=lookback,
        SALESDW_STRIPE_API_VERSION=version,
    )


def _at(stem: str) -> int:
    return int(datetime.strptime(stem[:10], "%Y-%m-%d").replace(tzinfo=UTC).timestamp())


def _apply_all(server, demo_landing, version=None):
    for stem, files in batches(demo_landing, "billing"):
        for obj, path in files:
            server.apply_jsonl(obj, path, _at(stem), version)


def test_incremental_pulls_equal_the_file_drop_load(
    tmp_path, version, demo_landing, file_drop, fast_retry, sleeps
):
    faults = Faults(every={429: 6, 500: 11}, retry_after="3")
    with StripeServer(KEY, embed_limit=1, faults=faults, account_version=version) as server:
        con = connect(tmp_path / "api.duckdb")
        pages = 0
        for stem, files in batches(demo_landing, "billing"):
            for obj, path in files:
                server.apply_jsonl(obj, path, _at(stem))
            last_pull = len(server.list_params)
            pages += (
                StripeConnector(con, _settings(tmp_path, server, version=version), retry=fast_retry)
                .pull()
                .pages
            )
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
        # invoice payments exist, and are read, only from basil on
        payments = count(con, "SELECT count(*) FROM raw.billing__invoice_payment")
        assert (payments > 0) == stripe_versions.is_basil_or_later(version)
        assert ("/v1/invoice_payments" in server.paths) == stripe_versions.is_basil_or_later(version)
        assert server.statuses.count(429) >= 3 and server.statuses.count(500) >= 2
        assert sum(s >= 3.0 for s in sleeps) == server.statuses.count(429)  # Retry-After honoured
        # Once an object has a cursor, its list requests ask only for the created window, not all history.
        for name, q in server.list_params[last_pull:]:
            assert "created[gte]" in q, name
        fd.close()
        con.close()


def test_kill_mid_list_pull_resumes_where_it_stopped(tmp_path, version, demo_landing, file_drop, fast_retry):
    with StripeServer(KEY, account_version=version) as server:
        _apply_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, version=version)
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


def test_second_pull_gets_only_changes_and_equals_a_fresh_full_pull(
    tmp_path, version, demo_landing, fast_retry
):
    with StripeServer(KEY, embed_limit=2, account_version=version) as server:
        _apply_all(server, demo_landing)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, version=version)
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
        StripeConnector(fresh, _settings(tmp_path / "f", server, version=version), retry=fast_retry).pull()
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


# ------------------------------------------------------------------------------------------ API versions


def test_every_request_pins_the_version_and_each_page_records_the_answer(
    tmp_path, version, demo_landing, fast_retry
):
    with StripeServer(KEY, embed_limit=2, account_version=OLD if version == CURRENT else CURRENT) as server:
        # The account's default is the other version: only the header decides what the pull reads.
        _apply_all(server, demo_landing, version)
        con = connect(tmp_path / "api.duckdb")
        res = StripeConnector(
            con, _settings(tmp_path, server, version=version), retry=fast_retry, use_events=False
        ).pull()
        assert server.versions_asked and set(server.versions_asked) == {version}
        # Stripe (and the test server) names the version of every answer: the one asked for, else the default
        auth = {"Authorization": f"Bearer {KEY}"}
        asked = requests.get(
            f"{server.url}/v1/products", headers={**auth, "Stripe-Version": version}, timeout=10
        )
        default = requests.get(f"{server.url}/v1/products", headers=auth, timeout=10)
        assert (asked.headers["Stripe-Version"], default.headers["Stripe-Version"]) == (
            version,
            server.account_version,
        )
        pages = con.execute(
            "SELECT p.stream, p.api_version, p.records, l.rows_in, l.object FROM audit.connector_pages p "
            "JOIN audit.load_log l ON l.file = p.file ORDER BY p.file"
        ).fetchall()
        # one row per loaded page, each with the version Stripe answered in, the same file as its load-log row
        assert len(pages) == len(res.files) == count(con, "SELECT count(*) FROM audit.load_log") > 0
        assert {p[1] for p in pages} == {version}
        assert all(p[2] == p[3] and p[0] == p[4] for p in pages)
        assert ("invoice_payments" in {p[0] for p in pages}) == stripe_versions.is_basil_or_later(version)
        con.close()


def _lines(con) -> dict[str, dict]:
    """Every raw invoice line by id, as loaded (JSON parsed)."""
    out = {}
    for (lines,) in con.execute("SELECT lines FROM raw.billing__invoice__current").fetchall():
        for line in json.loads(lines)["data"]:
            out[line["id"]] = line
    return out


def _line_facts(line: dict) -> tuple:
    """What a line says in either shape: (price id, proration, subscription, subscription item)."""
    parent = (line.get("parent") or {}).get("subscription_item_details") or {}
    price = line.get("price") or ((line.get("pricing") or {}).get("price_details") or {}).get("price")
    price_id = price["id"] if isinstance(price, dict) else price
    return (
        price_id,
        bool(line.get("proration", parent.get("proration"))),
        line.get("subscription", parent.get("subscription")),
        line.get("subscription_item", parent.get("subscription_item")),
    )


def _charge_invoices(con) -> dict[str, str | None]:
    """charge id -> its invoice: charge.invoice before basil, through invoice_payments from it."""
    return dict(
        con.execute(
            """
            SELECT c.id, coalesce(c.invoice, p.invoice)
            FROM raw.billing__charge__current c
            LEFT JOIN raw.billing__invoice_payment__current p
                ON json_extract_string(p.payment, '$.payment_intent') = c.payment_intent
                OR json_extract_string(p.payment, '$.charge') = c.id
            """
        ).fetchall()
    )


@pytest.mark.parametrize(("stored", "asked"), [(OLD, CURRENT), (CURRENT, OLD)])
def test_the_server_answers_in_the_version_asked_for(tmp_path_factory, tmp_path, fast_retry, stored, asked):
    """An account whose data is in one shape, read in the other: the same lines, prices and charge links."""
    landing = tmp_path_factory.mktemp("shape") / "landing"
    generate(landing, scale=0.05, seed=7, stripe_api_version=stored)
    fd_path = tmp_path / "fd.duckdb"
    file_drop_load(landing, fd_path, "billing")
    with StripeServer(KEY, embed_limit=3, account_version=stored) as server:
        _apply_all(server, landing)
        con = connect(tmp_path / "api.duckdb")
        StripeConnector(
            con, _settings(tmp_path, server, version=asked), retry=fast_retry, use_events=False
        ).pull()
        fd = connect(fd_path, read_only=True)
        pulled, dropped = _lines(con), _lines(fd)
        assert pulled.keys() == dropped.keys() and len(pulled) > 100
        assert {k: _line_facts(v) for k, v in pulled.items()} == {
            k: _line_facts(v) for k, v in dropped.items()
        }
        basil = stripe_versions.is_basil_or_later(asked)
        assert all(("pricing" in line) == basil and ("price" in line) != basil for line in pulled.values())
        subs = "coalesce(subscription, parent->>'$.subscription_details.subscription')"
        invoice_subs = f"SELECT id, {subs} FROM raw.billing__invoice__current ORDER BY id"
        assert con.execute(invoice_subs).fetchall() == fd.execute(invoice_subs).fetchall()
        links, expected = _charge_invoices(con), _charge_invoices(fd)
        assert links == expected and sum(v is not None for v in links.values()) > 100
        fd.close()
        con.close()


def test_events_carry_objects_in_their_own_version(tmp_path_factory, tmp_path, fast_retry):
    """The account upgrades half-way; a pull pinned to the current version gets the older events' objects in
    the older shape, loads them as they are (staging reads both) and records each file's version."""
    old_landing = tmp_path_factory.mktemp("old") / "landing"
    new_landing = tmp_path_factory.mktemp("new") / "landing"
    generate(old_landing, scale=0.05, seed=7, stripe_api_version=OLD)
    generate(new_landing, scale=0.05, seed=7, stripe_api_version=CURRENT)
    old_batches, new_batches = batches(old_landing, "billing"), batches(new_landing, "billing")
    half = len(old_batches) // 2
    with StripeServer(KEY, account_version=OLD) as server:
        for stem, files in old_batches[:half]:
            for obj, path in files:
                server.apply_jsonl(obj, path, _at(stem))
        server.account_version = CURRENT  # the Dashboard upgrade
        for stem, files in new_batches[half:]:
            for obj, path in files:
                server.apply_jsonl(obj, path, _at(stem))
        con = connect(tmp_path / "api.duckdb")
        StripeConnector(con, _settings(tmp_path, server, version=CURRENT), retry=fast_retry).pull()
        assert set(server.versions_asked) == {CURRENT}
        events = con.execute(
            "SELECT p.file, p.api_version FROM audit.connector_pages p WHERE p.stream = 'events'"
        ).fetchall()
        assert {v for _, v in events} == {OLD, CURRENT}
        # each events file holds objects in the shape its recorded version has
        for file, recorded in events:
            if "/invoices/" not in file:
                continue
            rows = con.execute(
                "SELECT lines FROM raw.billing__invoice WHERE _source_file = ?", [file]
            ).fetchall()
            shapes = {"pricing" in json.loads(r[0])["data"][0] for r in rows}
            assert shapes == {stripe_versions.is_basil_or_later(recorded)}, file
        # the lists, read after the events, are in the pinned version
        lists = con.execute("SELECT DISTINCT api_version FROM audit.connector_pages WHERE stream <> 'events'")
        assert lists.fetchall() == [(CURRENT,)]
        con.close()


def test_discounts_arrive_with_their_coupons(tmp_path, fast_retry):
    """From basil on a subscription names its discounts by id: lists expand them, and a subscription from an event
    (ids only) is read once more, so the coupon's percent_off reaches raw."""
    coupon = {"id": "co_TEAM20", "object": "coupon", "percent_off": 20, "amount_off": None, "currency": None}
    discount = {"id": "di_1", "object": "discount", "coupon": coupon, "start": 1704067200, "end": None}
    sub = {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": "active",
        "created": 1704067200,
        "start_date": 1704067200,
        "currency": "usd",
        "items": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": "/v1/subscription_items?subscription=sub_1",
        },
        "discounts": ["di_1"],
        "metadata": {},
    }
    with StripeServer(KEY, account_version=CURRENT) as server:
        server.add_discount(discount)
        server.apply("subscriptions", sub, 1704067200)
        con = connect(tmp_path / "api.duckdb")
        s = _settings(tmp_path, server, version=CURRENT)
        StripeConnector(con, s, retry=fast_retry, use_events=False).pull()
        sql = "SELECT discounts FROM raw.billing__subscription__current WHERE id = 'sub_1'"
        (loaded,) = con.execute(sql).fetchone()
        assert json.loads(loaded)[0]["source"] == {"type": "coupon", "coupon": coupon}
        # an update arrives as an event, its discounts as ids: the connector reads the subscription again
        server.apply("subscriptions", {**copy.deepcopy(sub), "status": "past_due"}, 1704153600)
        StripeConnector(con, s, retry=fast_retry).pull()
        assert "/v1/subscriptions/sub_1" in server.paths
        assert con.execute(
            "SELECT status, discounts->'$[0].source.coupon.percent_off' FROM raw.billing__subscription__current "
            "WHERE id = 'sub_1'"
        ).fetchone() == ("past_due", "20")
        con.close()


def test_an_unknown_version_is_refused_before_any_request(tmp_path):
    with pytest.raises(ValueError, match="SALESDW_STRIPE_API_VERSION"):
        connector_settings(tmp_path, SALESDW_STRIPE_API_KEY=KEY, SALESDW_STRIPE_API_VERSION="latest")
    assert object_for("billing", "invoice_payments").table == "billing__invoice_payment"


def test_only_discounts_without_their_coupon_are_read_again():
    coupon = {"id": "co_1", "percent_off": 10}
    assert not _unexpanded_discounts({"discount": {"id": "di_1", "coupon": coupon}, "discounts": ["di_1"]})
    assert not _unexpanded_discounts({"discounts": []})
    assert not _unexpanded_discounts({"discounts": [{"id": "di_1", "coupon": coupon}]})  # basil
    assert not _unexpanded_discounts(
        {"discounts": [{"id": "di_1", "source": {"coupon": coupon}}]}
    )  # clover on
    assert _unexpanded_discounts({"discounts": ["di_1"]})
    assert _unexpanded_discounts(
        {"discounts": [{"id": "di_1", "source": {"type": "coupon", "coupon": "co_1"}}]}
    )

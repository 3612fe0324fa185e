"""Stripe connector: the contract's billing objects through Stripe's list API, updates through its events.

Stripe lists filter only on `created`, and most billing objects change after they are created (a
subscription is cancelled, an invoice paid, a customer deleted and then no longer listed). So a pull has
two parts per run:

1. **Events** (`/v1/events`, `created[gte]` = event cursor − look-back): each event carries the object as it
   became; the latest version per object id in the window is loaded (older versions from the same window
   would otherwise arrive after the newer one and win "later batch wins" for objects without a version
   stamp). `*.deleted` events set `deleted: true` where the contract has that flag.
2. **Lists** (`limit=100`, `created[gte]` = created cursor − look-back, `starting_after`, `has_more`): new
   objects. Lists come newest first, so the created cursor can only move when a list is finished; until
   then each committed page stores where to continue (`starting_after`), and a killed pull resumes there.

Embedded lists (`invoice.lines`, `subscription.items`) with `has_more` are completed from their `url`.
Each page is written as JSON lines and loaded by the file loader; cursors move after the load commits.

**API version.** Every request sends `Stripe-Version: SALESDW_STRIPE_API_VERSION`, so an account upgrade in the
Dashboard never changes what a pull reads. Lists answer in that version; an event's object is rendered in the
event's own `api_version` (the account's default when the event happened), so events are written one file per
version. Staging reads both shapes (before and from 2025-03-31.basil), so nothing is converted here. The version
each page was answered in (Stripe echoes it in its `Stripe-Version` response header; an event's own
`api_version` for objects from events) is recorded per loaded file in `audit.connector_pages`. From basil on,
`/v1/invoice_payments` (what links invoices to payments) is read too, and a subscription's `discounts` are
expanded to their coupons (an event's subscription, whose discounts are bare ids, is retrieved once more).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import duckdb

from ingestion.contract import BILLING_OBJECTS, SourceObject
from ingestion.loader import FileResult
from ingestion.settings import ConnectorSettings
from ingestion.sources import stripe_versions
from ingestion.sources._common import (
    ConnectorError,
    HttpClient,
    PageLog,
    PullResult,
    RetryPolicy,
    Spool,
    StateStore,
)

log = logging.getLogger(__name__)

CONNECTOR = "stripe"
EVENTS = "events"
PAGE_LIMIT = 100  # Stripe's maximum
AUTH_HINT = (
    "Set SALESDW_STRIPE_API_KEY to a secret or restricted key with read access to customers, products, prices, "
    "subscriptions, invoices (and their payments), charges, refunds and events, and run the pull again."
)

# contract folder -> (list endpoint, Stripe object type, extra list parameters)
ENDPOINTS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "customers": ("/v1/customers", "customer", ()),
    "products": ("/v1/products", "product", ()),
    "prices": ("/v1/prices", "price", ()),
    # Without status=all, Stripe lists only subscriptions that are not cancelled.
    "subscriptions": ("/v1/subscriptions", "subscription", (("status", "all"),)),
    "invoices": ("/v1/invoices", "invoice", ()),
    "charges": ("/v1/charges", "charge", ()),
    "refunds": ("/v1/refunds", "refund", ()),
    # Only from API version 2025-03-31.basil on (before it a charge names its invoice).
    "invoice_payments": ("/v1/invoice_payments", "invoice_payment", ()),
}
OBJECT_TYPE = {name: typ for name, (_, typ, _) in ENDPOINTS.items()}
FROM_BASIL = frozenset({"invoice_payments"})


def discount_expansion(api_version: str) -> str:
    """What to expand so a subscription's discounts arrive with their coupons: from basil on `discounts` are ids;
    from clover on a discount names its coupon (an id) under `source.coupon` (before, it embedded it)."""
    return "discounts.source.coupon" if stripe_versions.is_clover_or_later(api_version) else "discounts"


def _unexpanded_discounts(record: dict) -> bool:
    """True when a discount is only an id (or names its coupon by id); before basil `discount` holds the value."""
    if isinstance(record.get("discount"), dict):
        return False
    for d in record.get("discounts") or []:
        if not isinstance(d, dict):
            return True
        coupon = (d.get("source") or {}).get("coupon", d.get("coupon"))
        if not isinstance(coupon, dict):
            return True
    return False


def _int_order(value: str) -> int:
    return int(value)


class StripeConnector:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: ConnectorSettings | None = None,
        *,
        objects: Iterable[SourceObject] = BILLING_OBJECTS,
        retry: RetryPolicy | None = None,
        run_id: str | None = None,
        on_file: Callable[[FileResult], None] | None = None,
        use_events: bool = True,
    ):
        s = settings or ConnectorSettings.from_env()
        if not s.stripe_configured:
            raise ConnectorError(
                "Stripe is not configured: set SALESDW_STRIPE_API_KEY (a read-only restricted key)."
            )
        self.api_version = s.stripe_api_version
        basil = stripe_versions.is_basil_or_later(self.api_version)
        self.objects = tuple(
            o for o in objects if o.name in ENDPOINTS and (basil or o.name not in FROM_BASIL)
        )
        self.lookback = int(s.stripe_lookback_minutes * 60)
        self.use_events = use_events
        self.client = HttpClient(
            s.stripe_api_base,
            {
                "Authorization": f"Bearer {s.stripe_api_key}",
                "Accept": "application/json",
                "Stripe-Version": self.api_version,
            },
            system="Stripe",
            auth_hint=AUTH_HINT,
            retry=retry,
        )
        # The version of the last answer: Stripe names it in every response's Stripe-Version header.
        self.answered_version: str | None = None
        self.client.session.hooks["response"].append(self._note_version)
        self.state = StateStore(con, CONNECTOR)
        self.spool = Spool(con, s.spool_dir, CONNECTOR, run_id=run_id, on_file=on_file)
        self.pages = PageLog(con, CONNECTOR)

    def _note_version(self, response, *args, **kwargs) -> None:
        if response.status_code < 400:
            self.answered_version = response.headers.get("Stripe-Version") or self.api_version

    def _get(self, path: str, params) -> tuple[dict, str]:
        """A page and the API version it was answered in."""
        page = self.client.get(path, params)
        return page, self.answered_version or self.api_version

    def _load(self, obj: SourceObject, records: list[dict], stream: str, api_version: str) -> FileResult:
        fr = self.spool.load(obj, records)
        self.pages.record(stream, fr, api_version, len(records))
        return fr

    def pull(self) -> PullResult:
        result = PullResult(CONNECTOR)
        self.spool.clear_leftovers()
        if self.use_events:
            self.pull_events(result)
        for obj in self.objects:
            self.pull_list(obj, result)
        result.requests, result.retries = self.client.requests, self.client.retries
        return result

    # -- embedded lists ---------------------------------------------------------------------------
    def _complete_lists(self, obj: SourceObject, record: dict) -> None:
        for f in obj.fields:
            value = record.get(f.name)
            if f.type != "list" or not isinstance(value, dict) or not value.get("has_more"):
                continue
            if not value.get("url"):
                raise ConnectorError(
                    f"Stripe {obj.name} {record.get('id')}: {f.name} has more items but no url"
                )
            items = list(value.get("data") or [])
            while True:
                params = [("limit", PAGE_LIMIT)] + ([("starting_after", items[-1]["id"])] if items else [])
                page = self.client.get(value["url"], params)
                items.extend(page.get("data", []))
                if not page.get("has_more"):
                    break
            # Same keys, same order as Stripe's embedded list, now complete.
            value["data"] = items
            value["has_more"] = False

    def _expand_discounts(self, obj: SourceObject, record: dict) -> None:
        """An event's subscription names its discounts by id: read them once more, expanded to their coupons."""
        if obj.name != "subscriptions" or not _unexpanded_discounts(record):
            return
        try:
            fresh = self.client.get(
                f"/v1/subscriptions/{record['id']}", [("expand[]", discount_expansion(self.api_version))]
            )
        except ConnectorError as exc:
            if exc.status != 404:
                raise
            # Loaded as it came: the discounts gate on stg_billing__subscriptions counts it.
            log.warning("Stripe subscription %s: gone, its discounts stay unexpanded", record["id"])
            return
        record["discounts"] = fresh.get("discounts")

    # -- events -----------------------------------------------------------------------------------
    def pull_events(self, result: PullResult) -> None:
        wanted = {OBJECT_TYPE[o.name]: o for o in self.objects}
        stored = self.state.get(EVENTS).cursor
        params: list[tuple[str, Any]] = [("limit", PAGE_LIMIT)]
        if stored is not None:
            params.append(("created[gte]", int(stored) - self.lookback))
        latest: dict[tuple[str, str], tuple[int, int, dict, bool, str]] = {}
        top = int(stored) if stored is not None else None
        n = 0
        after = None
        while True:
            page, answered = self._get("/v1/events", params + ([("starting_after", after)] if after else []))
            result.pages += 1
            events = page.get("data", [])
            for ev in events:
                n += 1
                top = ev["created"] if top is None else max(top, ev["created"])
                data = (ev.get("data") or {}).get("object") or {}
                obj = wanted.get(data.get("object"))
                if obj is None or "id" not in data:
                    continue
                # Newest first: among equal timestamps the first seen is the later event.
                rank = (ev["created"], -n)
                key = (obj.name, data["id"])
                if key not in latest or rank > latest[key][:2]:
                    # The object is rendered in the event's version, not in the one this request asked for.
                    version = ev.get("api_version") or answered
                    latest[key] = (*rank, data, ev.get("type", "").endswith(".deleted"), version)
            if not page.get("has_more") or not events:
                break
            after = events[-1]["id"]
        by_file: dict[tuple[str, str], list[tuple[tuple[int, int], dict]]] = {}
        for (name, _), (created, neg, data, deleted, version) in latest.items():
            if deleted and any(f.name == "deleted" for f in self._obj(name).fields):
                data = {**data, "deleted": True}
            by_file.setdefault((name, version), []).append(((created, neg), data))
        for (name, version), items in sorted(by_file.items()):
            obj = self._obj(name)
            records = [d for _, d in sorted(items, key=lambda x: x[0])]
            for r in records:
                self._complete_lists(obj, r)
                if not r.get("deleted"):
                    self._expand_discounts(obj, r)
            for i in range(0, len(records), 1000):
                result.records += len(records[i : i + 1000])
                result.files.append(self._load(obj, records[i : i + 1000], EVENTS, version))
        # The whole window is re-read after a kill: events are few, and only the latest version counts.
        self.state.put(EVENTS, str(top) if top is not None else None, None, order=_int_order)

    def _obj(self, name: str) -> SourceObject:
        return next(o for o in self.objects if o.name == name)

    # -- lists ------------------------------------------------------------------------------------
    def pull_list(self, obj: SourceObject, result: PullResult) -> None:
        endpoint, _, extra = ENDPOINTS[obj.name]
        st = self.state.get(obj.name)
        if st.resume:
            gte, after, top = st.resume.get("gte"), st.resume.get("after"), st.resume.get("top")
        else:
            stored = int(st.cursor) if st.cursor is not None else None
            gte = stored - self.lookback if stored is not None else None
            after, top = None, stored
        if obj.name == "subscriptions" and stripe_versions.is_basil_or_later(self.api_version):
            extra = (*extra, ("expand[]", f"data.{discount_expansion(self.api_version)}"))
        while True:
            params: list[tuple[str, Any]] = [("limit", PAGE_LIMIT), *extra]
            if gte is not None:
                params.append(("created[gte]", gte))
            if after:
                params.append(("starting_after", after))
            try:
                page, answered = self._get(endpoint, params)
            except ConnectorError as exc:
                if after and exc.status in (400, 404) and st.resume:
                    # The object we were to continue after is gone (a deleted customer): start the window again.
                    log.warning(
                        "Stripe %s: resume point %s no longer listed; re-reading the window", obj.name, after
                    )
                    after, st.resume = None, None
                    continue
                raise
            result.pages += 1
            data = page.get("data", [])
            for r in data:
                self._complete_lists(obj, r)
            if data:
                result.records += len(data)
                result.files.append(self._load(obj, data, obj.name, answered))
                top = (
                    max(r["created"] for r in data)
                    if top is None
                    else max(top, *(r["created"] for r in data))
                )
                after = data[-1]["id"]
            if not page.get("has_more") or not data:
                self.state.put(obj.name, str(top) if top is not None else None, None, order=_int_order)
                return
            self.state.put(obj.name, st.cursor, {"gte": gte, "after": after, "top": top}, order=_int_order)


def pull_stripe(
    con: duckdb.DuckDBPyConnection, settings: ConnectorSettings | None = None, **kw
) -> PullResult:
    return StripeConnector(con, settings, **kw).pull()

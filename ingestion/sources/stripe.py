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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import duckdb

from ingestion.contract import BILLING_OBJECTS, SourceObject
from ingestion.loader import FileResult
from ingestion.settings import ConnectorSettings
from ingestion.sources._common import (
    ConnectorError,
    HttpClient,
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
    "subscriptions, invoices, charges, refunds and events, and run the pull again."
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
}
OBJECT_TYPE = {name: typ for name, (_, typ, _) in ENDPOINTS.items()}


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
        self.objects = tuple(o for o in objects if o.name in ENDPOINTS)
        self.lookback = int(s.stripe_lookback_minutes * 60)
        self.use_events = use_events
        self.client = HttpClient(
            s.stripe_api_base,
            {"Authorization": f"Bearer {s.stripe_api_key}", "Accept": "application/json"},
            system="Stripe",
            auth_hint=AUTH_HINT,
            retry=retry,
        )
        self.state = StateStore(con, CONNECTOR)
        self.spool = Spool(con, s.spool_dir, CONNECTOR, run_id=run_id, on_file=on_file)

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

    # -- events -----------------------------------------------------------------------------------
    def pull_events(self, result: PullResult) -> None:
        wanted = {OBJECT_TYPE[o.name]: o for o in self.objects}
        stored = self.state.get(EVENTS).cursor
        params: list[tuple[str, Any]] = [("limit", PAGE_LIMIT)]
        if stored is not None:
            params.append(("created[gte]", int(stored) - self.lookback))
        latest: dict[tuple[str, str], tuple[int, int, dict, bool]] = {}
        top = int(stored) if stored is not None else None
        n = 0
        after = None
        while True:
            page = self.client.get("/v1/events", params + ([("starting_after", after)] if after else []))
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
                    latest[key] = (*rank, data, ev.get("type", "").endswith(".deleted"))
            if not page.get("has_more") or not events:
                break
            after = events[-1]["id"]
        by_object: dict[str, list[tuple[tuple[int, int], dict]]] = {}
        for (name, _), (created, neg, data, deleted) in latest.items():
            if deleted and any(f.name == "deleted" for f in self._obj(name).fields):
                data = {**data, "deleted": True}
            by_object.setdefault(name, []).append(((created, neg), data))
        for name, items in by_object.items():
            obj = self._obj(name)
            records = [d for _, d in sorted(items, key=lambda x: x[0])]
            for r in records:
                self._complete_lists(obj, r)
            for i in range(0, len(records), 1000):
                result.records += len(records[i : i + 1000])
                result.files.append(self.spool.load(obj, records[i : i + 1000]))
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
        while True:
            params: list[tuple[str, Any]] = [("limit", PAGE_LIMIT), *extra]
            if gte is not None:
                params.append(("created[gte]", gte))
            if after:
                params.append(("starting_after", after))
            try:
                page = self.client.get(endpoint, params)
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
                result.files.append(self.spool.load(obj, data))
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

"""A local Stripe API (list endpoints, events, embedded-list pages) serving demo billing data in Stripe's wire format.

Lists are newest first with `limit` (max 100), `starting_after`, `has_more`, `created[gte]`; deleted
customers are not listed and subscriptions are listed without cancelled ones unless `status=all`, as
Stripe does. Every change the test applies is recorded as an event (`<type>.created/updated/deleted`,
`customer.subscription.*` for subscriptions) whose `data.object` is the object as it became.
`invoice.lines` and `subscription.items` are embedded truncated to `embed_limit` items with
`has_more: true`, the rest served from their `url`.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from ingestion.contract import SourceObject
from tests.servers._base import ApiServer, Faults

TYPES = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "charges": "charge",
    "refunds": "refund",
}
EVENT_PREFIX = {**{v: v for v in TYPES.values()}, "subscription": "customer.subscription"}


def _err(status: int, typ: str, message: str, code: str | None = None):
    body = {"error": {"type": typ, "message": message}}
    if code:
        body["error"]["code"] = code
    return status, body, {}


class StripeServer(ApiServer):
    def __init__(self, token: str, *, embed_limit: int = 10, faults: Faults | None = None):
        super().__init__(token, faults)
        self.embed_limit = embed_limit
        self.store: dict[str, dict[str, dict]] = {name: {} for name in TYPES}
        self.events: list[dict] = []
        self._evt = itertools.count(1)
        self.list_params: list[tuple[str, dict]] = []

    # -- data -------------------------------------------------------------------------------------
    def apply(self, name: str, record: dict, at: int) -> None:
        """Create or change an object at unix time `at`, recording the event Stripe would send."""
        with self.lock:
            existed = record["id"] in self.store[name]
            self.store[name][record["id"]] = record
            verb = "deleted" if record.get("deleted") else ("updated" if existed else "created")
            n = next(self._evt)
            self.events.append(
                {
                    "id": f"evt_{n:016d}",
                    "object": "event",
                    "type": f"{EVENT_PREFIX[TYPES[name]]}.{verb}",
                    "created": at,
                    "data": {"object": self._embedded(name, record)},
                    "_seq": n,
                }
            )

    def apply_jsonl(self, obj: SourceObject, path: Path, at: int) -> int:
        n = 0
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    self.apply(obj.name, json.loads(line), at)
                    n += 1
        return n

    def _embedded(self, name: str, record: dict) -> dict:
        """The object as the API shows it: long embedded lists cut to embed_limit with has_more."""
        field = {"invoices": "lines", "subscriptions": "items"}.get(name)
        value = record.get(field) if field else None
        if not isinstance(value, dict) or len(value.get("data") or []) <= self.embed_limit:
            return record
        cut = {k: v for k, v in value.items()}
        cut["data"] = value["data"][: self.embed_limit]
        cut["has_more"] = True
        return {**record, field: cut}

    # -- API --------------------------------------------------------------------------------------
    def unauthorized(self):
        return _err(401, "invalid_request_error", "Invalid API Key provided: sk_test_****")

    def fault_body(self, status: int):
        if status == 429:
            return {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests",
                }
            }
        return {"error": {"type": "api_error", "message": "An unknown error occurred"}}

    def route(self, method, path, query, headers):
        q = {k: v[-1] for k, v in query.items()}
        limit = int(q.get("limit", 10))
        if not 1 <= limit <= 100:
            return _err(400, "invalid_request_error", "limit must be between 1 and 100")
        parts = path.strip("/").split("/")
        if path == "/v1/events":
            rows = sorted(self.events, key=lambda e: (e["created"], e["_seq"]), reverse=True)
            rows = self._created(rows, q)
            return self._list(rows, q, limit, "/v1/events", strip=("_seq",))
        if len(parts) == 2 and parts[1] in TYPES:
            name = parts[1]
            self.list_params.append((name, q))
            rows = list(self.store[name].values())
            if name == "customers":
                rows = [r for r in rows if not r.get("deleted")]
            if name == "subscriptions" and q.get("status") != "all":
                rows = [r for r in rows if r.get("status") != "canceled"]
            rows.sort(key=lambda r: (r["created"], r["id"]), reverse=True)
            rows = [self._embedded(name, r) for r in self._created(rows, q)]
            return self._list(rows, q, limit, path, known=self.store[name])
        if len(parts) == 4 and parts[1] == "invoices" and parts[3] == "lines":
            inv = self.store["invoices"].get(parts[2])
            if inv is None:
                return _err(
                    404, "invalid_request_error", f"No such invoice: '{parts[2]}'", "resource_missing"
                )
            return self._list(inv["lines"]["data"], q, limit, path)
        if path == "/v1/subscription_items":
            sub = self.store["subscriptions"].get(q.get("subscription", ""))
            if sub is None:
                return _err(404, "invalid_request_error", "No such subscription", "resource_missing")
            return self._list(sub["items"]["data"], q, limit, f"{path}?subscription={sub['id']}")
        return _err(404, "invalid_request_error", f"Unrecognized request URL (GET: {path})")

    @staticmethod
    def _created(rows: list[dict], q: dict) -> list[dict]:
        if "created[gte]" in q:
            rows = [r for r in rows if r["created"] >= int(q["created[gte]"])]
        if "created[lte]" in q:
            rows = [r for r in rows if r["created"] <= int(q["created[lte]"])]
        return rows

    @staticmethod
    def _list(rows, q, limit, url, known=None, strip=()):
        start = 0
        if "starting_after" in q:
            ids = [r["id"] for r in rows]
            after = q["starting_after"]
            if after not in ids:
                return _err(400, "invalid_request_error", f"No such object: '{after}'", "resource_missing")
            start = ids.index(after) + 1
        page = rows[start : start + limit]
        if strip:
            page = [{k: v for k, v in r.items() if k not in strip} for r in page]
        body = {"object": "list", "data": page, "has_more": start + limit < len(rows), "url": url}
        return 200, body, {}

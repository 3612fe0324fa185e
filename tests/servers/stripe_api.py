"""A local Stripe API (list endpoints, events, embedded-list pages) serving demo billing data in Stripe's wire format.

Lists are newest first with `limit` (max 100), `starting_after`, `has_more`, `created[gte]`; deleted
customers are not listed and subscriptions are listed without cancelled ones unless `status=all`, as
Stripe does. Every change the test applies is recorded as an event (`<type>.created/updated/deleted`,
`customer.subscription.*` for subscriptions) whose `data.object` is the object as it became.
`invoice.lines` and `subscription.items` are embedded truncated to `embed_limit` items with
`has_more: true`, the rest served from their `url`.

API versions, as Stripe answers them: every answer is in the version the request's `Stripe-Version` header
names, else the account's default (`account_version`), and says which in its own `Stripe-Version` header. An
event's object is rendered in the account's default version when the event happened (its `api_version`),
whatever the request asks. Objects are kept in the shape they were applied in and converted when a request
asks for the other shape (before / from 2025-03-31.basil: the field moves of shared/contracts/sources.md);
`/v1/invoice_payments` answers only from basil on, synthesising an account's payments from `charge.invoice`
when its charges were applied in the older shape. A subscription's discounts are ids from basil on, expanded
with `expand[]` (`discounts`, and from 2025-09-30.clover `discounts.source.coupon` for the coupon).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from pathlib import Path

from ingestion.contract import SourceObject
from ingestion.sources import stripe_versions
from tests.servers._base import ApiServer, Faults

TYPES = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "charges": "charge",
    "refunds": "refund",
    "invoice_payments": "invoice_payment",
}
EVENT_PREFIX = {**{v: v for v in TYPES.values()}, "subscription": "customer.subscription"}
# Line fields that moved under `parent` (or, for the price, `pricing`) in basil.
LEGACY_LINE_FIELDS = (
    "price",
    "plan",
    "proration",
    "proration_details",
    "subscription",
    "subscription_item",
    "type",
)


def _err(status: int, typ: str, message: str, code: str | None = None):
    body = {"error": {"type": typ, "message": message}}
    if code:
        body["error"]["code"] = code
    return status, body, {}


class StripeServer(ApiServer):
    def __init__(
        self,
        token: str,
        *,
        embed_limit: int = 10,
        faults: Faults | None = None,
        account_version: str = stripe_versions.CURRENT,
    ):
        super().__init__(token, faults)
        self.embed_limit = embed_limit
        self.account_version = stripe_versions.check(account_version)
        self.store: dict[str, dict[str, dict]] = {name: {} for name in TYPES}
        self.basil_shaped: dict[tuple[str, str], bool] = {}  # (object, id) -> applied in the basil shape
        self.discounts: dict[str, dict] = {}  # discount id -> {id, object, coupon {...}, start, end}
        self.events: list[dict] = []
        self._evt = itertools.count(1)
        self.list_params: list[tuple[str, dict]] = []
        self.versions_asked: list[str | None] = []  # each request's Stripe-Version header

    # -- data -------------------------------------------------------------------------------------
    def apply(self, name: str, record: dict, at: int, version: str | None = None) -> None:
        """Create or change an object at unix time `at` (shaped as `version` shows it, default the account's),
        recording the event Stripe would send, rendered in the account's version of that moment."""
        with self.lock:
            existed = record["id"] in self.store[name]
            self.store[name][record["id"]] = record
            self.basil_shaped[(name, record["id"])] = stripe_versions.is_basil_or_later(
                version or self.account_version
            )
            verb = "deleted" if record.get("deleted") else ("updated" if existed else "created")
            n = next(self._evt)
            obj = self._embedded(name, self.render(name, record, self.account_version))
            self.events.append(
                {
                    "id": f"evt_{n:016d}",
                    "object": "event",
                    "api_version": self.account_version,
                    "type": f"{EVENT_PREFIX[TYPES[name]]}.{verb}",
                    "created": at,
                    "data": {"object": copy.deepcopy(obj)},
                    "_seq": n,
                }
            )

    def apply_jsonl(self, obj: SourceObject, path: Path, at: int, version: str | None = None) -> int:
        n = 0
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    self.apply(obj.name, json.loads(line), at, version)
                    n += 1
        return n

    def add_discount(self, discount: dict) -> None:
        """A discount (with its coupon embedded) that subscriptions name by id from basil on."""
        self.discounts[discount["id"]] = discount

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

    # -- versions ---------------------------------------------------------------------------------
    def render(self, name: str, record: dict, version: str, expand: tuple[str, ...] = ()) -> dict:
        """`record` as `version` shows it."""
        basil = stripe_versions.is_basil_or_later(version)
        if self.basil_shaped.get((name, record["id"]), basil) != basil:
            record = (self._to_basil if basil else self._to_legacy)(name, record)
        if name == "subscriptions" and basil:
            record = self._expand_discounts(record, version, expand)
        return record

    def _to_basil(self, name: str, record: dict) -> dict:
        out = copy.deepcopy(record)
        if name == "invoices":
            out = _replace_key(out, "subscription", "parent", _invoice_parent(record.get("subscription")))
            for gone in ("charge", "paid", "payment_intent"):
                out.pop(gone, None)
            out["lines"]["data"] = [self._line_to_basil(line) for line in record["lines"]["data"]]
        elif name == "subscriptions":
            discount = record.get("discount")
            if discount:
                self.discounts.setdefault(discount["id"], discount)
            out = _replace_key(out, "discount", "discounts", [discount["id"]] if discount else [])
            for bound in ("current_period_start", "current_period_end"):
                value = out.pop(bound, None)
                for item in out["items"]["data"]:
                    item.setdefault(bound, value)
        elif name == "charges":
            out.pop("invoice", None)
        return out

    def _to_legacy(self, name: str, record: dict) -> dict:
        out = copy.deepcopy(record)
        if name == "invoices":
            parent = record.get("parent") or {}
            sub = (parent.get("subscription_details") or {}).get("subscription")
            out = _replace_key(out, "parent", "subscription", sub)
            out["lines"]["data"] = [self._line_to_legacy(line) for line in record["lines"]["data"]]
        elif name == "subscriptions":
            ids = [d if isinstance(d, str) else d["id"] for d in record.get("discounts") or []]
            first = self.discounts.get(ids[0]) if ids else None
            out = _replace_key(out, "discounts", "discount", copy.deepcopy(first))
            items = out["items"]["data"]
            for bound in ("current_period_start", "current_period_end"):
                out[bound] = items[0].get(bound) if items else None
        elif name == "charges":
            out["invoice"] = self._invoice_paid_by(record)
        return out

    def _line_to_basil(self, line: dict) -> dict:
        price = line.get("price") or line.get("plan")
        price_id = price.get("id") if isinstance(price, dict) else price
        if isinstance(price, dict):
            product, unit = price.get("product"), price.get("unit_amount", price.get("amount"))
        else:
            known = self.store["prices"].get(price_id) or {}
            product, unit = known.get("product"), known.get("unit_amount")
        by_item = line.get("type") == "subscription" or line.get("subscription_item") is not None
        details = {
            "invoice_item": line.get("invoice_item"),
            "proration": bool(line.get("proration")),
            "proration_details": {"credited_items": None},
            "subscription": line.get("subscription"),
        }
        parent = {
            "type": "subscription_item_details" if by_item else "invoice_item_details",
            "invoice_item_details": None if by_item else details,
            "subscription_item_details": {**details, "subscription_item": line.get("subscription_item")}
            if by_item
            else None,
        }
        pricing = {
            "type": "price_details",
            "price_details": {"price": price_id, "product": product},
            "unit_amount_decimal": None if unit is None else str(unit),
        }
        out: dict = {}
        for key, value in line.items():
            if key == "price" or (key == "plan" and "price" not in line):
                out.update(parent=parent, pricing=pricing)
            elif key not in LEGACY_LINE_FIELDS:
                out[key] = value
        out.setdefault("parent", parent)
        return out

    def _line_to_legacy(self, line: dict) -> dict:
        parent = line.get("parent") or {}
        by_item = parent.get("type") == "subscription_item_details"
        details = parent.get("subscription_item_details" if by_item else "invoice_item_details") or {}
        price_id = ((line.get("pricing") or {}).get("price_details") or {}).get("price")
        if isinstance(price_id, dict):
            price_id = price_id["id"]
        out: dict = {}
        for key, value in line.items():
            if key == "parent":
                out.update(
                    price=copy.deepcopy(self.store["prices"].get(price_id, price_id)),
                    proration=bool(details.get("proration")),
                    subscription=details.get("subscription"),
                    subscription_item=details.get("subscription_item"),
                    type="subscription" if by_item else "invoiceitem",
                )
            elif key != "pricing":
                out[key] = value
        return out

    def _expand_discounts(self, record: dict, version: str, expand: tuple[str, ...]) -> dict:
        """Discount ids, or discount objects when expanded: their coupon under `coupon` before clover, under
        `source.coupon` (an id unless `...source.coupon` is expanded) from it."""
        wanted = {e.removeprefix("data.") for e in expand}
        if "discounts" not in wanted and "discounts.source.coupon" not in wanted:
            return record
        clover = stripe_versions.is_clover_or_later(version)
        out = []
        for d in record.get("discounts") or []:
            d = self.discounts[d if isinstance(d, str) else d["id"]]
            shown = {k: v for k, v in d.items() if k != "coupon"}
            if clover:
                coupon = d["coupon"] if "discounts.source.coupon" in wanted else d["coupon"]["id"]
                shown["source"] = {"type": "coupon", "coupon": copy.deepcopy(coupon)}
            else:
                shown["coupon"] = copy.deepcopy(d["coupon"])
            out.append(shown)
        return {**record, "discounts": out}

    # -- the invoice <-> charge link in both shapes --------------------------------------------------
    def _invoice_paid_by(self, charge: dict) -> str | None:
        """charge.invoice before basil: the invoice whose invoice payment names this charge or its intent."""
        for ip in self.store["invoice_payments"].values():
            payment = ip.get("payment") or {}
            if payment.get("charge") == charge["id"] or (
                charge.get("payment_intent") and payment.get("payment_intent") == charge.get("payment_intent")
            ):
                return ip["invoice"]
        return None

    def invoice_payments(self) -> list[dict]:
        """The invoice payments from basil on: those applied, and for charges applied in the older shape one per
        invoice and payment intent (or charge without one), open until a charge of it succeeded."""
        rows = list(self.store["invoice_payments"].values())
        groups: dict[tuple[str, str, str], list[dict]] = {}
        for ch in self.store["charges"].values():
            if self.basil_shaped.get(("charges", ch["id"])) or not ch.get("invoice"):
                continue
            kind, ref = (
                ("payment_intent", ch["payment_intent"]) if ch.get("payment_intent") else ("charge", ch["id"])
            )
            groups.setdefault((ch["invoice"], kind, ref), []).append(ch)
        for (invoice_id, kind, ref), charges in sorted(groups.items()):
            invoice = self.store["invoices"].get(invoice_id) or {}
            ok = sorted(c["created"] for c in charges if c.get("status") == "succeeded")
            digest = hashlib.sha1(f"{invoice_id} {ref}".encode()).hexdigest()[:24]
            rows.append(
                {
                    "id": f"inpay_{digest}",
                    "object": "invoice_payment",
                    "amount_paid": sum(c["amount"] for c in charges if c.get("status") == "succeeded")
                    if ok
                    else None,
                    "amount_requested": invoice.get("total", charges[0]["amount"]),
                    "created": min(c["created"] for c in charges),
                    "currency": charges[0]["currency"],
                    "invoice": invoice_id,
                    "is_default": True,
                    "livemode": False,
                    "payment": {"type": kind, kind: ref},
                    "status": "paid" if ok else "open",
                    "status_transitions": {"canceled_at": None, "paid_at": ok[0] if ok else None},
                }
            )
        return rows

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
        asked = headers.get("Stripe-Version")
        self.versions_asked.append(asked)
        try:
            version = stripe_versions.check(asked) if asked else self.account_version
        except ValueError:
            return _err(400, "invalid_request_error", f"Invalid Stripe API version: {asked}")
        status, body, out_headers = self._route(path, query, version)
        if status < 400:
            out_headers = {**out_headers, "Stripe-Version": version}
        return status, body, out_headers

    def _route(self, path, query, version):
        q = {k: v[-1] for k, v in query.items()}
        expand = tuple(query.get("expand[]", []))
        limit = int(q.get("limit", 10))
        if not 1 <= limit <= 100:
            return _err(400, "invalid_request_error", "limit must be between 1 and 100")
        parts = path.strip("/").split("/")
        basil = stripe_versions.is_basil_or_later(version)
        if path == "/v1/events":
            rows = sorted(self.events, key=lambda e: (e["created"], e["_seq"]), reverse=True)
            rows = self._created(rows, q)
            return self._list(rows, q, limit, "/v1/events", strip=("_seq",))
        if len(parts) == 2 and parts[1] in TYPES:
            name = parts[1]
            if name == "invoice_payments" and not basil:
                return _err(404, "invalid_request_error", f"Unrecognized request URL (GET: {path})")
            self.list_params.append((name, q))
            rows = self.invoice_payments() if name == "invoice_payments" else list(self.store[name].values())
            if name == "customers":
                rows = [r for r in rows if not r.get("deleted")]
            if name == "subscriptions" and q.get("status") != "all":
                rows = [r for r in rows if r.get("status") != "canceled"]
            rows.sort(key=lambda r: (r["created"], r["id"]), reverse=True)
            rows = [
                self._embedded(name, self.render(name, r, version, expand)) for r in self._created(rows, q)
            ]
            return self._list(rows, q, limit, path)
        if len(parts) == 3 and parts[1] == "subscriptions":
            sub = self.store["subscriptions"].get(parts[2])
            if sub is None:
                return _err(
                    404, "invalid_request_error", f"No such subscription: '{parts[2]}'", "resource_missing"
                )
            return (
                200,
                self._embedded("subscriptions", self.render("subscriptions", sub, version, expand)),
                {},
            )
        if len(parts) == 4 and parts[1] == "invoices" and parts[3] == "lines":
            inv = self.store["invoices"].get(parts[2])
            if inv is None:
                return _err(
                    404, "invalid_request_error", f"No such invoice: '{parts[2]}'", "resource_missing"
                )
            return self._list(self.render("invoices", inv, version)["lines"]["data"], q, limit, path)
        if path == "/v1/subscription_items":
            sub = self.store["subscriptions"].get(q.get("subscription", ""))
            if sub is None:
                return _err(404, "invalid_request_error", "No such subscription", "resource_missing")
            items = self.render("subscriptions", sub, version)["items"]["data"]
            return self._list(items, q, limit, f"{path}?subscription={sub['id']}")
        return _err(404, "invalid_request_error", f"Unrecognized request URL (GET: {path})")

    @staticmethod
    def _created(rows: list[dict], q: dict) -> list[dict]:
        if "created[gte]" in q:
            rows = [r for r in rows if r["created"] >= int(q["created[gte]"])]
        if "created[lte]" in q:
            rows = [r for r in rows if r["created"] <= int(q["created[lte]"])]
        return rows

    @staticmethod
    def _list(rows, q, limit, url, strip=()):
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


def _invoice_parent(subscription: str | None) -> dict | None:
    if subscription is None:
        return None
    return {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {"metadata": None, "subscription": subscription},
    }


def _replace_key(record: dict, old: str, new: str, value) -> dict:
    """`record` with `old` replaced by `new` = value at the same position (appended when `old` is absent)."""
    out = {(new if k == old else k): (value if k == old else v) for k, v in record.items()}
    out.setdefault(new, value)
    return out

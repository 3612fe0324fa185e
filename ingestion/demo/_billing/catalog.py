"""The Stripe catalog: plan products and their recurring per-seat prices in every currency and interval."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .._common import DAY, QUARTER_CUTS, Writer, batch_index, keep_last_per_batch, stripe_ids, ts_of
from .._crm import FX_LIST
from .shape import select

CUR = np.array(["usd", "eur", "gbp", "jpy"], dtype=object)
TIERS = ["Starter", "Professional", "Enterprise"]
PRODUCTS = TIERS + ["Analytics Add-on", "Implementation"]
ANNUAL_SEAT_USD = np.array([360.0, 720.0, 1200.0])
# interval code -> (Stripe interval, interval_count, months per period (0 = weekly), price factor vs annual)
INTERVALS = [
    ("month", 1, 1, 1.2 / 12),
    ("month", 3, 3, 1.1 / 4),
    ("year", 1, 12, 1.0),
    ("week", 1, 0, 1.3 / 52),
]
PRICE_RISE = ts_of("2025-01-01T09:00:00")
NEVER = np.iinfo(np.int64).max
CATALOG_CREATED = ts_of("2021-06-01T12:00:00")
PRODUCT_RENAMED = ts_of("2025-03-04T10:00:00")


def _minor(usd: np.ndarray, cur: np.ndarray) -> np.ndarray:
    local = usd * FX_LIST[cur]
    return np.where(cur == 3, np.round(local / 10) * 10, np.round(local) * 100).astype(np.int64)


def price_catalog(rng) -> tuple[dict, np.ndarray]:
    """Recurring per-seat prices for every tier x currency x interval, plus the 2025 USD monthly rise.

    Returns the prices (arrays by field) and lookup[tier, currency, interval, era] -> price index, where era 1
    is after the rise (the old price where nothing rose).
    """
    rows = []  # (tier, cur, interval, era, unit_amount, created, deactivated)
    for t in range(3):
        for c in range(4):
            for i, (_, _, _, factor) in enumerate(INTERVALS):
                if i == 3 and (t != 0 or c != 0):
                    continue  # weekly billing exists only for the self-serve USD Starter plan
                unit = int(_minor(np.array([ANNUAL_SEAT_USD[t] * factor]), np.array([c]))[0])
                rise = i == 0 and c == 0
                rows.append(
                    (t, c, i, 0, unit, CATALOG_CREATED + 60 * len(rows), PRICE_RISE if rise else NEVER)
                )
                if rise:
                    rows.append((t, c, i, 1, int(round(unit * 1.1 / 100)) * 100, PRICE_RISE, NEVER))
    cat = {
        k: np.array([r[j] for r in rows])
        for j, k in enumerate(["tier", "cur", "interval", "era", "unit", "created", "deactivated"])
    }
    cat["id"] = stripe_ids("price_", rng, len(rows), 24)
    lookup = np.full((3, 4, 4, 2), -1)
    lookup[cat["tier"], cat["cur"], cat["interval"], cat["era"]] = np.arange(len(rows))
    missing = lookup[..., 1] < 0
    lookup[..., 1][missing] = lookup[..., 0][missing]  # no rise: the old price stays current
    return cat, lookup


def write_products(w: Writer, rng) -> np.ndarray:
    """The products (one renamed in 2025); returns their ids."""
    prod_ids = stripe_ids("prod_", rng, len(PRODUCTS))
    pk = np.concatenate([np.arange(len(PRODUCTS)), [3]])
    w.con.register(
        "prod_v",
        pa.table(
            {
                "id": prod_ids[pk],
                "name": np.array(PRODUCTS + ["Analytics"], dtype=object),
                "created": np.full(len(pk), CATALOG_CREATED - DAY),
                "updated": np.concatenate([np.full(len(PRODUCTS), CATALOG_CREATED - DAY), [PRODUCT_RENAMED]]),
                "_b": batch_index(
                    np.concatenate([np.full(len(PRODUCTS), CATALOG_CREATED), [PRODUCT_RENAMED]]), QUARTER_CUTS
                ),
            }
        ),
    )
    fields = {"id": "id", "name": "name", "active": "true", "created": "created", "updated": "updated"}
    w.json_batches(
        "billing/products",
        f"SELECT {select('products', fields)}, _b FROM prod_v",
        "_b",
        QUARTER_CUTS,
        "created, id",
    )
    w.con.unregister("prod_v")
    return prod_ids


def register_prices(w: Writer, cat: dict, prod_ids: np.ndarray) -> None:
    """The prices as the table `price_s` (one row per price, by index `pidx`), which every object embedding one joins."""
    n_p = len(cat["id"])
    price_tbl = pa.table(
        {
            "pidx": np.arange(n_p),
            "id": cat["id"],
            "product": prod_ids[cat["tier"]],
            "currency": CUR[cat["cur"]],
            "unit_amount": cat["unit"],
            "interval": np.array([i[0] for i in INTERVALS], dtype=object)[cat["interval"]],
            "interval_count": np.array([i[1] for i in INTERVALS])[cat["interval"]],
            "created": cat["created"],
            "deactivated": cat["deactivated"],
            "product_name": np.array(TIERS, dtype=object)[cat["tier"]],
        }
    )
    w.con.register("price_s", price_tbl)


def write_prices(w: Writer, cat: dict) -> None:
    """A version at creation, and one when a price was deactivated (the 2025 rise)."""
    n_p = len(cat["id"])
    deact = np.nonzero(cat["deactivated"] < NEVER)[0]
    pv = np.concatenate([np.arange(n_p), deact])
    pts = np.concatenate([cat["created"], cat["deactivated"][deact]])
    pact = np.concatenate([np.ones(n_p, bool), np.zeros(len(deact), bool)])
    pb = batch_index(pts, QUARTER_CUTS)
    kk = keep_last_per_batch(pv, pts, pb)
    w.con.register("price_v", pa.table({"pidx": pv[kk], "active": pact[kk], "_b": pb[kk]}))
    fields = {
        "id": "s.id",
        "product": "s.product",
        "currency": "s.currency",
        "unit_amount": "s.unit_amount",
        "type": "'recurring'",
        "recurring": "{'interval': s.interval, 'interval_count': s.interval_count}",
        "active": "v.active",
        "created": "s.created",
    }
    sql = f"SELECT {select('prices', fields)}, v._b FROM price_v v JOIN price_s s USING (pidx)"
    w.json_batches("billing/prices", sql, "_b", QUARTER_CUTS, "created, id")
    w.con.unregister("price_v")

"""The Stripe side of the demo world: won CRM deals become customers with subscriptions that live, change and end.

Subscriptions are simulated as period grids (vectorised over all subscriptions): each period bills one
invoice, upgrades add a proration invoice, cancellations stop the grid, failed payments make invoices
uncollectible and end the subscription. Objects are then written as the versions a Stripe list sync
would have seen at each quarterly extraction.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..sources import stripe_versions
from ._common import (
    DAY,
    HOUR,
    QUARTER_CUTS,
    SPAN_END,
    Writer,
    add_months,
    batch_index,
    keep_last_per_batch,
    rng_for,
    stripe_ids,
    ts_of,
)
from ._crm import FX_LIST, WON, Crm

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


def _minor(usd: np.ndarray, cur: np.ndarray) -> np.ndarray:
    local = usd * FX_LIST[cur]
    return np.where(cur == 3, np.round(local / 10) * 10, np.round(local) * 100).astype(np.int64)


def _price_catalog(rng):
    """Recurring per-seat prices for every tier x currency x interval, plus the 2025 USD monthly rise."""
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


def _periods(anchor: np.ndarray, interval: np.ndarray, n_max: np.ndarray):
    """Period grid: rows (sub, k, start, end) for k < n_max, trimmed to periods starting before SPAN_END."""
    sub = np.repeat(np.arange(len(anchor)), n_max)
    k = np.arange(len(sub)) - np.repeat(np.cumsum(n_max) - n_max, n_max)
    months = np.array([it[2] for it in INTERVALS])[interval[sub]]
    weekly = months == 0
    start = np.where(weekly, anchor[sub] + k * 7 * DAY, add_months(anchor[sub], k * months))
    end = np.where(weekly, anchor[sub] + (k + 1) * 7 * DAY, add_months(anchor[sub], (k + 1) * months))
    keep = start < SPAN_END
    return sub[keep], k[keep], start[keep], end[keep]


def _simulate(rng, p: dict, cat: dict, lookup: np.ndarray) -> dict:
    """Lifecycle of each subscription in `p` (arrays, one entry per subscription)."""
    n = len(p["start"])
    interval = p["interval"]
    trial = p["trial"]
    anchor = np.where(trial, p["start"] + 14 * DAY, p["start"])
    months = np.array([it[2] for it in INTERVALS])[interval]
    approx = np.where(months == 0, 7, months * 28) * DAY
    n_max = np.maximum((SPAN_END - anchor) // approx + 2, 0)
    g_sub, g_k, g_start, g_end = _periods(anchor, interval, n_max)

    # cancellation request; the period it falls in decides when access ends
    years = np.maximum(SPAN_END - p["start"] - 30 * DAY, 0) / (365 * DAY)
    cancels = rng.random(n) < 1 - np.exp(-p["churn_rate"] * years)
    tq = (
        p["start"]
        + 30 * DAY
        + (rng.random(n) * np.maximum(SPAN_END - p["start"] - 30 * DAY, 1)).astype(np.int64)
    )
    cancels &= tq < SPAN_END
    invol = cancels & (p["collection"] == 0) & (rng.random(n) < 0.25)
    containing = (g_start <= tq[g_sub]) & (tq[g_sub] < g_end)
    boundary = np.full(n, NEVER)
    boundary[g_sub[containing]] = g_end[containing]
    cancels &= boundary < NEVER
    invol &= cancels & (boundary < SPAN_END)
    vol = cancels & ~invol
    ended = np.where(vol, boundary, np.where(invol, boundary + 21 * DAY, NEVER))
    canceled_at = np.where(vol, tq, np.where(invol, ended, NEVER))
    limit = np.where(vol, boundary, np.where(invol, boundary + 1, SPAN_END))
    live = g_start < limit[g_sub]
    g_sub, g_k, g_start, g_end = g_sub[live], g_k[live], g_start[live], g_end[live]
    n_per = np.bincount(g_sub, minlength=n)

    # seat/price changes: upgrades mid-period (prorated now), downgrades at a renewal
    upto = np.minimum(np.where(invol, boundary, ended), SPAN_END) - 5 * DAY
    span = upto - (anchor + 10 * DAY)
    up = (rng.random(n) < p["p_upgrade"]) & (span > DAY)
    tu = anchor + 10 * DAY + (rng.random(n) * np.maximum(span, 1)).astype(np.int64)
    tier_up = up & (p["tier"] < 2) & (interval != 3) & (rng.random(n) < 0.3)
    tier1 = np.where(tier_up, p["tier"] + 1, p["tier"])
    price0 = p["price"]
    era1 = np.where((p["cur"] == 0) & (tu >= PRICE_RISE), 1, 0)
    price1 = np.where(tier_up, lookup[tier1, p["cur"], interval, era1], price0)
    q1 = np.where(up & ~tier_up, np.ceil(p["qty"] * rng.uniform(1.2, 2.0, n)).astype(np.int64), p["qty"])
    down = ~up & (rng.random(n) < p["p_downgrade"]) & (n_per >= 3)
    k_down = 1 + (rng.random(n) * np.maximum(n_per - 2, 1)).astype(np.int64)
    q2 = np.maximum(1, np.floor(p["qty"] * rng.uniform(0.5, 0.85, n))).astype(np.int64)
    down &= q2 < p["qty"]
    k_down = np.where(down, k_down, NEVER)

    after_up = up[g_sub] & (g_start > tu[g_sub])
    g_price = np.where(after_up, price1[g_sub], price0[g_sub])
    g_qty = np.where(after_up, q1[g_sub], np.where(g_k >= k_down[g_sub], q2[g_sub], p["qty"][g_sub]))

    # invoices: trial ($0), one per period, one per upgrade (proration lines)
    tr = np.nonzero(trial)[0]
    ui = np.nonzero(up)[0]
    up_row = (g_start <= tu[g_sub]) & (tu[g_sub] < g_end) & up[g_sub]
    up_pe = np.zeros(n, np.int64)
    up_pe[g_sub[up_row]] = g_end[up_row]
    up_ps = np.zeros(n, np.int64)
    up_ps[g_sub[up_row]] = g_start[up_row]
    prev_start = np.where(g_k > 0, np.concatenate([[0], g_start[:-1]]), g_start)
    inv = {
        "sub": np.concatenate([tr, g_sub, ui]),
        "kind": np.concatenate([np.zeros(len(tr), int), np.ones(len(g_sub), int), np.full(len(ui), 2)]),
        "created": np.concatenate([p["start"][tr], g_start, tu[ui]]),
        "period_start": np.concatenate([p["start"][tr], prev_start, tu[ui]]),
        "period_end": np.concatenate([p["start"][tr], g_start, tu[ui]]),
    }
    inv["period_start"][len(tr) : len(tr) + len(g_sub)][g_k == 0] = g_start[g_k == 0]
    lines = {  # inv (local index), amount, price, qty, proration, pstart, pend, kind (0 trial 1 period 2 unused 3 remaining)
        "inv": np.concatenate(
            [
                np.arange(len(tr)),
                len(tr) + np.arange(len(g_sub)),
                len(tr) + len(g_sub) + np.arange(len(ui)),
                len(tr) + len(g_sub) + np.arange(len(ui)),
            ]
        ),
    }
    unit = cat["unit"]
    frac = (up_pe[ui] - tu[ui]) / np.maximum(up_pe[ui] - up_ps[ui], 1)
    unused = -np.round(p["qty"][ui] * unit[price0[ui]] * frac).astype(np.int64)
    remaining = np.round(q1[ui] * unit[price1[ui]] * frac).astype(np.int64)
    lines["amount"] = np.concatenate([np.zeros(len(tr), np.int64), g_qty * unit[g_price], unused, remaining])
    lines["price"] = np.concatenate([price0[tr], g_price, price0[ui], price1[ui]])
    lines["qty"] = np.concatenate([p["qty"][tr], g_qty, p["qty"][ui], q1[ui]])
    lines["kind"] = np.concatenate(
        [np.zeros(len(tr), int), np.ones(len(g_sub), int), np.full(len(ui), 2), np.full(len(ui), 3)]
    )
    lines["pstart"] = np.concatenate([p["start"][tr], g_start, tu[ui], tu[ui]])
    lines["pend"] = np.concatenate([anchor[tr], g_end, up_pe[ui], up_pe[ui]])
    lines["when"] = np.concatenate([p["start"][tr], g_start, tu[ui], tu[ui]])
    total = (
        np.bincount(lines["inv"], weights=lines["amount"], minlength=len(inv["sub"])).round().astype(np.int64)
    )
    inv["total"] = total
    # the invoice a failed payment could not collect: the one at the cancellation boundary
    inv["dunning"] = (inv["kind"] == 1) & invol[inv["sub"]] & (inv["created"] == boundary[inv["sub"]])
    return dict(
        n=n,
        anchor=anchor,
        ended=ended,
        canceled_at=canceled_at,
        tq=tq,
        vol=vol,
        invol=invol,
        boundary=boundary,
        up=up,
        tu=tu,
        price0=price0,
        price1=price1,
        q1=q1,
        down=down,
        k_down=k_down,
        q2=q2,
        g_sub=g_sub,
        g_k=g_k,
        g_start=g_start,
        g_end=g_end,
        inv=inv,
        lines=lines,
    )


def build_and_write(
    w: Writer, crm: Crm, seed: int, scale: float, stripe_api_version: str = stripe_versions.CURRENT
) -> None:
    """Write billing/<object>/ in the shape `stripe_api_version` answers in (the same account in every version)."""
    basil = stripe_versions.is_basil_or_later(stripe_api_version)
    rng = rng_for(seed, 2)
    acc, opps, ct = crm.accounts, crm.opps, crm.contacts
    cat, lookup = _price_catalog(rng)

    # ------------------------------------------------------------------ customers: one per won account
    won = np.nonzero((opps.stage == WON) & (opps.win_ts < SPAN_END))[0]
    o = won[np.lexsort((opps.win_ts[won], opps.acc[won]))]
    first = np.ones(len(o), bool)
    first[1:] = opps.acc[o][1:] != opps.acc[o][:-1]
    fo = o[first]  # each customer's first won opportunity
    n_c = len(fo)
    c_acc = opps.acc[fo]
    c_created = opps.win_ts[fo] + rng.integers(HOUR, 3 * DAY, n_c)
    keep = c_created < SPAN_END - DAY
    fo, c_acc, c_created = fo[keep], c_acc[keep], c_created[keep]
    n_c = len(fo)
    c_ids = stripe_ids("cus_", rng, n_c)
    c_cur = opps.cur[fo]
    c_linked = rng.random(n_c) >= 0.05  # the rest were created by hand without the CRM link
    c_email = ct.email[ct.start[c_acc]]
    seg = opps.seg[fo]

    # ------------------------------------------------------------------ first subscriptions
    interval = np.where(
        seg == 0,
        rng.choice(4, n_c, p=[0.75, 0.08, 0.12, 0.05]),
        np.where(seg == 1, rng.choice(3, n_c, p=[0.4, 0.15, 0.45]), rng.choice([1, 2], n_c, p=[0.15, 0.85])),
    )
    tier = opps.tier[fo]
    interval = np.where((interval == 3) & ((c_cur != 0) | (tier != 0)), 0, interval)
    era = np.where((c_cur == 0) & (c_created >= PRICE_RISE), 1, 0)
    qty = np.maximum(1, opps.seats[fo])
    p1 = dict(
        cust=np.arange(n_c),
        start=c_created,
        interval=interval,
        tier=tier,
        cur=c_cur,
        qty=qty,
        price=lookup[tier, c_cur, interval, era],
        trial=(seg < 2) & (interval == 0) & (rng.random(n_c) < 0.2),
        collection=np.where((seg == 2) | (interval == 2), 1, 0),  # 1 = send_invoice (net terms)
        churn_rate=np.array([0.35, 0.2, 0.08])[seg],
        p_upgrade=np.full(n_c, 0.25),
        p_downgrade=np.full(n_c, 0.08),
        opp=fo,
    )
    s1 = _simulate(rng, p1, cat, lookup)

    # reactivations: some voluntarily churned customers come back on a fresh subscription
    back = s1["vol"] & (rng.random(n_c) < 0.45)
    restart = s1["ended"] + rng.integers(20, 150, n_c) * DAY
    back &= restart < SPAN_END - 20 * DAY
    b = np.nonzero(back)[0]
    p2 = {k: v[b] for k, v in p1.items()}
    p2.update(
        start=restart[b],
        trial=np.zeros(len(b), bool),
        qty=np.maximum(1, np.round(p1["qty"][b] * rng.uniform(0.6, 1.0, len(b)))).astype(np.int64),
        price=lookup[
            p1["tier"][b],
            p1["cur"][b],
            p1["interval"][b],
            np.where((p1["cur"][b] == 0) & (restart[b] >= PRICE_RISE), 1, 0),
        ],
        churn_rate=np.full(len(b), 0.1),
        p_upgrade=np.full(len(b), 0.1),
        p_downgrade=np.zeros(len(b)),
        opp=np.full(len(b), -1),
    )
    s2 = _simulate(rng, p2, cat, lookup)

    # ------------------------------------------------------------------ merge both generations
    def cat2(a, b_):
        return np.concatenate([a, b_])

    n1, n2 = s1["n"], s2["n"]
    P = {k: cat2(p1[k], p2[k]) for k in p1}
    S = {
        k: cat2(s1[k], s2[k])
        for k in (
            "anchor",
            "ended",
            "canceled_at",
            "tq",
            "vol",
            "invol",
            "boundary",
            "up",
            "tu",
            "price0",
            "price1",
            "q1",
            "down",
            "k_down",
            "q2",
        )
    }
    g_sub = cat2(s1["g_sub"], s2["g_sub"] + n1)
    g_start = cat2(s1["g_start"], s2["g_start"])
    g_end = cat2(s1["g_end"], s2["g_end"])
    g_k = cat2(s1["g_k"], s2["g_k"])
    n_s = n1 + n2
    inv = {k: cat2(s1["inv"][k], s2["inv"][k]) for k in s1["inv"]}
    inv["sub"][len(s1["inv"]["sub"]) :] += n1
    lines = {k: cat2(s1["lines"][k], s2["lines"][k]) for k in s1["lines"]}
    lines["inv"][len(s1["lines"]["inv"]) :] += len(s1["inv"]["sub"])
    s_ids = stripe_ids("sub_", rng, n_s)
    si_ids = stripe_ids("si_", rng, n_s)

    # ------------------------------------------------------------------ payments
    n_i = len(inv["sub"])
    cust_of_inv = P["cust"][inv["sub"]]
    coll = P["collection"][inv["sub"]]
    created = inv["created"]
    zero = inv["total"] <= 0
    dunning = inv["dunning"]
    late = coll == 1
    first_fail = ~late & ~zero & ~dunning & (rng.random(n_i) < 0.05)
    void = ~late & ~zero & ~dunning & ~first_fail & (inv["kind"] == 1) & (rng.random(n_i) < 0.006)
    paid_at = np.where(
        zero,
        created,
        np.where(
            late,
            created + rng.integers(3, 45, n_i) * DAY + np.where(rng.random(n_i) < 0.03, 40 * DAY, 0),
            np.where(
                first_fail,
                created + rng.integers(1, 6, n_i) * DAY + rng.integers(0, 6 * HOUR, n_i),
                created + rng.integers(60, HOUR, n_i),
            ),
        ),
    )
    paid_at = np.where(dunning | void, NEVER, paid_at)
    void_at = np.where(void, created + rng.integers(1, 3, n_i) * DAY, NEVER)
    uncol_at = np.where(dunning, created + 21 * DAY, NEVER)
    # a voided invoice is replaced by a corrected one for the same period
    vi = np.nonzero(void & (void_at < SPAN_END))[0]
    repl = {k: v[vi] for k, v in inv.items()}
    repl["created"] = void_at[vi] + HOUR
    for k in inv:
        inv[k] = cat2(inv[k], repl[k])
    vline = np.isin(lines["inv"], vi)
    remap = np.full(n_i, -1)
    remap[vi] = n_i + np.arange(len(vi))
    lines = {k: cat2(v, v[vline]) for k, v in lines.items()}
    lines["inv"][len(vline) :] = remap[lines["inv"][len(vline) :]]
    paid_at = cat2(paid_at, repl["created"] + rng.integers(60, HOUR, len(vi)))
    void_at = cat2(void_at, np.full(len(vi), NEVER))
    uncol_at = cat2(uncol_at, np.full(len(vi), NEVER))
    first_fail = cat2(first_fail, np.zeros(len(vi), bool))
    dunning = cat2(dunning, np.zeros(len(vi), bool))
    cust_of_inv = cat2(cust_of_inv, cust_of_inv[vi])
    n_i = len(inv["sub"])
    keep_inv = inv["created"] < SPAN_END
    i_ids = stripe_ids("in_", rng, n_i)

    # charges: failed attempts, then the successful one
    chg_inv, chg_ts, chg_ok = [], [], []
    ff = np.nonzero(first_fail)[0]
    chg_inv.append(ff), chg_ts.append(inv["created"][ff] + 30 * 60), chg_ok.append(np.zeros(len(ff), bool))
    du = np.nonzero(dunning)[0]
    for off in (HOUR, 3 * DAY, 5 * DAY, 7 * DAY):
        chg_inv.append(du), chg_ts.append(inv["created"][du] + off), chg_ok.append(np.zeros(len(du), bool))
    ok = np.nonzero((paid_at < NEVER) & (inv["total"] > 0))[0]
    chg_inv.append(ok), chg_ts.append(paid_at[ok]), chg_ok.append(np.ones(len(ok), bool))
    ch_inv = np.concatenate(chg_inv)
    ch_ts = np.concatenate(chg_ts)
    ch_ok = np.concatenate(chg_ok)
    live = (ch_ts < SPAN_END) & keep_inv[ch_inv]
    ch_inv, ch_ts, ch_ok = ch_inv[live], ch_ts[live], ch_ok[live]
    o = np.lexsort((ch_ts, ch_inv))
    ch_inv, ch_ts, ch_ok = ch_inv[o], ch_ts[o], ch_ok[o]
    n_ch = len(ch_inv)
    ch_ids = stripe_ids("ch_", rng, n_ch)
    ch_amt = inv["total"][ch_inv]
    refund = ch_ok & (rng.random(n_ch) < 0.02)
    rf_ts = ch_ts + rng.integers(1, 30, n_ch) * DAY + rng.integers(0, DAY, n_ch)
    refund &= rf_ts < SPAN_END
    full = rng.random(n_ch) < 0.55
    rf_amt = np.where(
        full, ch_amt, np.maximum(1, np.round(ch_amt * rng.uniform(0.1, 0.5, n_ch))).astype(np.int64)
    )

    # ------------------------------------------------------------------ customer versions (and deletes)
    gone = S["vol"][:n1] & ~back & (rng.random(n1) < 0.25)
    del_ts = S["ended"][:n1] + rng.integers(30, 120, n1) * DAY
    gone &= del_ts < SPAN_END
    ck = np.concatenate([np.arange(n_c), np.nonzero(gone)[0]])
    cts = np.concatenate([c_created, del_ts[gone]])
    acc_id = np.where(c_linked, acc.ids[c_acc], None)
    cdel = np.concatenate([np.zeros(n_c, bool), np.ones(gone.sum(), bool)])
    cb = batch_index(cts, QUARTER_CUTS)
    kk = keep_last_per_batch(ck, cts, cb)
    ck, cdel, cb = ck[kk], cdel[kk], cb[kk]
    con = w.con
    con.register(
        "cust_v",
        pa.table(
            {
                "id": c_ids[ck],
                "created": c_created[ck],
                "email": c_email[ck].astype(object),
                "name": acc.name[c_acc][ck],
                "currency": CUR[c_cur][ck],
                "sf": acc_id[ck],
                "deleted": cdel,
                "_b": cb,
            }
        ),
    )
    w.json_batches(
        "billing/customers",
        """
        SELECT id, 'customer' AS object, created, email, name, currency,
               CASE WHEN sf IS NULL THEN MAP([]::VARCHAR[], []::VARCHAR[])
                    ELSE MAP(['salesforce_account_id'], [sf]) END AS metadata,
               deleted, _b FROM cust_v""",
        "_b",
        QUARTER_CUTS,
        "created, id",
    )

    # ------------------------------------------------------------------ products and prices
    prod_ids = stripe_ids("prod_", rng, len(PRODUCTS))
    renamed = ts_of("2025-03-04T10:00:00")
    pk = np.concatenate([np.arange(len(PRODUCTS)), [3]])
    con.register(
        "prod_v",
        pa.table(
            {
                "id": prod_ids[pk],
                "name": np.array(PRODUCTS + ["Analytics"], dtype=object),
                "created": np.full(len(pk), CATALOG_CREATED - DAY),
                "updated": np.concatenate([np.full(len(PRODUCTS), CATALOG_CREATED - DAY), [renamed]]),
                "_b": batch_index(
                    np.concatenate([np.full(len(PRODUCTS), CATALOG_CREATED), [renamed]]), QUARTER_CUTS
                ),
            }
        ),
    )
    w.json_batches(
        "billing/products",
        """
        SELECT id, 'product' AS object, name, true AS active, created, updated, _b FROM prod_v""",
        "_b",
        QUARTER_CUTS,
        "created, id",
    )

    n_p = len(cat["id"])
    deact = np.nonzero(cat["deactivated"] < NEVER)[0]
    pv = np.concatenate([np.arange(n_p), deact])
    pts = np.concatenate([cat["created"], cat["deactivated"][deact]])
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
    con.register("price_s", price_tbl)
    pact = np.concatenate([np.ones(n_p, bool), np.zeros(len(deact), bool)])
    pb = batch_index(pts, QUARTER_CUTS)
    kk = keep_last_per_batch(pv, pts, pb)
    con.register("price_v", pa.table({"pidx": pv[kk], "active": pact[kk], "_b": pb[kk]}))
    w.json_batches(
        "billing/prices",
        """
        SELECT s.id, 'price' AS object, s.product, s.currency, s.unit_amount, 'recurring' AS type,
               {'interval': s.interval, 'interval_count': s.interval_count} AS recurring, v.active, s.created, v._b
        FROM price_v v JOIN price_s s USING (pidx)""",
        "_b",
        QUARTER_CUTS,
        "created, id",
    )

    # ------------------------------------------------------------------ subscription versions at each cut
    cuts = QUARTER_CUTS
    n_cut = len(cuts)
    t = np.minimum(cuts[None, :] - 1, np.minimum(S["ended"], SPAN_END)[:, None] - 1)  # (sub, cut) instant
    exists = P["start"][:, None] < cuts[None, :]
    key = g_sub.astype(np.int64) * (1 << 34) + g_start
    pos = np.searchsorted(key, (np.arange(n_s)[:, None] * (1 << 34) + t).ravel(), side="right") - 1
    pos = np.clip(pos, 0, max(len(key) - 1, 0)).reshape(n_s, n_cut)
    in_grid = (
        (g_sub[pos] == np.arange(n_s)[:, None]) & (g_start[pos] <= t) if len(key) else np.zeros_like(t, bool)
    )
    trialing = P["trial"][:, None] & (t < S["anchor"][:, None])
    cps = np.where(trialing | ~in_grid, P["start"][:, None], g_start[pos])
    cpe = np.where(trialing | ~in_grid, S["anchor"][:, None], g_end[pos])
    cut_b = cuts[None, :]
    ended_now = S["ended"][:, None] < cut_b
    past_due = S["invol"][:, None] & (S["boundary"][:, None] < cut_b) & ~ended_now
    status = np.where(ended_now, 3, np.where(trialing, 0, np.where(past_due, 2, 1)))
    upgraded = S["up"][:, None] & (S["tu"][:, None] < cut_b)
    downed = S["down"][:, None] & in_grid & (g_k[pos] >= S["k_down"][:, None])
    s_price = np.where(upgraded, S["price1"][:, None], S["price0"][:, None])
    s_qty = np.where(upgraded, S["q1"][:, None], np.where(downed, S["q2"][:, None], P["qty"][:, None]))
    canceled = np.where(S["canceled_at"][:, None] < cut_b, S["canceled_at"][:, None], -1)
    cancel_at = np.where(S["vol"][:, None] & (S["tq"][:, None] < cut_b), S["boundary"][:, None], -1)
    ended_at = np.where(ended_now, S["ended"][:, None], -1)
    state = np.stack([status, s_price, s_qty, cps, cpe, canceled, cancel_at, ended_at], axis=2)
    prev = np.concatenate([np.full((n_s, 1, state.shape[2]), -2), state[:, :-1]], axis=1)
    prev_exists = np.concatenate([np.zeros((n_s, 1), bool), exists[:, :-1]], axis=1)
    emit = exists & (~prev_exists | (state != prev).any(axis=2))
    es, ec = np.nonzero(emit)
    opp_meta = np.where(P["opp"] >= 0, crm.opps.ids[np.maximum(P["opp"], 0)], None)
    opp_meta = np.where(c_linked[P["cust"]], opp_meta, None)
    st = state[es, ec]
    con.register(
        "sub_v",
        pa.table(
            {
                "id": s_ids[es],
                "customer": c_ids[P["cust"][es]],
                "status": np.array(["trialing", "active", "past_due", "canceled"], dtype=object)[st[:, 0]],
                "created": P["start"][es],
                "start_date": P["start"][es],
                "canceled_at": pa.array(st[:, 5], mask=st[:, 5] < 0),
                "ended_at": pa.array(st[:, 7], mask=st[:, 7] < 0),
                "cancel_at": pa.array(st[:, 6], mask=st[:, 6] < 0),
                "trial_start": pa.array(P["start"][es], mask=~P["trial"][es]),
                "trial_end": pa.array(S["anchor"][es], mask=~P["trial"][es]),
                "currency": CUR[P["cur"][es]],
                "si": si_ids[es],
                "pidx": st[:, 1],
                "qty": st[:, 2],
                "cps": st[:, 3],
                "cpe": st[:, 4],
                "opp": opp_meta[es],
                "_b": ec,
                "_cut": cuts[ec],
            }
        ),
    )
    w.json_batches(
        "billing/subscriptions",
        f"""
        SELECT v.id, 'subscription' AS object, v.customer, v.status, v.created, v.start_date, v.canceled_at,
               v.ended_at, v.cancel_at, v.trial_start, v.trial_end, v.currency,
               {{'object': 'list',
                 'data': [{{'id': v.si, 'object': 'subscription_item', 'price': {_price_struct("p", "v._cut")},
                            'quantity': v.qty, 'current_period_start': v.cps, 'current_period_end': v.cpe}}],
                 'has_more': false, 'url': '/v1/subscription_items?subscription=' || v.id}} AS items,
               {"[]::VARCHAR[] AS discounts" if basil else "NULL AS discount"},
               CASE WHEN v.opp IS NULL THEN MAP([]::VARCHAR[], []::VARCHAR[])
                    ELSE MAP(['salesforce_opportunity_id'], [v.opp]) END AS metadata, v._b
        FROM sub_v v JOIN price_s p ON p.pidx = v.pidx""",
        "_b",
        cuts,
        "created, id",
    )

    # ------------------------------------------------------------------ invoice versions
    status_at = np.where(
        void_at[:, None] < cut_b,
        4,
        np.where(paid_at[:, None] < cut_b, 2, np.where(uncol_at[:, None] < cut_b, 3, 1)),
    )
    i_exists = inv["created"][:, None] < cut_b
    i_prev = np.concatenate([np.full((n_i, 1), -1), status_at[:, :-1]], axis=1)
    i_prev_exists = np.concatenate([np.zeros((n_i, 1), bool), i_exists[:, :-1]], axis=1)
    ie, ic = np.nonzero(i_exists & (~i_prev_exists | (status_at != i_prev)))
    ist = status_at[ie, ic]
    con.register(
        "inv_v",
        pa.table(
            {
                "iidx": ie,
                "id": i_ids[ie],
                "customer": c_ids[cust_of_inv[ie]],
                "subscription": s_ids[inv["sub"][ie]],
                "status": np.array(["draft", "open", "paid", "uncollectible", "void"], dtype=object)[ist],
                "created": inv["created"][ie],
                "period_start": inv["period_start"][ie],
                "period_end": inv["period_end"][ie],
                "currency": CUR[P["cur"][inv["sub"][ie]]],
                "total": inv["total"][ie],
                "paid_at": pa.array(paid_at[ie], mask=ist != 2),
                "_b": ic,
            }
        ),
    )
    n_l = len(lines["inv"])
    con.register(
        "line_s",
        pa.table(
            {
                "iidx": lines["inv"],
                "seq": np.arange(n_l),
                "id": stripe_ids("il_", rng, n_l),
                "amount": lines["amount"],
                "pidx": lines["price"],
                "qty": lines["qty"],
                "kind": lines["kind"],
                "ps": lines["pstart"],
                "pe": lines["pend"],
                "when": lines["when"],
                "sub": s_ids[inv["sub"][lines["inv"]]],
                "si": si_ids[inv["sub"][lines["inv"]]],
            }
        ),
    )
    w.json_batches(
        "billing/invoices",
        f"""
        WITH l AS (
            SELECT l.iidx, list({{'id': l.id, 'object': 'line_item', 'amount': l.amount, 'currency': p.currency,
                    'period': {{'start': l.ps, 'end': l.pe}}, {_line_price_and_parent(basil)},
                    'quantity': l.qty,
                    'description': CASE l.kind
                        WHEN 0 THEN 'Trial period for ' || p.product_name
                        WHEN 1 THEN l.qty || ' × ' || p.product_name || ' (at ' || {_money_sql("p")} || ' / '
                                    || CASE WHEN p.interval_count = 1 THEN p.interval
                                            ELSE p.interval_count || ' ' || p.interval || 's' END || ')'
                        WHEN 2 THEN 'Unused time on ' || l.qty || ' × ' || p.product_name || ' after '
                                    || strftime(make_timestamp(l.ps * 1000000), '%d %b %Y')
                        ELSE 'Remaining time on ' || l.qty || ' × ' || p.product_name || ' after '
                                    || strftime(make_timestamp(l.ps * 1000000), '%d %b %Y') END}}
                    ORDER BY l.seq) AS data
            FROM line_s l JOIN price_s p USING (pidx) GROUP BY l.iidx)
        SELECT v.id, 'invoice' AS object, v.customer, {_invoice_subscription(basil)}, v.status, v.created,
               v.period_start,
               v.period_end, v.currency, v.total AS subtotal, v.total, v.total AS amount_due,
               CASE WHEN v.status = 'paid' THEN v.total ELSE 0 END AS amount_paid,
               {{'object': 'list', 'data': l.data, 'has_more': false,
                 'url': '/v1/invoices/' || v.id || '/lines'}} AS lines,
               {{'paid_at': v.paid_at}} AS status_transitions, v._b
        FROM inv_v v JOIN l USING (iidx)""",
        "_b",
        cuts,
        "created, id",
    )

    # ------------------------------------------------------------------ charges (versions: refund) and refunds
    cv = np.concatenate([np.arange(n_ch), np.nonzero(refund)[0]])
    cv_ts = np.concatenate([ch_ts, rf_ts[refund]])
    cv_ref = np.concatenate([np.zeros(n_ch, np.int64), rf_amt[refund]])
    cb = batch_index(cv_ts, cuts)
    keep = keep_last_per_batch(cv, cv_ts, cb)
    cv, cv_ref, cb = cv[keep], cv_ref[keep], cb[keep]
    # Every invoice billing money gets a payment intent at finalization; its charges are the attempts to pay it.
    # Drawn from their own stream, so both API versions describe the same account with the same ids.
    pay_rng = rng_for(seed, 3)
    pi_ids = stripe_ids("pi_", pay_rng, n_i, 24)
    inpay_ids = stripe_ids("inpay_", pay_rng, n_i, 24)
    charge_link = "payment_intent" if basil else "invoice"  # charge.invoice is gone from basil on
    con.register(
        "charge_v",
        pa.table(
            {
                "id": ch_ids[cv],
                "customer": c_ids[cust_of_inv[ch_inv[cv]]],
                charge_link: (pi_ids if basil else i_ids)[ch_inv[cv]],
                "amount": ch_amt[cv],
                "amount_refunded": cv_ref,
                "currency": CUR[P["cur"][inv["sub"][ch_inv[cv]]]],
                "status": np.where(ch_ok[cv], "succeeded", "failed").astype(object),
                "paid": ch_ok[cv],
                "refunded": (cv_ref == ch_amt[cv]) & (cv_ref > 0),
                "created": ch_ts[cv],
                "_b": cb,
            }
        ),
    )
    w.json_batches(
        "billing/charges",
        f"""
        SELECT id, 'charge' AS object, customer, {"" if basil else "invoice, "}amount, amount_refunded, currency,
               status, paid, refunded, created, {"payment_intent, " if basil else ""}_b FROM charge_v""",
        "_b",
        cuts,
        "created, id",
    )
    if basil:
        _write_invoice_payments(
            w, inv, i_ids, pi_ids, inpay_ids, CUR[P["cur"][inv["sub"]]], paid_at, void_at, cuts
        )
    ri = np.nonzero(refund)[0]
    con.register(
        "refund_v",
        pa.table(
            {
                "id": stripe_ids("re_", rng, len(ri), 24),
                "charge": ch_ids[ri],
                "amount": rf_amt[ri],
                "currency": CUR[P["cur"][inv["sub"][ch_inv[ri]]]],
                "reason": np.array(["requested_by_customer", "duplicate", "fraudulent"], dtype=object)[
                    rng.choice(3, len(ri), p=[0.75, 0.17, 0.08])
                ],
                "created": rf_ts[ri],
                "_b": batch_index(rf_ts[ri], cuts),
            }
        ),
    )
    w.json_batches(
        "billing/refunds",
        """
        SELECT id, 'refund' AS object, charge, amount, currency, 'succeeded' AS status, reason, created, _b
        FROM refund_v""",
        "_b",
        cuts,
        "created, id",
    )
    for t_ in ("cust_v", "prod_v", "price_s", "price_v", "sub_v", "inv_v", "line_s", "charge_v", "refund_v"):
        con.unregister(t_)


def _price_struct(p: str, at: str) -> str:
    return (
        f"{{'id': {p}.id, 'object': 'price', 'product': {p}.product, 'currency': {p}.currency, "
        f"'unit_amount': {p}.unit_amount, 'type': 'recurring', "
        f"'recurring': {{'interval': {p}.interval, 'interval_count': {p}.interval_count}}, "
        f"'active': {p}.deactivated > {at} - 1, 'created': {p}.created}}"
    )


def _money_sql(p: str) -> str:
    return (
        f"CASE {p}.currency WHEN 'jpy' THEN '¥' || format('{{:,}}', {p}.unit_amount) "
        f"ELSE CASE {p}.currency WHEN 'usd' THEN '$' WHEN 'eur' THEN '€' ELSE '£' END "
        f"|| printf('%.2f', {p}.unit_amount / 100.0) END"
    )


def _write_invoice_payments(w, inv, i_ids, pi_ids, inpay_ids, currency, paid_at, void_at, cuts) -> None:
    """One invoice_payment per invoice billing money (API versions from basil on), paying it through the invoice's
    payment intent: open until the invoice is paid (then paid) or voided (then canceled); a version per change."""
    n_i = len(i_ids)
    cut_b = cuts[None, :]
    status = np.where(void_at[:, None] < cut_b, 2, np.where(paid_at[:, None] < cut_b, 1, 0))
    exists = (inv["created"][:, None] < cut_b) & (inv["total"] > 0)[:, None]
    prev = np.concatenate([np.full((n_i, 1), -1), status[:, :-1]], axis=1)
    prev_exists = np.concatenate([np.zeros((n_i, 1), bool), exists[:, :-1]], axis=1)
    ie, ic = np.nonzero(exists & (~prev_exists | (status != prev)))
    st = status[ie, ic]
    w.con.register(
        "inpay_v",
        pa.table(
            {
                "id": inpay_ids[ie],
                "invoice": i_ids[ie],
                "status": np.array(["open", "paid", "canceled"], dtype=object)[st],
                "amount_paid": pa.array(inv["total"][ie], mask=st != 1),
                "amount_requested": inv["total"][ie],
                "currency": currency[ie],
                "pi": pi_ids[ie],
                "paid_at": pa.array(paid_at[ie], mask=st != 1),
                "canceled_at": pa.array(void_at[ie], mask=st != 2),
                "created": inv["created"][ie],
                "_b": ic,
            }
        ),
    )
    w.json_batches(
        "billing/invoice_payments",
        """
        SELECT id, 'invoice_payment' AS object, amount_paid, amount_requested, created, currency, invoice,
               {'type': 'payment_intent', 'payment_intent': pi} AS payment, status,
               {'canceled_at': canceled_at, 'paid_at': paid_at} AS status_transitions, _b
        FROM inpay_v""",
        "_b",
        cuts,
        "created, id",
    )
    w.con.unregister("inpay_v")


def _line_price_and_parent(basil: bool) -> str:
    """An invoice line's price and what generated it (a subscription item), as the API version shows them.

    Before basil: the price expanded on `price`, and `proration`, `subscription`, `subscription_item`, `type` on the
    line. From basil on: `pricing.price_details.price` (an id) and `parent.subscription_item_details`
    (https://docs.stripe.com/changelog/basil/2025-03-31/invoice-pricing-configurations and
    .../adds-new-parent-field-to-invoicing-objects).
    """
    if not basil:
        price = _price_struct("p", 'l."when" + 1')
        return (
            f"'price': {price}, 'proration': l.kind >= 2, "
            "'subscription': l.sub, 'subscription_item': l.si, 'type': 'subscription'"
        )
    return (
        "'parent': {'type': 'subscription_item_details', 'invoice_item_details': NULL, "
        "'subscription_item_details': {'invoice_item': NULL, 'proration': l.kind >= 2, "
        "'proration_details': {'credited_items': NULL}, 'subscription': l.sub, 'subscription_item': l.si}}, "
        "'pricing': {'type': 'price_details', 'price_details': {'price': p.id, 'product': p.product}, "
        "'unit_amount_decimal': CAST(p.unit_amount AS VARCHAR)}"
    )


def _invoice_subscription(basil: bool) -> str:
    """The invoice's subscription: `subscription` before basil, `parent.subscription_details` from it."""
    if not basil:
        return "v.subscription"
    return (
        "{'type': 'subscription_details', 'quote_details': NULL, "
        "'subscription_details': {'metadata': NULL, 'subscription': v.subscription}} AS parent"
    )

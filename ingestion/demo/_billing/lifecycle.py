"""Subscriptions simulated as period grids, vectorised over all subscriptions of a generation.

Each period bills one invoice, an upgrade adds a proration invoice, a cancellation stops the grid, and a
failed payment leaves the invoice uncollectible and ends the subscription.
"""

from __future__ import annotations

import numpy as np

from .._common import DAY, SPAN_END, add_months, stripe_ids
from .catalog import INTERVALS, NEVER, PRICE_RISE

# Per-subscription results of `simulate` that the writers need, beside the grid, invoices and lines.
STATE = (
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


def simulate(rng, p: dict, cat: dict, lookup: np.ndarray) -> dict:
    """Lifecycle of each subscription in `p` (arrays, one entry per subscription)."""
    anchor = np.where(p["trial"], p["start"] + 14 * DAY, p["start"])
    months = np.array([it[2] for it in INTERVALS])[p["interval"]]
    approx = np.where(months == 0, 7, months * 28) * DAY
    n_max = np.maximum((SPAN_END - anchor) // approx + 2, 0)
    s = _cancellations(rng, p, *_periods(anchor, p["interval"], n_max))
    s.update(_changes(rng, p, s, anchor, lookup))
    inv, lines = _invoices(p, s, anchor, cat["unit"])
    return dict(n=len(p["start"]), anchor=anchor, **s, inv=inv, lines=lines)


def merge(rng, p1: dict, s1: dict, p2: dict, s2: dict) -> dict:
    """Both generations (first subscriptions, reactivations) as one: indices of the second shifted past the first.

    Returns the plans `P`, the state `S`, the grid `g_*`, `inv`, `lines`, and subscription and item ids.
    """
    n1 = s1["n"]
    out = {
        "P": {k: np.concatenate([p1[k], p2[k]]) for k in p1},
        "S": {k: np.concatenate([s1[k], s2[k]]) for k in STATE},
        "g_sub": np.concatenate([s1["g_sub"], s2["g_sub"] + n1]),
        "g_start": np.concatenate([s1["g_start"], s2["g_start"]]),
        "g_end": np.concatenate([s1["g_end"], s2["g_end"]]),
        "g_k": np.concatenate([s1["g_k"], s2["g_k"]]),
        "n1": n1,
        "n": n1 + s2["n"],
    }
    inv = {k: np.concatenate([s1["inv"][k], s2["inv"][k]]) for k in s1["inv"]}
    inv["sub"][len(s1["inv"]["sub"]) :] += n1
    lines = {k: np.concatenate([s1["lines"][k], s2["lines"][k]]) for k in s1["lines"]}
    lines["inv"][len(s1["lines"]["inv"]) :] += len(s1["inv"]["sub"])
    out.update(inv=inv, lines=lines)
    out["s_ids"] = stripe_ids("sub_", rng, out["n"])
    out["si_ids"] = stripe_ids("si_", rng, out["n"])
    return out


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


def _cancellations(rng, p: dict, g_sub, g_k, g_start, g_end) -> dict:
    """Cancellation requests; the period a request falls in decides when access ends. Trims the grid to it."""
    n = len(p["start"])
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
    return dict(
        tq=tq,
        vol=vol,
        invol=invol,
        boundary=boundary,
        ended=ended,
        canceled_at=canceled_at,
        g_sub=g_sub[live],
        g_k=g_k[live],
        g_start=g_start[live],
        g_end=g_end[live],
    )


def _changes(rng, p: dict, s: dict, anchor: np.ndarray, lookup: np.ndarray) -> dict:
    """Seat and price changes: upgrades mid-period (prorated at once), downgrades at a renewal."""
    n = len(p["start"])
    interval = p["interval"]
    n_per = np.bincount(s["g_sub"], minlength=n)
    upto = np.minimum(np.where(s["invol"], s["boundary"], s["ended"]), SPAN_END) - 5 * DAY
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
    return dict(up=up, tu=tu, price0=price0, price1=price1, q1=q1, down=down, k_down=k_down, q2=q2)


def _invoices(p: dict, s: dict, anchor: np.ndarray, unit: np.ndarray) -> tuple[dict, dict]:
    """Invoices (a $0 one for a trial, one per period, one per upgrade) and their lines.

    Line kinds: 0 trial, 1 period, 2 unused time (credit), 3 remaining time (an upgrade's two proration lines).
    """
    g_sub, g_k, g_start, g_end = s["g_sub"], s["g_k"], s["g_start"], s["g_end"]
    up, tu, price0, price1, q1 = s["up"], s["tu"], s["price0"], s["price1"], s["q1"]
    after_up = up[g_sub] & (g_start > tu[g_sub])
    g_price = np.where(after_up, price1[g_sub], price0[g_sub])
    g_qty = np.where(
        after_up, q1[g_sub], np.where(g_k >= s["k_down"][g_sub], s["q2"][g_sub], p["qty"][g_sub])
    )
    tr = np.nonzero(p["trial"])[0]
    ui = np.nonzero(up)[0]
    up_row = (g_start <= tu[g_sub]) & (tu[g_sub] < g_end) & up[g_sub]
    up_pe = np.zeros(len(up), np.int64)
    up_pe[g_sub[up_row]] = g_end[up_row]
    up_ps = np.zeros(len(up), np.int64)
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
    n_tr, n_g = len(tr), len(g_sub)
    frac = (up_pe[ui] - tu[ui]) / np.maximum(up_pe[ui] - up_ps[ui], 1)
    unused = -np.round(p["qty"][ui] * unit[price0[ui]] * frac).astype(np.int64)
    remaining = np.round(q1[ui] * unit[price1[ui]] * frac).astype(np.int64)
    lines = {
        "inv": np.concatenate(
            [
                np.arange(n_tr),
                n_tr + np.arange(n_g),
                n_tr + n_g + np.arange(len(ui)),
                n_tr + n_g + np.arange(len(ui)),
            ]
        ),
        "amount": np.concatenate([np.zeros(n_tr, np.int64), g_qty * unit[g_price], unused, remaining]),
        "price": np.concatenate([price0[tr], g_price, price0[ui], price1[ui]]),
        "qty": np.concatenate([p["qty"][tr], g_qty, p["qty"][ui], q1[ui]]),
        "kind": np.concatenate(
            [np.zeros(n_tr, int), np.ones(n_g, int), np.full(len(ui), 2), np.full(len(ui), 3)]
        ),
        "pstart": np.concatenate([p["start"][tr], g_start, tu[ui], tu[ui]]),
        "pend": np.concatenate([anchor[tr], g_end, up_pe[ui], up_pe[ui]]),
        "when": np.concatenate([p["start"][tr], g_start, tu[ui], tu[ui]]),
    }
    inv["total"] = (
        np.bincount(lines["inv"], weights=lines["amount"], minlength=len(inv["sub"])).round().astype(np.int64)
    )
    # the invoice a failed payment could not collect: the one at the cancellation boundary
    inv["dunning"] = (
        (inv["kind"] == 1) & s["invol"][inv["sub"]] & (inv["created"] == s["boundary"][inv["sub"]])
    )
    return inv, lines

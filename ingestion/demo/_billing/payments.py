"""How invoices get paid: on time, late (net terms), after a failed attempt, never (dunning), or voided and
reissued; the charges that attempt each payment, and refunds."""

from __future__ import annotations

import numpy as np

from .._common import DAY, HOUR, SPAN_END, stripe_ids
from .catalog import NEVER


def settle(rng, subs: dict) -> dict:
    """Payment timeline of every invoice; voided invoices get a corrected copy (appended to `inv` and `lines`).

    Returns per invoice: `paid_at`, `void_at`, `uncol_at` (NEVER when it did not happen), `first_fail`,
    `dunning`, `cust` and the ids, with `inv` and `lines` including the reissued invoices.
    """
    inv, lines, P = subs["inv"], subs["lines"], subs["P"]
    pay = _outcomes(rng, inv, P["collection"][inv["sub"]])
    pay["cust"] = P["cust"][inv["sub"]]
    # a voided invoice is replaced by a corrected one for the same period
    n_i = len(inv["sub"])
    vi = np.nonzero(pay["void"] & (pay["void_at"] < SPAN_END))[0]
    repl = {k: v[vi] for k, v in inv.items()}
    repl["created"] = pay["void_at"][vi] + HOUR
    inv = {k: np.concatenate([inv[k], repl[k]]) for k in inv}
    vline = np.isin(lines["inv"], vi)
    remap = np.full(n_i, -1)
    remap[vi] = n_i + np.arange(len(vi))
    lines = {k: np.concatenate([v, v[vline]]) for k, v in lines.items()}
    lines["inv"][len(vline) :] = remap[lines["inv"][len(vline) :]]
    added = {
        "paid_at": repl["created"] + rng.integers(60, HOUR, len(vi)),
        "void_at": np.full(len(vi), NEVER),
        "uncol_at": np.full(len(vi), NEVER),
        "first_fail": np.zeros(len(vi), bool),
        "dunning": np.zeros(len(vi), bool),
        "cust": pay["cust"][vi],
    }
    pay = {k: np.concatenate([pay[k], added[k]]) for k in added}
    pay["ids"] = stripe_ids("in_", rng, len(inv["sub"]))
    return dict(pay, inv=inv, lines=lines)


def charges(rng, inv: dict, pay: dict) -> dict:
    """Charges (failed attempts, then the successful one) in (invoice, time) order, and which are refunded."""
    chg_inv, chg_ts, chg_ok = [], [], []
    ff = np.nonzero(pay["first_fail"])[0]
    chg_inv.append(ff), chg_ts.append(inv["created"][ff] + 30 * 60), chg_ok.append(np.zeros(len(ff), bool))
    du = np.nonzero(pay["dunning"])[0]
    for off in (HOUR, 3 * DAY, 5 * DAY, 7 * DAY):
        chg_inv.append(du), chg_ts.append(inv["created"][du] + off), chg_ok.append(np.zeros(len(du), bool))
    ok = np.nonzero((pay["paid_at"] < NEVER) & (inv["total"] > 0))[0]
    chg_inv.append(ok), chg_ts.append(pay["paid_at"][ok]), chg_ok.append(np.ones(len(ok), bool))
    ch_inv = np.concatenate(chg_inv)
    ch_ts = np.concatenate(chg_ts)
    ch_ok = np.concatenate(chg_ok)
    live = (ch_ts < SPAN_END) & (inv["created"] < SPAN_END)[ch_inv]
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
    return dict(
        inv=ch_inv,
        ts=ch_ts,
        ok=ch_ok,
        ids=ch_ids,
        amt=ch_amt,
        refund=refund,
        rf_ts=rf_ts,
        rf_amt=rf_amt,
        n=n_ch,
    )


def _outcomes(rng, inv: dict, coll: np.ndarray) -> dict:
    """Per invoice: paid at once (card), within net terms (send_invoice), after a failed first attempt, never
    (the dunning invoice, written off after 21 days), or voided."""
    n_i = len(inv["sub"])
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
    return dict(
        first_fail=first_fail, void=void, paid_at=paid_at, void_at=void_at, uncol_at=uncol_at, dunning=dunning
    )

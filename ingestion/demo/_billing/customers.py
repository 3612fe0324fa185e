"""Customers (the first won deal of an account) and the plans of their subscriptions: first ones and reactivations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .._common import DAY, HOUR, QUARTER_CUTS, SPAN_END, Writer, batch_index, keep_last_per_batch, stripe_ids
from .._crm import WON, Crm
from .catalog import CUR, PRICE_RISE
from .shape import select


def from_first_wins(rng, crm: Crm) -> dict:
    """One customer per account with a won deal, created within days of the first win; ~5 % were created by
    hand, without the CRM link."""
    opps = crm.opps
    won = np.nonzero((opps.stage == WON) & (opps.win_ts < SPAN_END))[0]
    o = won[np.lexsort((opps.win_ts[won], opps.acc[won]))]
    first = np.ones(len(o), bool)
    first[1:] = opps.acc[o][1:] != opps.acc[o][:-1]
    fo = o[first]  # each customer's first won opportunity
    c_created = opps.win_ts[fo] + rng.integers(HOUR, 3 * DAY, len(fo))
    keep = c_created < SPAN_END - DAY
    fo, c_created = fo[keep], c_created[keep]
    c_ids = stripe_ids("cus_", rng, len(fo))
    c_linked = rng.random(len(fo)) >= 0.05
    c_acc = opps.acc[fo]
    return dict(
        opp=fo,
        acc=c_acc,
        created=c_created,
        ids=c_ids,
        linked=c_linked,
        cur=opps.cur[fo],
        email=crm.contacts.email[crm.contacts.start[c_acc]],
        n=len(fo),
    )


def first_plans(rng, crm: Crm, cust: dict, lookup: np.ndarray) -> dict:
    """The first subscription of each customer, on the deal's plan and seat count (one entry per customer)."""
    opps, fo, n_c, c_cur = crm.opps, cust["opp"], cust["n"], cust["cur"]
    seg = opps.seg[fo]
    interval = np.where(
        seg == 0,
        rng.choice(4, n_c, p=[0.75, 0.08, 0.12, 0.05]),
        np.where(seg == 1, rng.choice(3, n_c, p=[0.4, 0.15, 0.45]), rng.choice([1, 2], n_c, p=[0.15, 0.85])),
    )
    tier = opps.tier[fo]
    interval = np.where((interval == 3) & ((c_cur != 0) | (tier != 0)), 0, interval)
    era = np.where((c_cur == 0) & (cust["created"] >= PRICE_RISE), 1, 0)
    return dict(
        cust=np.arange(n_c),
        start=cust["created"],
        interval=interval,
        tier=tier,
        cur=c_cur,
        qty=np.maximum(1, opps.seats[fo]),
        price=lookup[tier, c_cur, interval, era],
        trial=(seg < 2) & (interval == 0) & (rng.random(n_c) < 0.2),
        collection=np.where((seg == 2) | (interval == 2), 1, 0),  # 1 = send_invoice (net terms)
        churn_rate=np.array([0.35, 0.2, 0.08])[seg],
        p_upgrade=np.full(n_c, 0.25),
        p_downgrade=np.full(n_c, 0.08),
        opp=fo,
    )


def reactivations(rng, p1: dict, s1: dict, lookup: np.ndarray) -> tuple[np.ndarray, dict]:
    """Some voluntarily churned customers come back on a fresh subscription; returns who, and their plans."""
    n_c = len(p1["start"])
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
    return back, p2


def write(w: Writer, rng, crm: Crm, cust: dict, s1: dict, back: np.ndarray) -> None:
    """A version at creation; a quarter of those who churned and never came back are deleted later."""
    acc, n_c = crm.accounts, cust["n"]
    gone = s1["vol"] & ~back & (rng.random(n_c) < 0.25)
    del_ts = s1["ended"] + rng.integers(30, 120, n_c) * DAY
    gone &= del_ts < SPAN_END
    ck = np.concatenate([np.arange(n_c), np.nonzero(gone)[0]])
    cts = np.concatenate([cust["created"], del_ts[gone]])
    acc_id = np.where(cust["linked"], acc.ids[cust["acc"]], None)
    cdel = np.concatenate([np.zeros(n_c, bool), np.ones(gone.sum(), bool)])
    cb = batch_index(cts, QUARTER_CUTS)
    kk = keep_last_per_batch(ck, cts, cb)
    ck, cdel, cb = ck[kk], cdel[kk], cb[kk]
    w.con.register(
        "cust_v",
        pa.table(
            {
                "id": cust["ids"][ck],
                "created": cust["created"][ck],
                "email": cust["email"][ck].astype(object),
                "name": acc.name[cust["acc"]][ck],
                "currency": CUR[cust["cur"]][ck],
                "sf": acc_id[ck],
                "deleted": cdel,
                "_b": cb,
            }
        ),
    )
    fields = {
        "id": "id",
        "created": "created",
        "email": "email",
        "name": "name",
        "currency": "currency",
        "metadata": "CASE WHEN sf IS NULL THEN MAP([]::VARCHAR[], []::VARCHAR[]) "
        "ELSE MAP(['salesforce_account_id'], [sf]) END",
        "deleted": "deleted",
    }
    w.json_batches(
        "billing/customers",
        f"SELECT {select('customers', fields)}, _b FROM cust_v",
        "_b",
        QUARTER_CUTS,
        "created, id",
    )
    w.con.unregister("cust_v")

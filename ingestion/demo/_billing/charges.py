"""Charge versions (a refund changes its charge) and refunds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .._common import Writer, batch_index, keep_last_per_batch, stripe_ids
from .shape import select

REASONS = np.array(["requested_by_customer", "duplicate", "fraudulent"], dtype=object)


def write(
    w: Writer, ch: dict, pay: dict, cust: dict, currency: np.ndarray, pi_ids, cuts, basil: bool
) -> None:
    """A version when created, and one when refunded. Before basil a charge names its invoice, from basil on
    its payment intent (the invoice's invoice_payment links the two)."""
    n_ch = ch["n"]
    cv = np.concatenate([np.arange(n_ch), np.nonzero(ch["refund"])[0]])
    cv_ts = np.concatenate([ch["ts"], ch["rf_ts"][ch["refund"]]])
    cv_ref = np.concatenate([np.zeros(n_ch, np.int64), ch["rf_amt"][ch["refund"]]])
    cb = batch_index(cv_ts, cuts)
    keep = keep_last_per_batch(cv, cv_ts, cb)
    cv, cv_ref, cb = cv[keep], cv_ref[keep], cb[keep]
    link = "payment_intent" if basil else "invoice"
    invoice = ch["inv"][cv]
    w.con.register(
        "charge_v",
        pa.table(
            {
                "id": ch["ids"][cv],
                "customer": cust["ids"][pay["cust"][invoice]],
                link: (pi_ids if basil else pay["ids"])[invoice],
                "amount": ch["amt"][cv],
                "amount_refunded": cv_ref,
                "currency": currency[invoice],
                "status": np.where(ch["ok"][cv], "succeeded", "failed").astype(object),
                "paid": ch["ok"][cv],
                "refunded": (cv_ref == ch["amt"][cv]) & (cv_ref > 0),
                "created": ch["ts"][cv],
                "_b": cb,
            }
        ),
    )
    names = (
        "id",
        "customer",
        link,
        "amount",
        "amount_refunded",
        "currency",
        "status",
        "paid",
        "refunded",
        "created",
    )
    sql = f"SELECT {select('charges', {n: n for n in names})}, _b FROM charge_v"
    w.json_batches("billing/charges", sql, "_b", cuts, "created, id")
    w.con.unregister("charge_v")


def write_refunds(w: Writer, rng, ch: dict, currency: np.ndarray, cuts: np.ndarray) -> None:
    ri = np.nonzero(ch["refund"])[0]
    w.con.register(
        "refund_v",
        pa.table(
            {
                "id": stripe_ids("re_", rng, len(ri), 24),
                "charge": ch["ids"][ri],
                "amount": ch["rf_amt"][ri],
                "currency": currency[ch["inv"][ri]],
                "reason": REASONS[rng.choice(3, len(ri), p=[0.75, 0.17, 0.08])],
                "created": ch["rf_ts"][ri],
                "_b": batch_index(ch["rf_ts"][ri], cuts),
            }
        ),
    )
    names = ("id", "charge", "amount", "currency", "reason", "created")
    fields = {**{n: n for n in names}, "status": "'succeeded'"}
    w.json_batches(
        "billing/refunds", f"SELECT {select('refunds', fields)}, _b FROM refund_v", "_b", cuts, "created, id"
    )
    w.con.unregister("refund_v")

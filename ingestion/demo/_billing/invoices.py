"""Invoice versions (a version per status change, lines embedded) and, from basil on, their invoice payments."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .._common import Writer, stripe_ids
from .catalog import CUR
from .shape import select
from .subscriptions import price_struct

STATUSES = np.array(["draft", "open", "paid", "uncollectible", "void"], dtype=object)


def write(w: Writer, rng, subs: dict, pay: dict, cust: dict, cuts: np.ndarray, basil: bool) -> None:
    """A version at the first cut after creation and at every later cut where the status changed."""
    inv, lines, P = pay["inv"], pay["lines"], subs["P"]
    n_i = len(inv["sub"])
    cut_b = cuts[None, :]
    status_at = np.where(
        pay["void_at"][:, None] < cut_b,
        4,
        np.where(pay["paid_at"][:, None] < cut_b, 2, np.where(pay["uncol_at"][:, None] < cut_b, 3, 1)),
    )
    i_exists = inv["created"][:, None] < cut_b
    i_prev = np.concatenate([np.full((n_i, 1), -1), status_at[:, :-1]], axis=1)
    i_prev_exists = np.concatenate([np.zeros((n_i, 1), bool), i_exists[:, :-1]], axis=1)
    ie, ic = np.nonzero(i_exists & (~i_prev_exists | (status_at != i_prev)))
    ist = status_at[ie, ic]
    w.con.register(
        "inv_v",
        pa.table(
            {
                "iidx": ie,
                "id": pay["ids"][ie],
                "customer": cust["ids"][pay["cust"][ie]],
                "subscription": subs["s_ids"][inv["sub"][ie]],
                "status": STATUSES[ist],
                "created": inv["created"][ie],
                "period_start": inv["period_start"][ie],
                "period_end": inv["period_end"][ie],
                "currency": CUR[P["cur"][inv["sub"][ie]]],
                "total": inv["total"][ie],
                "paid_at": pa.array(pay["paid_at"][ie], mask=ist != 2),
                "_b": ic,
            }
        ),
    )
    _register_lines(w, rng, subs, inv, lines)
    sql = f"WITH l AS ({_lines_sql(basil)}) SELECT {select('invoices', _fields(basil))}, v._b FROM inv_v v JOIN l USING (iidx)"
    w.json_batches("billing/invoices", sql, "_b", cuts, "created, id")
    w.con.unregister("inv_v")
    w.con.unregister("line_s")


def write_payments(w: Writer, pay: dict, currency: np.ndarray, pi_ids, inpay_ids, cuts: np.ndarray) -> None:
    """One invoice_payment per invoice billing money (API versions from basil on), paying it through the invoice's
    payment intent: open until the invoice is paid (then paid) or voided (then canceled); a version per change."""
    inv, i_ids, paid_at, void_at = pay["inv"], pay["ids"], pay["paid_at"], pay["void_at"]
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
    fields = {
        "id": "id",
        "invoice": "invoice",
        "status": "status",
        "amount_paid": "amount_paid",
        "amount_requested": "amount_requested",
        "currency": "currency",
        "payment": "{'type': 'payment_intent', 'payment_intent': pi}",
        "status_transitions": "{'canceled_at': canceled_at, 'paid_at': paid_at}",
        "created": "created",
    }
    w.json_batches(
        "billing/invoice_payments",
        f"SELECT {select('invoice_payments', fields)}, _b FROM inpay_v",
        "_b",
        cuts,
        "created, id",
    )
    w.con.unregister("inpay_v")


def _register_lines(w: Writer, rng, subs: dict, inv: dict, lines: dict) -> None:
    """Invoice lines as the table `line_s`, in billing order (`seq`) within their invoice (`iidx`)."""
    n_l = len(lines["inv"])
    sub_of_line = inv["sub"][lines["inv"]]
    w.con.register(
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
                "sub": subs["s_ids"][sub_of_line],
                "si": subs["si_ids"][sub_of_line],
            }
        ),
    )


def _fields(basil: bool) -> dict[str, str]:
    # from basil on the subscription moved to parent.subscription_details
    subscription = (
        {
            "parent": "{'type': 'subscription_details', 'quote_details': NULL, "
            "'subscription_details': {'metadata': NULL, 'subscription': v.subscription}}"
        }
        if basil
        else {"subscription": "v.subscription"}
    )
    return {
        "id": "v.id",
        "customer": "v.customer",
        **subscription,
        "status": "v.status",
        "created": "v.created",
        "period_start": "v.period_start",
        "period_end": "v.period_end",
        "currency": "v.currency",
        "subtotal": "v.total",
        "total": "v.total",
        "amount_due": "v.total",
        "amount_paid": "CASE WHEN v.status = 'paid' THEN v.total ELSE 0 END",
        "lines": "{'object': 'list', 'data': l.data, 'has_more': false, 'url': '/v1/invoices/' || v.id || '/lines'}",
        "status_transitions": "{'paid_at': v.paid_at}",
    }


def _lines_sql(basil: bool) -> str:
    """Each invoice's lines (`iidx`, `data`), described as Stripe describes them."""
    return f"""
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
        FROM line_s l JOIN price_s p USING (pidx) GROUP BY l.iidx"""


def _money_sql(p: str) -> str:
    return (
        f"CASE {p}.currency WHEN 'jpy' THEN '¥' || format('{{:,}}', {p}.unit_amount) "
        f"ELSE CASE {p}.currency WHEN 'usd' THEN '$' WHEN 'eur' THEN '€' ELSE '£' END "
        f"|| printf('%.2f', {p}.unit_amount / 100.0) END"
    )


def _line_price_and_parent(basil: bool) -> str:
    """An invoice line's price and what generated it (a subscription item), as the API version shows them.

    Before basil: the price expanded on `price`, and `proration`, `subscription`, `subscription_item`, `type` on the
    line. From basil on: `pricing.price_details.price` (an id) and `parent.subscription_item_details`
    (https://docs.stripe.com/changelog/basil/2025-03-31/invoice-pricing-configurations and
    .../adds-new-parent-field-to-invoicing-objects).
    """
    if not basil:
        price = price_struct("p", 'l."when" + 1')
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

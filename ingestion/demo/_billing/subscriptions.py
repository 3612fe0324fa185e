"""Subscription versions: the state of every subscription at each quarterly cut, written when it changed."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .._common import SPAN_END, Writer
from .._crm import Crm
from .catalog import CUR
from .shape import select

STATUSES = np.array(["trialing", "active", "past_due", "canceled"], dtype=object)
# the columns of a state: (subscription, cut, column)
STATUS, PRICE, QTY, PERIOD_START, PERIOD_END, CANCELED_AT, CANCEL_AT, ENDED_AT = range(8)


def write(w: Writer, crm: Crm, cust: dict, subs: dict, cuts: np.ndarray, basil: bool) -> None:
    """A version at the first cut after creation and at every later cut where the state changed."""
    P, S = subs["P"], subs["S"]
    state, exists = _states(subs, cuts)
    n_s = len(state)
    prev = np.concatenate([np.full((n_s, 1, state.shape[2]), -2), state[:, :-1]], axis=1)
    prev_exists = np.concatenate([np.zeros((n_s, 1), bool), exists[:, :-1]], axis=1)
    changed = exists & (~prev_exists | (state != prev).any(axis=2))
    es, ec = np.nonzero(changed)
    opp_meta = np.where(P["opp"] >= 0, crm.opps.ids[np.maximum(P["opp"], 0)], None)
    opp_meta = np.where(cust["linked"][P["cust"]], opp_meta, None)
    st = state[es, ec]
    w.con.register(
        "sub_v",
        pa.table(
            {
                "id": subs["s_ids"][es],
                "customer": cust["ids"][P["cust"][es]],
                "status": STATUSES[st[:, STATUS]],
                "created": P["start"][es],
                "start_date": P["start"][es],
                "canceled_at": pa.array(st[:, CANCELED_AT], mask=st[:, CANCELED_AT] < 0),
                "ended_at": pa.array(st[:, ENDED_AT], mask=st[:, ENDED_AT] < 0),
                "cancel_at": pa.array(st[:, CANCEL_AT], mask=st[:, CANCEL_AT] < 0),
                "trial_start": pa.array(P["start"][es], mask=~P["trial"][es]),
                "trial_end": pa.array(S["anchor"][es], mask=~P["trial"][es]),
                "currency": CUR[P["cur"][es]],
                "si": subs["si_ids"][es],
                "pidx": st[:, PRICE],
                "qty": st[:, QTY],
                "cps": st[:, PERIOD_START],
                "cpe": st[:, PERIOD_END],
                "opp": opp_meta[es],
                "_b": ec,
                "_cut": cuts[ec],
            }
        ),
    )
    sql = f"SELECT {select('subscriptions', _fields(basil))}, v._b FROM sub_v v JOIN price_s p ON p.pidx = v.pidx"
    w.json_batches("billing/subscriptions", sql, "_b", cuts, "created, id")
    w.con.unregister("sub_v")


def price_struct(p: str, at: str) -> str:
    """A price object, as embedded in a subscription item (or a line before basil), active as of `at`."""
    return (
        f"{{'id': {p}.id, 'object': 'price', 'product': {p}.product, 'currency': {p}.currency, "
        f"'unit_amount': {p}.unit_amount, 'type': 'recurring', "
        f"'recurring': {{'interval': {p}.interval, 'interval_count': {p}.interval_count}}, "
        f"'active': {p}.deactivated > {at} - 1, 'created': {p}.created}}"
    )


def _fields(basil: bool) -> dict[str, str]:
    """Every version keeps the current period on the (single) item, so neither shape writes the top-level one
    older versions also had; from basil on `discounts` (a list) replaces `discount`."""
    items = (
        "{'object': 'list', "
        f"'data': [{{'id': v.si, 'object': 'subscription_item', 'price': {price_struct('p', 'v._cut')}, "
        "'quantity': v.qty, 'current_period_start': v.cps, 'current_period_end': v.cpe}], "
        "'has_more': false, 'url': '/v1/subscription_items?subscription=' || v.id}"
    )
    return {
        "id": "v.id",
        "customer": "v.customer",
        "status": "v.status",
        "created": "v.created",
        "start_date": "v.start_date",
        "canceled_at": "v.canceled_at",
        "ended_at": "v.ended_at",
        "cancel_at": "v.cancel_at",
        "trial_start": "v.trial_start",
        "trial_end": "v.trial_end",
        "currency": "v.currency",
        "items": items,
        **({"discounts": "[]::VARCHAR[]"} if basil else {"discount": "NULL"}),
        "metadata": "CASE WHEN v.opp IS NULL THEN MAP([]::VARCHAR[], []::VARCHAR[]) "
        "ELSE MAP(['salesforce_opportunity_id'], [v.opp]) END",
    }


def _states(subs: dict, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(subscription, cut, column) state just before each cut, and whether the subscription existed by then."""
    P, S, g_sub, g_start, g_end, g_k = (subs[k] for k in ("P", "S", "g_sub", "g_start", "g_end", "g_k"))
    n_s, n_cut = subs["n"], len(cuts)
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
    return state, exists

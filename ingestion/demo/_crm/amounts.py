"""What each opportunity sells: line items from the price book, whose totals make up its Amount in every version."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._common import SPAN_END, day_of, sf_ids
from .common import Emit, versions
from .opportunities import Course, Deals, Opportunities

# Product2: name, code, family, annual USD list price per unit
PRODUCTS = [
    ("Platform Starter", "PS-STR", "Platform", 360),
    ("Platform Professional", "PS-PRO", "Platform", 720),
    ("Platform Enterprise", "PS-ENT", "Platform", 1200),
    ("Analytics Add-on", "AD-ANL", "Add-on", 240),
    ("Premium Support", "SV-SUP", "Support", 12000),
    ("Implementation Services", "SV-IMP", "Services", 15000),
    ("Training Day", "SV-TRN", "Services", 2500),
    ("Legacy Starter", "PS-LEG", "Platform", 300),
]
FX_LIST = np.array([1.0, 0.92, 0.79, 150.0])  # list-price conversion, per USD


def list_price_cents(usd: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Pricebook price per currency, rounded the way a price list would be (whole units; JPY to 100)."""
    local = np.asarray(usd, dtype=float) * FX_LIST[cur]
    whole = np.where(cur == 3, np.round(local / 100) * 100, np.round(local))
    return whole.astype(np.int64) * 100


@dataclass
class Items:
    """Five line-item slots per opportunity: plan, analytics add-on, support, implementation, training days.

    Some deals change their seat count once, at `ta`: before it the quantities are `qty_init`, after it `qty_final`.
    """

    tier: np.ndarray
    seats: np.ndarray
    prod: np.ndarray  # (opportunity, slot) index into PRODUCTS
    on: np.ndarray  # (opportunity, slot) sold
    unit: np.ndarray  # (opportunity, slot) list price, cents of the opportunity's currency
    disc: np.ndarray  # (opportunity, slot) discount, percent
    qty_init: np.ndarray
    qty_final: np.ndarray
    chg: np.ndarray  # the seat count changed
    ta: np.ndarray  # when it changed
    cur: np.ndarray

    def totals(self, qty: np.ndarray) -> np.ndarray:
        """TotalPrice per slot: Quantity * UnitPrice * (1 - Discount/100), rounded per line (0 when not sold)."""
        t = (qty * self.unit * (100 - self.disc) + 50) // 100
        t = np.where(self.cur[:, None] == 3, (t + 50) // 100 * 100, t)  # yen have no minor unit
        return np.where(self.on, t, 0)


def draw(rng, d: Deals, o_type: np.ndarray, tc: np.ndarray) -> Items:
    n_opp, o_seg = d.n, d.seg
    tier, seats, prod, on, qty = _slots(rng, d, o_type)
    disc = rng.choice([0, 5, 10, 15, 20, 25], n_opp, p=[0.35, 0.2, 0.2, 0.12, 0.08, 0.05])
    disc = np.where(o_seg == 2, np.minimum(disc + 5, 30), disc)
    slot_disc = np.where(np.arange(5)[None, :] < 2, disc[:, None], 0)
    usd = np.array([p[3] for p in PRODUCTS])[prod]
    unit = list_price_cents(usd, np.repeat(d.cur[:, None], 5, 1))
    chg = rng.random(n_opp) < 0.35
    q0_init = np.maximum(1, np.round(seats * rng.uniform(0.6, 1.4, n_opp))).astype(np.int64)
    chg &= q0_init != seats
    qty_init = qty.copy()
    qty_init[:, 0] = np.where(chg, q0_init, seats)
    qty_init[:, 1] = np.where(chg & on[:, 1], q0_init, seats)  # add-on follows the seat count
    ta = d.t0 + (rng.uniform(0.2, 0.9, n_opp) * (np.minimum(tc, SPAN_END) - d.t0)).astype(np.int64)
    return Items(
        tier=tier,
        seats=seats,
        prod=prod,
        on=on,
        unit=unit,
        disc=slot_disc,
        qty_init=qty_init,
        qty_final=qty,
        chg=chg,
        ta=ta,
        cur=d.cur,
    )


def write_line_items(emit: Emit, items: Items, opps: Opportunities, course: Course) -> None:
    """A version at creation, one when the seat count changed, one when the opportunity was deleted."""
    li_opp, li_slot = np.nonzero(items.on)
    n_li = len(li_opp)
    li_tot_init = items.totals(items.qty_init)[li_opp, li_slot]
    li_tot_final = items.totals(items.qty_final)[li_opp, li_slot]
    chg, ta, del_ts = items.chg, items.ta, opps.del_ts
    changes = (
        chg[li_opp] & (li_slot < 2) & (items.qty_init[li_opp, li_slot] != items.qty_final[li_opp, li_slot])
    )
    ci = np.nonzero(changes)[0]
    di = np.nonzero(opps.deleted[li_opp])[0]
    lk = np.concatenate([np.arange(n_li), ci, di])
    l_ts = np.concatenate([opps.t0[li_opp] + 60, ta[li_opp[ci]], del_ts[li_opp[di]]])
    l_state_final = np.concatenate(
        [~chg[li_opp], np.ones(len(ci), bool), ~chg[li_opp[di]] | (ta[li_opp[di]] <= del_ts[li_opp[di]])]
    )
    o, s = li_opp[lk], li_slot[lk]
    l_qty = np.where(l_state_final, items.qty_final[o, s], items.qty_init[o, s])
    l_unit = items.unit[o, s]
    l_disc = items.disc[o, s]
    # contract start: the first of the month after the originally planned close
    service = day_of(
        (course.planned0.astype("datetime64[s]").astype("datetime64[M]") + 1)
        .astype("datetime64[s]")
        .astype(np.int64)
    )
    columns = {
        "Id": sf_ids("00k", np.arange(n_li) + 2_000_000)[lk],
        "OpportunityId": opps.ids[o],
        "Product2Id": sf_ids("01t", items.prod[o, s] + 300),
        "Quantity": l_qty * 100,
        "UnitPrice": l_unit,
        "TotalPrice": np.where(l_state_final, li_tot_final[lk], li_tot_init[lk]),
        "ListPrice": l_unit,
        "Discount": (l_disc * 100, l_disc == 0),
        "ServiceDate": service[o],
        "CreatedDate": opps.t0[o] + 60,
        "SystemModstamp": l_ts,
        "IsDeleted": np.concatenate([np.zeros(n_li + len(ci), bool), np.ones(len(di), bool)]),
    }
    emit("OpportunityLineItem", versions("OpportunityLineItem", columns, lk, l_ts))


def _slots(rng, d: Deals, o_type: np.ndarray):
    """Plan tier and seats by segment, then which slots are sold and in what quantity."""
    n_opp, o_seg = d.n, d.seg
    tier = np.where(
        o_seg == 2,
        2,
        np.where(
            o_seg == 1, np.where(rng.random(n_opp) < 0.85, 1, 2), np.where(rng.random(n_opp) < 0.6, 0, 1)
        ),
    )
    seats = np.exp(np.log(np.array([15, 45, 120])[o_seg]) + rng.normal(0, 0.55, n_opp))
    seats = np.where(o_type == 1, seats * 0.3, seats)
    seats = np.maximum(np.round(seats), np.array([3, 10, 25])[o_seg]).astype(np.int64)
    prod = np.stack([tier, np.full(n_opp, 3), np.full(n_opp, 4), np.full(n_opp, 5), np.full(n_opp, 6)], 1)
    on = np.stack(
        [
            np.ones(n_opp, bool),
            rng.random(n_opp) < np.array([0.2, 0.4, 0.45])[o_seg],
            (rng.random(n_opp) < np.array([0.0, 0.3, 0.5])[o_seg]) & (o_type != 1),
            (rng.random(n_opp) < np.array([0.1, 0.4, 0.7])[o_seg]) & (o_type == 0),
            rng.random(n_opp) < 0.2,
        ],
        1,
    )
    qty = np.stack(
        [seats, seats, np.ones(n_opp, np.int64), np.ones(n_opp, np.int64), rng.integers(1, 6, n_opp)], 1
    )
    return tier, seats, prod, on, qty

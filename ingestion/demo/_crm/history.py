"""Each opportunity as a stream of events (creation, stage moves, an amount change, slips, close, reopen).

Every event is an OpportunityHistory row and an Opportunity version, so the last history row always equals
the current opportunity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._common import DAY, HOUR, SPAN_END, SPAN_START, day_of, ffill_index, sf_ids, strictly_increasing
from .accounts import CURRENCIES, Accounts
from .amounts import Items
from .common import Emit, versions
from .opportunities import LOST, OPP_TYPES, STAGE_FC, STAGE_PROB, STAGES, WON, Course, Deals, Opportunities


@dataclass
class Events:
    """Events in (opportunity, time) order, with the state each leaves the opportunity in."""

    opp: np.ndarray
    ts: np.ndarray
    stage: np.ndarray
    closedate: np.ndarray  # days since the epoch
    amt: np.ndarray  # cents

    @property
    def last(self) -> np.ndarray:
        """True on each opportunity's last event."""
        last_ev = np.ones(len(self.opp), bool)
        last_ev[:-1] = self.opp[1:] != self.opp[:-1]
        return last_ev


def events(rng, d: Deals, c: Course, items: Items, won: np.ndarray) -> Events:
    """The events before the end of the window; the stage and close date carry forward between changes."""
    e_opp, e_ts, e_stage, e_close = _in_order(_event_rows(rng, d, c, items, won))
    live = e_ts < SPAN_END
    e_opp, e_ts, e_stage, e_close = e_opp[live], e_ts[live], e_stage[live], e_close[live]
    e_stage = e_stage[ffill_index(e_stage >= 0)]
    e_closedate = day_of(e_close[ffill_index(e_close >= 0)])
    amt_final = items.totals(items.qty_final).sum(1)
    amt_init = items.totals(items.qty_init).sum(1)
    e_amt = np.where(items.chg[e_opp] & (e_ts < items.ta[e_opp]), amt_init[e_opp], amt_final[e_opp])
    return Events(opp=e_opp, ts=e_ts, stage=e_stage, closedate=e_closedate, amt=e_amt)


def current(ev: Events, n_opp: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per opportunity: its stage and last change at the end of the window, and its number of events.

    An opportunity opened after the window's end (by a rep west of UTC on the evening of 31 December) has no
    event and so no version in any extract: it counts as lost, unchanged since the window's start.
    """
    last_ev = ev.last
    cur_stage = np.full(n_opp, LOST, np.int64)
    cur_stage[ev.opp[last_ev]] = ev.stage[last_ev]
    last_ts = np.full(n_opp, SPAN_START, np.int64)
    last_ts[ev.opp[last_ev]] = ev.ts[last_ev]
    return cur_stage, last_ts, np.bincount(ev.opp, minlength=n_opp)


def write_opportunities(emit: Emit, opps: Opportunities, ev: Events, acc: Accounts, u_ids, tc) -> None:
    """A version per event, and a deleted copy of the last for the opportunities deleted later."""
    name_suffix = np.where(
        opps.type == 0,
        " - " + opps.seats.astype(str).astype(object) + " seats",
        np.where(
            opps.type == 1,
            " - Expansion " + opps.seats.astype(str).astype(object) + " seats",
            " - Renewal "
            + (1970 + tc.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64))
            .astype(str)
            .astype(object),
        ),
    )
    o_name = acc.base[opps.acc] + name_suffix
    d = np.nonzero(opps.deleted)[0]
    ld = np.nonzero(ev.last)[0]
    pos_of_last = np.empty(opps.n, np.int64)
    pos_of_last[ev.opp[ld]] = ld
    v_src = np.concatenate([np.arange(len(ev.opp)), pos_of_last[d]])  # event row each version copies
    v_opp = ev.opp[v_src]
    v_ts = np.concatenate([ev.ts, opps.del_ts[d]])
    v_stage = ev.stage[v_src]
    lead_source = opps.lead_source[v_opp]
    columns = {
        "Id": opps.ids[v_opp],
        "Name": o_name[v_opp],
        "AccountId": acc.ids[opps.acc[v_opp]],
        "OwnerId": u_ids[opps.owner[v_opp]],
        "StageName": np.array(STAGES, dtype=object)[v_stage],
        "Amount": ev.amt[v_src],
        "Probability": STAGE_PROB[v_stage],
        "CloseDate": ev.closedate[v_src],
        "IsClosed": v_stage >= WON,
        "IsWon": v_stage == WON,
        "ForecastCategoryName": np.array(STAGE_FC, dtype=object)[v_stage],
        "Type": np.array(OPP_TYPES, dtype=object)[opps.type[v_opp]],
        "LeadSource": (lead_source, lead_source == None),  # noqa: E711
        "CurrencyIsoCode": np.array(CURRENCIES, dtype=object)[opps.cur[v_opp]],
        "CreatedDate": opps.t0[v_opp],
        "LastModifiedDate": v_ts,
        "SystemModstamp": v_ts,
        "IsDeleted": np.concatenate([np.zeros(len(ev.opp), bool), np.ones(len(d), bool)]),
    }
    emit("Opportunity", versions("Opportunity", columns, v_opp, v_ts))


def write_history(emit: Emit, opps: Opportunities, ev: Events, u_ids) -> None:
    """One immutable row per event; a deleted opportunity's rows get a deleted version."""
    n_e = len(ev.opp)
    del_rows = np.nonzero(opps.deleted[ev.opp])[0]
    hk = np.concatenate([np.arange(n_e), del_rows])
    h_ts = np.concatenate([ev.ts, opps.del_ts[ev.opp[del_rows]]])
    stage = ev.stage[hk]
    columns = {
        "Id": sf_ids("008", np.arange(n_e) + 1_000_000)[hk],
        "OpportunityId": opps.ids[ev.opp[hk]],
        "StageName": np.array(STAGES, dtype=object)[stage],
        "Amount": ev.amt[hk],
        "Probability": STAGE_PROB[stage],
        "CloseDate": ev.closedate[hk],
        "ForecastCategory": np.array(STAGE_FC, dtype=object)[stage],
        "CreatedDate": ev.ts[hk],
        "CreatedById": u_ids[opps.owner[ev.opp[hk]]],
        "SystemModstamp": h_ts,
        "IsDeleted": np.concatenate([np.zeros(n_e, bool), np.ones(len(del_rows), bool)]),
    }
    emit("OpportunityHistory", versions("OpportunityHistory", columns, hk, h_ts))


def _event_rows(rng, d: Deals, c: Course, items: Items, won: np.ndarray) -> list[tuple]:
    """(opportunity, ts, kind, stage or -1, close-date ts or -1) groups, one per kind of event."""
    idx, t0, tc = np.arange(d.n), d.t0, c.tc
    ev = [(idx, t0, 0, c.s0, c.planned0)]
    frac = np.sort(rng.random((d.n, 4)), axis=1) * 0.9
    for s in range(1, 5):
        skip = rng.random(d.n) < 0.15
        visit = (s > c.s0) & (s <= c.m) & ((s == c.m) | ~skip)
        ev.append(
            (
                idx[visit],
                (t0 + frac[:, s - 1] * (tc - t0)).astype(np.int64)[visit],
                1,
                np.full(visit.sum(), s),
                np.full(visit.sum(), -1),
            )
        )
    chg = items.chg
    ev.append((idx[chg], items.ta[chg], 2, np.full(chg.sum(), -1), np.full(chg.sum(), -1)))
    prev_planned = c.planned0
    for j in range(3):
        has = c.n_slip > j
        when = np.clip(prev_planned - rng.integers(0, 8, d.n) * DAY, t0 + HOUR, tc - HOUR)
        ev.append((idx[has], when[has], 3, np.full(has.sum(), -1), c.planned[has, j]))
        prev_planned = c.planned[:, j]
    ev.append((idx, tc, 4, np.where(won, WON, LOST), tc))
    reopen = c.reopen
    ev.append((idx[reopen], c.tr[reopen], 5, np.full(reopen.sum(), 1), c.tc2[reopen]))
    ev.append((idx[reopen], c.tc2[reopen], 6, np.where(c.won2, WON, LOST)[reopen], c.tc2[reopen]))
    return ev


def _in_order(ev: list[tuple]) -> tuple[np.ndarray, ...]:
    """The groups as one list sorted by (opportunity, time, kind), each opportunity's stamps strictly increasing."""
    e_opp = np.concatenate([e[0] for e in ev])
    e_ts = np.concatenate([e[1] for e in ev]).astype(np.int64)
    e_kind = np.concatenate([np.full(len(e[0]), e[2]) for e in ev])
    e_stage = np.concatenate([e[3] for e in ev]).astype(np.int64)
    e_close = np.concatenate([e[4] for e in ev]).astype(np.int64)
    o = np.lexsort((e_kind, e_ts, e_opp))
    e_opp, e_ts, e_stage, e_close = e_opp[o], e_ts[o], e_stage[o], e_close[o]
    return e_opp, strictly_increasing(e_opp, e_ts), e_stage, e_close

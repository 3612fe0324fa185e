"""Opportunities: who opens them and when, their type and outcome, and the course each takes to its close."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _names as names
from .._common import DAY, HOUR, N_DAYS, SPAN_END, SPAN_START, add_months, quarter_start, sf_ids
from .accounts import Accounts
from .common import business_time, sample_rep_days
from .org import REGION_UTC_OFFSET, Users, rep_capacity

STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal",
    "Negotiation",
    "Closed Won",
    "Closed Lost",
]
STAGE_PROB = np.array([10, 20, 40, 60, 80, 100, 0])
STAGE_FC = ["Pipeline", "Pipeline", "Pipeline", "Best Case", "Commit", "Closed", "Omitted"]
WON, LOST = 5, 6
OPP_TYPES = ["New Business", "Existing Business", "Renewal"]


@dataclass
class Deals:
    """Opportunities as opened: by whom, when, on which account; in (account, created) order."""

    owner: np.ndarray
    t0: np.ndarray  # created
    acc: np.ndarray
    seg: np.ndarray
    cur: np.ndarray
    u_win: np.ndarray  # the uniform draw that decides the outcome
    noise: np.ndarray  # log-normal factor on the time to close
    seg_median: np.ndarray  # median days to close in the segment

    @property
    def n(self) -> int:
        return len(self.t0)


@dataclass
class Course:
    """How each opportunity moves: first and furthest stage, close, the close dates promised on the way, a reopen."""

    s0: np.ndarray  # stage at creation
    m: np.ndarray  # furthest open stage reached
    tc: np.ndarray  # closed
    planned0: np.ndarray  # close date promised at creation
    planned: np.ndarray  # (opportunity, slip) close date after each slip
    n_slip: np.ndarray
    reopen: np.ndarray  # lost, revived at `tr`, closed again at `tc2` (won if `won2`)
    tr: np.ndarray
    tc2: np.ndarray
    won2: np.ndarray


@dataclass
class Opportunities:
    """Each opportunity as it stands at the end of the window (what billing and activity build on)."""

    ids: np.ndarray
    acc: np.ndarray
    owner: np.ndarray
    seg: np.ndarray
    cur: np.ndarray
    t0: np.ndarray
    type: np.ndarray  # index into OPP_TYPES
    tier: np.ndarray  # plan tier sold: 0 Starter, 1 Professional, 2 Enterprise
    seats: np.ndarray
    stage: np.ndarray  # current stage
    last_ts: np.ndarray  # last change
    n_events: np.ndarray  # OpportunityHistory rows
    win_ts: np.ndarray  # when won (the int64 maximum when not won)
    lead_source: np.ndarray
    converted: np.ndarray  # created by converting a lead
    del_ts: np.ndarray
    deleted: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


def draw(rng, users: Users, acc: Accounts, scale: float) -> Deals:
    """Opportunities opened by reps in proportion to their capacity, on accounts of their own book."""
    # Pipeline opened in the half year before the window is carried into it (only deals still open on
    # 2024-01-01 are kept), so early 2024 closes and attainment look like any other quarter's.
    pre = 184
    days_x = SPAN_START - pre * DAY + np.arange(N_DAYS + pre, dtype=np.int64) * DAY
    n_draw = max(450, round(20000 * scale * 1.12))
    rep_i, day_i = sample_rep_days(rng, rep_capacity(users, days_x), n_draw)
    o_owner = users.reps[rep_i]
    t0 = business_time(rng, days_x[day_i], REGION_UTC_OFFSET[users.reg[o_owner]])
    book, book_start, book_cnt = _books(acc.owner, users.n)
    o_acc = book[book_start[o_owner] + (rng.random(n_draw) * book_cnt[o_owner]).astype(np.int64)]
    o_seg = acc.seg[o_acc]
    u_win = rng.random(n_draw)
    noise = np.exp(rng.normal(0, 0.5, n_draw))
    seg_median = np.array([35.0, 75.0, 140.0])[o_seg]
    keep = (t0 >= SPAN_START) | (t0 + seg_median * noise * DAY >= SPAN_START + 14 * DAY)
    order = np.nonzero(keep)[0]
    order = order[np.lexsort((t0[order], o_acc[order]))]
    return Deals(
        owner=o_owner[order],
        t0=t0[order],
        acc=o_acc[order],
        seg=o_seg[order],
        cur=acc.cur[o_acc[order]],
        u_win=u_win[order],
        noise=noise[order],
        seg_median=seg_median[order],
    )


def type_and_outcome(rng, d: Deals, skill: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Type (index into OPP_TYPES) and whether it is won: a win rate by segment and type, shifted by rep skill."""
    base = np.array([[0.30, 0.45, 0.80], [0.24, 0.42, 0.78], [0.19, 0.40, 0.75]])

    def p_win(t):
        b = base[d.seg, t]
        return 1 / (1 + np.exp(-(np.log(b / (1 - b)) + skill[d.owner])))

    # Type follows the account's history: expansion and renewal deals only after a win on the account
    # (judged on a first, new-business pass; other types only raise the win rate, so no such win is lost).
    won_nb = d.u_win < p_win(np.zeros(d.n, np.int64))
    tc_nb = d.t0 + (d.seg_median * d.noise * DAY).astype(np.int64)
    prior_win = _earliest_earlier_win(d.acc, won_nb, tc_nb)
    r = rng.random(d.n)
    o_type = np.where(
        prior_win < d.t0 - 270 * DAY,
        np.where(r < 0.45, 2, np.where(r < 0.9, 1, 0)),
        np.where(prior_win < d.t0, np.where(r < 0.8, 1, 0), 0),
    )
    return o_type, d.u_win < p_win(o_type)


def course(rng, d: Deals, o_type: np.ndarray, won: np.ndarray) -> Course:
    s0, m, tc = _stages_and_close(rng, d, o_type, won)
    n_slip, planned0, planned = _slips(rng, d, tc)
    # reopened: lost, then revived weeks later and closed again
    reopen = (~won) & (m >= 1) & (rng.random(d.n) < 0.04)
    tr = tc + rng.integers(20, 90, d.n) * DAY
    tc2 = tr + rng.integers(30, 90, d.n) * DAY
    won2 = rng.random(d.n) < 0.45
    return Course(
        s0=s0,
        m=m,
        tc=tc,
        planned0=planned0,
        planned=planned,
        n_slip=n_slip,
        reopen=reopen,
        tr=tr,
        tc2=tc2,
        won2=won2,
    )


def settle(rng, d: Deals, o_type, tier, seats, course: Course, stage, last_ts, n_events) -> Opportunities:
    """The opportunities at the end of the window: lead sources, lead conversions and the few later deleted."""
    n_opp = d.n
    win_ts = np.where(stage == WON, np.where(course.reopen, course.tc2, course.tc), np.iinfo(np.int64).max)
    o_lead_source = np.where(
        o_type == 0,
        np.array(names.LEAD_SOURCES, dtype=object)[
            rng.choice(6, n_opp, p=[0.3, 0.12, 0.1, 0.08, 0.28, 0.12])
        ],
        np.where(rng.random(n_opp) < 0.5, "Existing Customer", None),
    )
    # converted leads: many inbound new-business deals started life as a lead
    conv = (o_type == 0) & np.isin(o_lead_source, names.LEAD_SOURCES_INBOUND) & (rng.random(n_opp) < 0.7)
    # deletes: a few duplicate/junk opportunities removed later (never won ones, never lead-converted, never
    # one that no extract holds)
    del_ts = last_ts + rng.integers(1, 60, n_opp) * DAY
    deleted = (stage != WON) & ~conv & (rng.random(n_opp) < 0.012) & (del_ts < SPAN_END) & (n_events > 0)
    return Opportunities(
        ids=sf_ids("006", np.arange(n_opp) + 100_000),
        acc=d.acc,
        owner=d.owner,
        seg=d.seg,
        cur=d.cur,
        t0=d.t0,
        type=o_type,
        tier=tier,
        seats=seats,
        stage=stage,
        last_ts=last_ts,
        n_events=n_events,
        win_ts=win_ts,
        lead_source=o_lead_source,
        converted=conv,
        del_ts=del_ts,
        deleted=deleted,
    )


def _books(owner: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each rep's book: account indices grouped by owner, and where each owner's group starts and how long it is."""
    book = np.argsort(owner, kind="stable")
    book_start = np.searchsorted(owner[book], np.arange(n_users), side="left")
    book_cnt = np.searchsorted(owner[book], np.arange(n_users), side="right") - book_start
    return book, book_start, book_cnt


def _earliest_earlier_win(acc: np.ndarray, won: np.ndarray, win_ts: np.ndarray) -> np.ndarray:
    """Per opportunity (in account order), the earliest win of an earlier opportunity on the same account."""
    big = np.int64(1) << 40
    vals = np.where(won, win_ts, big - 1)
    prev = np.concatenate([[big - 1], vals[:-1]])
    first_of_acc = np.ones(len(acc), bool)
    first_of_acc[1:] = acc[1:] != acc[:-1]
    prev[first_of_acc] = big - 1
    grp = acc.astype(np.int64) * big
    return np.minimum.accumulate(prev - grp) + grp


def _stages_and_close(rng, d: Deals, o_type, won) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First stage, furthest open stage, and the close (pulled into quarter ends by some reps)."""
    n_opp = d.n
    s0 = np.where(o_type == 2, 3, np.where(o_type == 1, 1, np.where(rng.random(n_opp) < 0.85, 0, 1)))
    lost_max = np.maximum(s0, rng.choice(5, n_opp, p=[0.3, 0.3, 0.2, 0.12, 0.08]))
    m = np.where(won, np.where(rng.random(n_opp) < 0.8, 4, 3), lost_max)
    m = np.maximum(m, s0)
    dur = d.seg_median * np.array([1.0, 0.7, 0.5])[o_type] * d.noise
    dur = np.where(won, dur, dur * (0.4 + 0.6 * (m - s0 + 1) / (5 - s0)))
    tc = d.t0 + (np.maximum(dur, 3) * DAY).astype(np.int64)
    carried = d.t0 < SPAN_START
    tc = np.where(carried, np.maximum(tc, SPAN_START + rng.integers(3, 60, n_opp) * DAY + 15 * HOUR), tc)
    # reps pull deals into the last days of the quarter
    q_end = add_months(quarter_start(tc), np.full(n_opp, 3)) - DAY
    spike = q_end - rng.integers(0, 10, n_opp) * DAY + rng.integers(9 * HOUR, 22 * HOUR, n_opp)
    pull = won & (rng.random(n_opp) < 0.35) & (spike > d.t0 + 7 * DAY) & (spike >= SPAN_START)
    return s0, m, np.where(pull, spike, tc)


def _slips(rng, d: Deals, tc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Close-date slips: the date originally promised, then pushed 2-6 weeks at a time."""
    n_opp = d.n
    n_slip = rng.choice(4, n_opp, p=[0.6, 0.25, 0.1, 0.05]) + (d.seg == 2) * (rng.random(n_opp) < 0.3)
    n_slip = np.minimum(n_slip, 3)
    push = rng.integers(14, 43, (n_opp, 3)) * DAY * (np.arange(3)[None, :] < n_slip[:, None])
    planned0 = tc - push.sum(axis=1)
    bad = planned0 < d.t0 + 7 * DAY
    n_slip = np.where(bad, 0, n_slip)
    push[bad] = 0
    planned0 = tc - push.sum(axis=1)
    return n_slip, planned0, planned0[:, None] + np.cumsum(push, axis=1)

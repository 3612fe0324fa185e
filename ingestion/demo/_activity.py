"""Engagement events (calls, emails, meetings) the sales team logged against the CRM world, in monthly exports.

Events are generated in chunks of at most CHUNK events, each from its own random stream, so memory
stays flat at any scale and every chunk is written as its own batch files.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import _names as names
from ._common import (
    DAY,
    HOUR,
    MONTH_CUTS,
    SPAN_END,
    SPAN_START,
    Writer,
    arr,
    batch_index,
    keep_last_per_batch,
    rng_for,
    stripe_ids,
    weekday,
)
from ._crm import WON, Crm

CHUNK = 1_000_000
STD_OFFSET = np.array([-5, -8, 1, 9])  # AMER East, AMER West, EMEA, APAC
HAS_DST = np.array([1, 1, 1, 0])
CALL_OUT = ["connected", "no_answer", "voicemail", "busy"]
EMAIL_OUT = ["sent", "opened", "replied", "bounced"]
MEETING_OUT = ["scheduled", "held", "no_show", "cancelled"]


def _cum(weights: np.ndarray) -> np.ndarray:
    c = np.cumsum(weights.astype(float))
    return c / c[-1]


def _draw(rng, cum: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


def _offset_hours(ts: np.ndarray, region: np.ndarray) -> np.ndarray:
    # Northern-hemisphere summer time, approximated by calendar month; the offset written always
    # matches the instant, so an approximation here never produces a wrong timestamp.
    month = ts.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12
    summer = (month >= 3) & (month <= 9)
    return STD_OFFSET[region] + HAS_DST[region] * summer


def build_and_write(w: Writer, crm: Crm, seed: int, scale: float) -> None:
    users, acc, ct, leads, opps = crm.users, crm.accounts, crm.contacts, crm.leads, crm.opps
    n_total = max(2000, round(200_000 * scale))

    # who/what an event is about, and the time window it can fall in
    opp_open = opps.stage < WON
    opp_w = (opps.n_events + 1.0) * np.array([1.0, 1.3, 2.0])[opps.seg]
    opp_lo = np.maximum(opps.t0 - 7 * DAY, SPAN_START)
    opp_hi = np.where(opp_open, SPAN_END - DAY, opps.last_ts)
    lead_ok = leads.email != None  # noqa: E711
    lead_idx = np.nonzero(lead_ok)[0]
    cust_idx = np.nonzero(acc.first_win < SPAN_END - 2 * DAY)[0]
    cum_opp, cum_lead = _cum(opp_w), _cum(np.ones(len(lead_idx)))
    cum_cust = _cum(np.array([1.0, 1.5, 3.0])[acc.seg[cust_idx]]) if len(cust_idx) else None
    emails = users.email.astype(str)
    variants = np.stack([emails, np.char.title(emails), np.char.upper(emails)]).astype(object)
    lower_first = np.array([x.lower() for x in names.FIRST_NAMES], dtype=object)
    lower_last = np.array([x.lower() for x in names.LAST_NAMES], dtype=object)

    for chunk, lo in enumerate(range(0, n_total, CHUNK)):
        rng = rng_for(seed, 100 + chunk)
        n = min(CHUNK, n_total - lo)
        kind = rng.choice(
            3, n, p=[0.65, 0.2, 0.15] if len(cust_idx) else [0.8, 0.2, 0.0]
        )  # opp, lead, account
        io, il, ia = np.nonzero(kind == 0)[0], np.nonzero(kind == 1)[0], np.nonzero(kind == 2)[0]
        e_opp = np.full(n, -1)
        e_acc = np.full(n, -1)
        e_lead = np.full(n, -1)
        owner = np.zeros(n, np.int64)
        w_lo = np.zeros(n, np.int64)
        w_hi = np.zeros(n, np.int64)
        e_opp[io] = _draw(rng, cum_opp, len(io))
        e_acc[io] = opps.acc[e_opp[io]]
        owner[io] = opps.owner[e_opp[io]]
        w_lo[io], w_hi[io] = opp_lo[e_opp[io]], opp_hi[e_opp[io]]
        e_lead[il] = lead_idx[_draw(rng, cum_lead, len(il))]
        owner[il] = leads.owner[e_lead[il]]
        w_lo[il], w_hi[il] = leads.created[e_lead[il]], leads.end[e_lead[il]]
        if len(ia):
            e_acc[ia] = cust_idx[_draw(rng, cum_cust, len(ia))]
            owner[ia] = acc.owner[e_acc[ia]]
            w_lo[ia], w_hi[ia] = acc.first_win[e_acc[ia]], SPAN_END - DAY
        w_hi = np.maximum(w_hi, w_lo + HOUR)
        instant = w_lo + (rng.random(n) * (w_hi - w_lo)).astype(np.int64)
        # whole local working days inside the window, whatever the rep's UTC offset
        day = np.clip(instant // DAY * DAY, SPAN_START + DAY, SPAN_END - 2 * DAY)
        wd = weekday(day)
        day = np.where(wd >= 5, day - (wd - 4) * DAY, day)  # weekend work is logged on the Friday
        # a departed rep's accounts are worked by their manager
        rep = np.where(instant >= users.leave[owner], users.team_mgr[np.maximum(users.team[owner], 0)], owner)
        region = users.reg[rep]
        off = _offset_hours(day, region)
        occurred = day + rng.integers(8 * HOUR, 18 * HOUR, n) - off * HOUR
        off = _offset_hours(occurred, region)

        etype = rng.choice(3, n, p=[0.4, 0.45, 0.15])  # call, email, meeting
        inbound = rng.random(n) < np.array([0.1, 0.3, 0.15])[etype]
        call_out = np.where(inbound, 0, rng.choice(4, n, p=[0.35, 0.35, 0.25, 0.05]))
        email_out = np.where(inbound, 2, rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05]))
        meet_final = rng.choice([1, 2, 3], n, p=[0.75, 0.1, 0.15])
        dur = np.where(
            etype == 0,
            np.where(call_out == 0, np.exp(rng.normal(5.7, 0.7, n)), rng.integers(15, 60, n)),
            rng.choice([1800, 2700, 3600], n, p=[0.5, 0.2, 0.3]),
        ).astype(np.int64)

        # participants: CRM contacts of the account, sometimes only reachable by domain, sometimes strangers
        n_slots = np.where(etype == 2, 1 + rng.binomial(2, 0.45, n), 1 + rng.binomial(2, 0.15, n))
        parts = np.full((n, 3), None, dtype=object)
        has_acc = e_acc >= 0
        for j in range(3):  # three participant slots, each vectorised over the chunk
            use = has_acc & (n_slots > j)
            a = e_acc[use]
            ci = ct.start[a] + (rng.random(use.sum()) * ct.per_account[a]).astype(np.int64)
            em = ct.email[ci]
            r = rng.random(use.sum())
            role = (r < 0.08) | (em == None)  # noqa: E711
            stranger = ~role & (r < 0.12)
            picked = em.copy()
            nr, ns = int(role.sum()), int(stranger.sum())
            picked[role] = (
                np.array(names.ROLE_MAILBOXES, dtype=object)[rng.integers(0, len(names.ROLE_MAILBOXES), nr)]
                + "@"
                + acc.domain[a[role]]
            )
            picked[stranger] = (
                lower_first[rng.integers(0, len(lower_first), ns)]
                + "."
                + lower_last[rng.integers(0, len(lower_last), ns)]
                + rng.integers(10, 99, ns).astype(str).astype(object)
                + "@"
                + np.array(names.PERSONAL_DOMAINS, dtype=object)[rng.integers(0, 5, ns)]
            )
            parts[use, j] = picked
        parts[il, 0] = leads.email[e_lead[il]]
        parts[:, 1] = np.where(parts[:, 1] == parts[:, 0], None, parts[:, 1])
        parts[:, 2] = np.where((parts[:, 2] == parts[:, 0]) | (parts[:, 2] == parts[:, 1]), None, parts[:, 2])

        know_acc = has_acc & (rng.random(n) < np.where(e_opp >= 0, 0.55, 0.6))
        know_opp = (e_opp >= 0) & (rng.random(n) < 0.4)
        know_acc |= know_opp
        subj_lists = [names.CALL_SUBJECTS, names.EMAIL_SUBJECTS, names.MEETING_SUBJECTS]
        subject = np.empty(n, dtype=object)
        for t, lst in enumerate(subj_lists):  # three event types
            sel = etype == t
            subject[sel] = np.array(lst, dtype=object)[rng.integers(0, len(lst), sel.sum())]
        with_name = has_acc & (rng.random(n) < 0.3)
        subject[with_name] = subject[with_name] + " | " + acc.name[e_acc[with_name]]

        # versions: meetings are booked ahead (scheduled) and resolved afterwards; a few events get deleted
        base_upd = occurred + np.where(etype == 0, dur, 0) + rng.integers(0, 300, n)
        is_meet = etype == 2
        booked = np.maximum(
            occurred - rng.integers(1, 14, n) * DAY - rng.integers(0, 8 * HOUR, n), SPAN_START
        )
        resolved = occurred + dur + rng.integers(5 * 60, 2 * HOUR, n)
        deleted = rng.random(n) < 0.01
        del_ts = np.where(is_meet, resolved, base_upd) + rng.integers(1, 30, n) * DAY
        m = np.nonzero(is_meet)[0]
        nm = np.nonzero(~is_meet)[0]
        d = np.nonzero(deleted)[0]
        v_ev = np.concatenate([nm, m, m, d])
        v_ts = np.concatenate([base_upd[nm], booked[m], resolved[m], del_ts[d]])
        v_step = np.concatenate(
            [np.zeros(len(nm), int), np.zeros(len(m), int), np.ones(len(m), int), np.full(len(d), 2)]
        )
        ok = v_ts < SPAN_END
        v_ev, v_ts, v_step = v_ev[ok], v_ts[ok], v_step[ok]
        b = batch_index(v_ts, MONTH_CUTS)
        keep = keep_last_per_batch(v_ev, v_ts, b)
        v_ev, v_ts, v_step, b = v_ev[keep], v_ts[keep], v_step[keep], b[keep]
        resolved_now = (v_step >= 1) | ~is_meet[v_ev]
        t = etype[v_ev]
        outcome = np.where(
            t == 0,
            np.array(CALL_OUT, dtype=object)[call_out[v_ev]],
            np.where(
                t == 1,
                np.array(EMAIL_OUT, dtype=object)[email_out[v_ev]],
                np.array(MEETING_OUT, dtype=object)[np.where(resolved_now, meet_final[v_ev], 0)],
            ),
        )
        ids = stripe_ids("evt_", rng, n, 16)
        case = rng.choice(3, n, p=[0.85, 0.1, 0.05])
        tbl = pa.table(
            {
                "id": arr(ids[v_ev]),
                "type": arr(np.array(["call", "email", "meeting"], dtype=object)[t]),
                "direction": arr(np.where(inbound[v_ev], "inbound", "outbound").astype(object)),
                "occurred": occurred[v_ev],
                "occ_off": off[v_ev],
                "updated": v_ts,
                "upd_off": _offset_hours(v_ts, region[v_ev]),
                "rep_email": arr(variants[case[v_ev], rep[v_ev]]),
                "p0": arr(parts[v_ev, 0]),
                "p1": arr(parts[v_ev, 1]),
                "p2": arr(parts[v_ev, 2]),
                "crm_account_id": arr(np.where(know_acc[v_ev], acc.ids[np.maximum(e_acc[v_ev], 0)], None)),
                "crm_opportunity_id": arr(
                    np.where(know_opp[v_ev], opps.ids[np.maximum(e_opp[v_ev], 0)], None)
                ),
                "duration_seconds": arr(dur[v_ev], mask=t == 1),
                "outcome": arr(outcome),
                "subject": arr(subject[v_ev]),
                "is_deleted": v_step == 2,
                "_b": b,
            }
        )
        w.con.register("evt_v", tbl)
        w.json_batches(
            "activity/events",
            f"""
            SELECT id, type, direction, {_iso("occurred", "occ_off")} AS occurred_at,
                   {_iso("updated", "upd_off")} AS updated_at, rep_email,
                   list_filter([p0, p1, p2], lambda x: x IS NOT NULL) AS participant_emails,
                   crm_account_id, crm_opportunity_id, duration_seconds, outcome, subject, is_deleted, _b,
                   updated AS _sort
            FROM evt_v""",
            "_b",
            MONTH_CUTS,
            "_sort, id",
            seq=chunk + 1,
            hidden=("_sort",),
        )
        w.con.unregister("evt_v")


def _iso(ts: str, off: str) -> str:
    return (
        f"strftime(make_timestamp(({ts} + {off} * 3600) * 1000000), '%Y-%m-%dT%H:%M:%S') "
        f"|| printf('%+03d:00', {off})"
    )

"""Engagement events (calls, emails, meetings) the sales team logged against the CRM world, in monthly exports.

Events are generated in chunks of at most CHUNK events, each from its own random stream, so memory
stays flat at any scale and every chunk is written as its own batch files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..contract import object_for
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
    json_select,
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
_LOWER_FIRST = np.array([x.lower() for x in names.FIRST_NAMES], dtype=object)
_LOWER_LAST = np.array([x.lower() for x in names.LAST_NAMES], dtype=object)


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


@dataclass
class Pools:
    """What events are about, with weights: opportunities (busier when they progress), leads with an e-mail,
    customer accounts; and the time window each can be worked in."""

    cum_opp: np.ndarray
    opp_lo: np.ndarray
    opp_hi: np.ndarray
    lead_idx: np.ndarray
    cum_lead: np.ndarray
    cust_idx: np.ndarray
    cum_cust: np.ndarray | None
    rep_emails: np.ndarray  # (spelling, user): as typed, Title Case, UPPER CASE


def build_and_write(w: Writer, crm: Crm, seed: int, scale: float) -> None:
    n_total = max(2000, round(200_000 * scale))
    pools = _pools(crm)
    for chunk, lo in enumerate(range(0, n_total, CHUNK)):
        rng = rng_for(seed, 100 + chunk)
        n = min(CHUNK, n_total - lo)
        e = _about(rng, crm, pools, n)
        e.update(_when(rng, crm.users, e))
        e.update(_what(rng, n))
        e["parts"] = _participants(rng, crm, e)
        e.update(_links_and_subject(rng, crm, e))
        _write(w, rng, crm, pools, e, _versions(rng, e), seq=chunk + 1)


def _pools(crm: Crm) -> Pools:
    acc, leads, opps = crm.accounts, crm.leads, crm.opps
    opp_open = opps.stage < WON
    opp_w = (opps.n_events + 1.0) * np.array([1.0, 1.3, 2.0])[opps.seg]
    lead_idx = np.nonzero(leads.email != None)[0]  # noqa: E711
    cust_idx = np.nonzero(acc.first_win < SPAN_END - 2 * DAY)[0]
    emails = crm.users.email.astype(str)
    return Pools(
        cum_opp=_cum(opp_w),
        opp_lo=np.maximum(opps.t0 - 7 * DAY, SPAN_START),
        opp_hi=np.where(opp_open, SPAN_END - DAY, opps.last_ts),
        lead_idx=lead_idx,
        cum_lead=_cum(np.ones(len(lead_idx))),
        cust_idx=cust_idx,
        cum_cust=_cum(np.array([1.0, 1.5, 3.0])[acc.seg[cust_idx]]) if len(cust_idx) else None,
        rep_emails=np.stack([emails, np.char.title(emails), np.char.upper(emails)]).astype(object),
    )


def _about(rng, crm: Crm, pools: Pools, n: int) -> dict:
    """What each event is about (an opportunity, a lead or a customer account), its owner and time window."""
    acc, leads, opps = crm.accounts, crm.leads, crm.opps
    kind = rng.choice(3, n, p=[0.65, 0.2, 0.15] if len(pools.cust_idx) else [0.8, 0.2, 0.0])
    io, il, ia = np.nonzero(kind == 0)[0], np.nonzero(kind == 1)[0], np.nonzero(kind == 2)[0]
    e_opp = np.full(n, -1)
    e_acc = np.full(n, -1)
    e_lead = np.full(n, -1)
    owner = np.zeros(n, np.int64)
    w_lo = np.zeros(n, np.int64)
    w_hi = np.zeros(n, np.int64)
    e_opp[io] = _draw(rng, pools.cum_opp, len(io))
    e_acc[io] = opps.acc[e_opp[io]]
    owner[io] = opps.owner[e_opp[io]]
    w_lo[io], w_hi[io] = pools.opp_lo[e_opp[io]], pools.opp_hi[e_opp[io]]
    e_lead[il] = pools.lead_idx[_draw(rng, pools.cum_lead, len(il))]
    owner[il] = leads.owner[e_lead[il]]
    w_lo[il], w_hi[il] = leads.created[e_lead[il]], leads.end[e_lead[il]]
    if len(ia):
        e_acc[ia] = pools.cust_idx[_draw(rng, pools.cum_cust, len(ia))]
        owner[ia] = acc.owner[e_acc[ia]]
        w_lo[ia], w_hi[ia] = acc.first_win[e_acc[ia]], SPAN_END - DAY
    return dict(n=n, il=il, e_opp=e_opp, e_acc=e_acc, e_lead=e_lead, owner=owner, w_lo=w_lo, w_hi=w_hi)


def _when(rng, users, e: dict) -> dict:
    """The instant, on a local working day inside the window, and the rep who logs it with their UTC offset."""
    w_lo, owner = e["w_lo"], e["owner"]
    w_hi = np.maximum(e["w_hi"], w_lo + HOUR)
    instant = w_lo + (rng.random(e["n"]) * (w_hi - w_lo)).astype(np.int64)
    # whole local working days inside the window, whatever the rep's UTC offset
    day = np.clip(instant // DAY * DAY, SPAN_START + DAY, SPAN_END - 2 * DAY)
    wd = weekday(day)
    day = np.where(wd >= 5, day - (wd - 4) * DAY, day)  # weekend work is logged on the Friday
    # a departed rep's accounts are worked by their manager
    rep = np.where(instant >= users.leave[owner], users.team_mgr[np.maximum(users.team[owner], 0)], owner)
    region = users.reg[rep]
    off = _offset_hours(day, region)
    occurred = day + rng.integers(8 * HOUR, 18 * HOUR, e["n"]) - off * HOUR
    return dict(rep=rep, region=region, occurred=occurred, off=_offset_hours(occurred, region))


def _what(rng, n: int) -> dict:
    """Type (call, email, meeting), direction, outcome codes and duration."""
    etype = rng.choice(3, n, p=[0.4, 0.45, 0.15])
    inbound = rng.random(n) < np.array([0.1, 0.3, 0.15])[etype]
    call_out = np.where(inbound, 0, rng.choice(4, n, p=[0.35, 0.35, 0.25, 0.05]))
    email_out = np.where(inbound, 2, rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05]))
    meet_final = rng.choice([1, 2, 3], n, p=[0.75, 0.1, 0.15])
    dur = np.where(
        etype == 0,
        np.where(call_out == 0, np.exp(rng.normal(5.7, 0.7, n)), rng.integers(15, 60, n)),
        rng.choice([1800, 2700, 3600], n, p=[0.5, 0.2, 0.3]),
    ).astype(np.int64)
    return dict(
        etype=etype, inbound=inbound, call_out=call_out, email_out=email_out, meet_final=meet_final, dur=dur
    )


def _participants(rng, crm: Crm, e: dict) -> np.ndarray:
    """(event, slot) e-mails: CRM contacts of the account, sometimes a role mailbox only reachable by domain,
    sometimes a stranger's personal mailbox; the lead itself for a lead's event."""
    acc, ct = crm.accounts, crm.contacts
    n, e_acc, il = e["n"], e["e_acc"], e["il"]
    n_slots = np.where(e["etype"] == 2, 1 + rng.binomial(2, 0.45, n), 1 + rng.binomial(2, 0.15, n))
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
        picked[role] = _role_mailboxes(rng, acc.domain[a[role]])
        picked[stranger] = _strangers(rng, int(stranger.sum()))
        parts[use, j] = picked
    parts[il, 0] = crm.leads.email[e["e_lead"][il]]
    parts[:, 1] = np.where(parts[:, 1] == parts[:, 0], None, parts[:, 1])
    parts[:, 2] = np.where((parts[:, 2] == parts[:, 0]) | (parts[:, 2] == parts[:, 1]), None, parts[:, 2])
    return parts


def _role_mailboxes(rng, domain: np.ndarray) -> np.ndarray:
    mailbox = np.array(names.ROLE_MAILBOXES, dtype=object)[
        rng.integers(0, len(names.ROLE_MAILBOXES), len(domain))
    ]
    return mailbox + "@" + domain


def _strangers(rng, ns: int) -> np.ndarray:
    return (
        _LOWER_FIRST[rng.integers(0, len(_LOWER_FIRST), ns)]
        + "."
        + _LOWER_LAST[rng.integers(0, len(_LOWER_LAST), ns)]
        + rng.integers(10, 99, ns).astype(str).astype(object)
        + "@"
        + np.array(names.PERSONAL_DOMAINS, dtype=object)[rng.integers(0, 5, ns)]
    )


def _links_and_subject(rng, crm: Crm, e: dict) -> dict:
    """Whether the tool knew the CRM account / opportunity ids, and the subject line."""
    n, e_acc, e_opp, etype = e["n"], e["e_acc"], e["e_opp"], e["etype"]
    has_acc = e_acc >= 0
    know_acc = has_acc & (rng.random(n) < np.where(e_opp >= 0, 0.55, 0.6))
    know_opp = (e_opp >= 0) & (rng.random(n) < 0.4)
    know_acc |= know_opp
    subj_lists = [names.CALL_SUBJECTS, names.EMAIL_SUBJECTS, names.MEETING_SUBJECTS]
    subject = np.empty(n, dtype=object)
    for t, lst in enumerate(subj_lists):  # three event types
        sel = etype == t
        subject[sel] = np.array(lst, dtype=object)[rng.integers(0, len(lst), sel.sum())]
    with_name = has_acc & (rng.random(n) < 0.3)
    subject[with_name] = subject[with_name] + " | " + crm.accounts.name[e_acc[with_name]]
    return dict(know_acc=know_acc, know_opp=know_opp, subject=subject)


def _versions(rng, e: dict) -> dict:
    """Versions per monthly batch: meetings are booked ahead (scheduled) and resolved afterwards (held, no-show,
    cancelled); ~1 % of events are deleted later."""
    n, occurred, dur, etype = e["n"], e["occurred"], e["dur"], e["etype"]
    base_upd = occurred + np.where(etype == 0, dur, 0) + rng.integers(0, 300, n)
    is_meet = etype == 2
    booked = np.maximum(occurred - rng.integers(1, 14, n) * DAY - rng.integers(0, 8 * HOUR, n), SPAN_START)
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
    return dict(ev=v_ev[keep], ts=v_ts[keep], step=v_step[keep], batch=b[keep])


def _outcome(e: dict, v: dict) -> np.ndarray:
    """The outcome each version shows: a meeting is `scheduled` until resolved."""
    v_ev = v["ev"]
    resolved_now = (v["step"] >= 1) | (e["etype"][v_ev] != 2)
    t = e["etype"][v_ev]
    return np.where(
        t == 0,
        np.array(CALL_OUT, dtype=object)[e["call_out"][v_ev]],
        np.where(
            t == 1,
            np.array(EMAIL_OUT, dtype=object)[e["email_out"][v_ev]],
            np.array(MEETING_OUT, dtype=object)[np.where(resolved_now, e["meet_final"][v_ev], 0)],
        ),
    )


def _write(w: Writer, rng, crm: Crm, pools: Pools, e: dict, v: dict, seq: int) -> None:
    """The chunk's versions as activity/events/<batch>_<seq>.jsonl, in (updated, id) order."""
    v_ev, t = v["ev"], e["etype"][v["ev"]]
    ids = stripe_ids("evt_", rng, e["n"], 16)
    case = rng.choice(3, e["n"], p=[0.85, 0.1, 0.05])  # how the rep's e-mail is spelled
    e_acc, e_opp, parts = e["e_acc"][v_ev], e["e_opp"][v_ev], e["parts"]
    tbl = pa.table(
        {
            "id": arr(ids[v_ev]),
            "type": arr(np.array(["call", "email", "meeting"], dtype=object)[t]),
            "direction": arr(np.where(e["inbound"][v_ev], "inbound", "outbound").astype(object)),
            "occurred": e["occurred"][v_ev],
            "occ_off": e["off"][v_ev],
            "updated": v["ts"],
            "upd_off": _offset_hours(v["ts"], e["region"][v_ev]),
            "rep_email": arr(pools.rep_emails[case[v_ev], e["rep"][v_ev]]),
            "p0": arr(parts[v_ev, 0]),
            "p1": arr(parts[v_ev, 1]),
            "p2": arr(parts[v_ev, 2]),
            "crm_account_id": arr(
                np.where(e["know_acc"][v_ev], crm.accounts.ids[np.maximum(e_acc, 0)], None)
            ),
            "crm_opportunity_id": arr(
                np.where(e["know_opp"][v_ev], crm.opps.ids[np.maximum(e_opp, 0)], None)
            ),
            "duration_seconds": arr(e["dur"][v_ev], mask=t == 1),
            "outcome": arr(_outcome(e, v)),
            "subject": arr(e["subject"][v_ev]),
            "is_deleted": v["step"] == 2,
            "_b": v["batch"],
        }
    )
    w.con.register("evt_v", tbl)
    names_ = ("id", "type", "direction", "rep_email", "crm_account_id", "crm_opportunity_id")
    fields = {
        **{f: f for f in names_},
        "occurred_at": _iso("occurred", "occ_off"),
        "updated_at": _iso("updated", "upd_off"),
        "participant_emails": "list_filter([p0, p1, p2], lambda x: x IS NOT NULL)",
        **{f: f for f in ("duration_seconds", "outcome", "subject", "is_deleted")},
    }
    select = json_select(object_for("activity", "events"), fields)
    w.json_batches(
        "activity/events",
        f"SELECT {select}, _b, updated AS _sort FROM evt_v",
        "_b",
        MONTH_CUTS,
        "_sort, id",
        seq=seq,
        hidden=("_sort",),
    )
    w.con.unregister("evt_v")


def _iso(ts: str, off: str) -> str:
    return (
        f"strftime(make_timestamp(({ts} + {off} * 3600) * 1000000), '%Y-%m-%dT%H:%M:%S') "
        f"|| printf('%+03d:00', {off})"
    )

"""People outside the company: contacts of each account, and leads (converted into deals, or never)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import _names as names
from .._common import DAY, HOUR, N_DAYS, SPAN_END, SPAN_START, day_of, sf_ids
from .accounts import Accounts, Companies
from .common import Emit, business_time, sample_rep_days, versions
from .opportunities import Opportunities
from .org import REGION_UTC_OFFSET, Users, rep_capacity


@dataclass
class Contacts:
    """Contacts grouped by account; the first of each account is its primary contact (always with an e-mail)."""

    ids: np.ndarray
    acc: np.ndarray
    first: np.ndarray
    last: np.ndarray
    address: np.ndarray  # the e-mail address, also where it is not recorded (see `no_email`)
    no_email: np.ndarray
    title: np.ndarray
    created: np.ndarray
    start: np.ndarray  # per account: index of its first (primary) contact
    per_account: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def email(self) -> np.ndarray:
        """Email as recorded (None where missing)."""
        return np.where(self.no_email, None, self.address)


@dataclass
class Leads:
    """Leads: first those converted into opportunities (`opp`), then the others."""

    ids: np.ndarray
    company: np.ndarray
    address: np.ndarray
    no_email: np.ndarray
    source: np.ndarray
    owner: np.ndarray
    created: np.ndarray
    converted: np.ndarray
    opp: np.ndarray  # the opportunity a converted lead became (0 for the others)
    worked: np.ndarray  # contacted, at `w_ts`
    w_ts: np.ndarray
    closed: np.ndarray  # converted or given up, at `cl_ts`
    cl_ts: np.ndarray
    deleted: np.ndarray  # junk, deleted at `del_ts`
    del_ts: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def email(self) -> np.ndarray:
        return np.where(self.no_email, None, self.address)

    @cached_property
    def end(self) -> np.ndarray:
        """When a lead stops being worked: its close, else 90 days after creation (inside the window)."""
        lead_end = np.where(self.closed, self.cl_ts, self.created + 90 * DAY)
        return np.minimum(lead_end, SPAN_END - 1)


def build_contacts(rng, acc: Accounts) -> Contacts:
    n_ct_acc = 1 + rng.poisson(np.array([2.0, 3.5, 6.0])[acc.seg])
    c_acc = np.repeat(np.arange(acc.n), n_ct_acc)
    n_ct = len(c_acc)
    c_first_idx = rng.integers(0, len(names.FIRST_NAMES), n_ct)
    c_last_idx = rng.integers(0, len(names.LAST_NAMES), n_ct)
    c_first = np.array(names.FIRST_NAMES, dtype=object)[c_first_idx]
    c_last = np.array(names.LAST_NAMES, dtype=object)[c_last_idx]
    c_email = np.char.lower((c_first + "." + c_last).astype(str)).astype(object) + "@" + acc.domain[c_acc]
    c_no_email = rng.random(n_ct) < 0.05
    ct_start = np.concatenate([[0], np.cumsum(n_ct_acc)[:-1]])
    c_no_email[ct_start] = False  # the primary contact always has an address (billing uses it)
    c_title = np.array(names.CONTACT_TITLES, dtype=object)[rng.integers(0, len(names.CONTACT_TITLES), n_ct)]
    c_created = np.minimum(acc.created[c_acc] + rng.integers(0, 400, n_ct) * DAY, SPAN_END - 2 * DAY)
    c_created[ct_start] = acc.created + 3600  # the primary contact arrives with the account
    return Contacts(
        ids=sf_ids("003", np.arange(n_ct) + 3_000_000),
        acc=c_acc,
        first=c_first,
        last=c_last,
        address=c_email,
        no_email=c_no_email,
        title=c_title,
        created=c_created,
        start=ct_start,
        per_account=n_ct_acc,
    )


def build_leads(
    rng, scale: float, users: Users, acc: Accounts, companies: Companies, ct: Contacts, opps: Opportunities
) -> Leads:
    """Leads behind the converted deals (whose primary contact is known from the conversion on), then the rest."""
    conv_i = np.nonzero(opps.converted)[0]
    conv_contact = ct.start[opps.acc[conv_i]]
    conv_ts = opps.t0[conv_i]
    ct.created[conv_contact] = np.minimum(ct.created[conv_contact], conv_ts)
    n_lu = max(100, round(4000 * scale))
    lu_owner, lu_created, lu_base, lu_email = _unconverted(rng, users, acc.n, companies, n_lu)
    nc = len(conv_i)
    l_created = np.concatenate([conv_ts - rng.integers(3, 45, nc) * DAY, lu_created])
    l_company = np.concatenate(
        [acc.name[opps.acc[conv_i]], lu_base + " " + np.where(rng.random(n_lu) < 0.5, "Inc.", "Ltd")]
    )
    l_no_email = np.concatenate([np.zeros(nc, bool), rng.random(n_lu) < 0.03])
    l_source = np.concatenate(
        [opps.lead_source[conv_i], np.array(names.LEAD_SOURCES, dtype=object)[rng.integers(0, 6, n_lu)]]
    )
    worked, w_ts, closed, cl_ts, deleted, del_ts = _lifecycle(rng, l_created, conv_ts, n_lu)
    return Leads(
        ids=sf_ids("00Q", np.arange(nc + n_lu) + 4_000_000),
        company=l_company,
        address=np.concatenate([ct.address[conv_contact], lu_email]),
        no_email=l_no_email,
        source=l_source,
        owner=np.concatenate([opps.owner[conv_i], lu_owner]),
        created=l_created,
        converted=np.arange(nc + n_lu) < nc,
        opp=np.concatenate([conv_i, np.zeros(n_lu, np.int64)]),
        worked=worked,
        w_ts=w_ts,
        closed=closed,
        cl_ts=cl_ts,
        deleted=deleted,
        del_ts=del_ts,
    )


def _unconverted(rng, users: Users, n_acc: int, companies: Companies, n_lu: int):
    """Leads that never convert: owner, created, company (after the accounts' names) and e-mail."""
    days = SPAN_START + np.arange(N_DAYS, dtype=np.int64) * DAY
    lu_rep, lu_day = sample_rep_days(rng, rep_capacity(users, days), n_lu)
    lu_owner = users.reps[lu_rep]
    lu_created = business_time(rng, days[lu_day], REGION_UTC_OFFSET[users.reg[lu_owner]])
    lu_base, lu_slug = companies(n_acc + np.arange(n_lu))
    lu_email = (
        np.char.lower(
            (
                np.array(names.FIRST_NAMES, dtype=object)[rng.integers(0, len(names.FIRST_NAMES), n_lu)]
                + "."
                + np.array(names.LAST_NAMES, dtype=object)[rng.integers(0, len(names.LAST_NAMES), n_lu)]
            ).astype(str)
        ).astype(object)
        + "@"
        + lu_slug
        + ".com"
    )
    return lu_owner, lu_created, lu_base, lu_email


def _lifecycle(rng, l_created, conv_ts, n_lu: int):
    """Worked (contacted), closed (converted or given up) and deleted, with when; converted leads are all three
    but deleted."""
    nc = len(conv_ts)
    n_lead = nc + n_lu
    worked = np.concatenate([np.ones(nc, bool), rng.random(n_lu) < 0.8])
    w_ts = np.concatenate(
        [
            l_created[:nc] + ((conv_ts - l_created[:nc]) * rng.uniform(0.1, 0.5, nc)).astype(np.int64),
            l_created[nc:] + rng.integers(HOUR, 10 * DAY, n_lu),
        ]
    )
    closed = np.concatenate([np.ones(nc, bool), worked[nc:] & (rng.random(n_lu) < 0.55)])
    cl_ts = np.concatenate([conv_ts, w_ts[nc:] + rng.integers(10, 120, n_lu) * DAY])
    deleted = np.concatenate([np.zeros(nc, bool), ~worked[nc:] & (rng.random(n_lu) < 0.08)])
    del_ts = l_created + rng.integers(1, 20, n_lead) * DAY
    return worked, w_ts, closed, cl_ts, deleted, del_ts


def write_leads(emit: Emit, leads: Leads, u_ids, acc: Accounts, ct: Contacts, opps: Opportunities) -> None:
    """A version at creation, when worked, when closed (converted or not), and when deleted."""
    lid = np.arange(leads.n)
    st = [
        (lid, leads.created, 0),
        (lid[leads.worked], leads.w_ts[leads.worked], 1),
        (lid[leads.closed], leads.cl_ts[leads.closed], 2),
        (lid[leads.deleted], leads.del_ts[leads.deleted], 3),
    ]
    lk = np.concatenate([s[0] for s in st])
    lts = np.concatenate([s[1] for s in st])
    lstep = np.concatenate([np.full(len(s[0]), s[2]) for s in st])
    ok = lts < SPAN_END
    lk, lts, lstep = lk[ok], lts[ok], lstep[ok]
    status = np.where(
        lstep == 0,
        "Open - Not Contacted",
        np.where(
            lstep == 1,
            "Working - Contacted",
            np.where(leads.converted[lk], "Closed - Converted", "Closed - Not Converted"),
        ),
    ).astype(object)
    status = np.where(lstep == 3, "Open - Not Contacted", status)
    lconv = leads.converted[lk] & (lstep == 2)
    o = leads.opp[lk]
    columns = {
        "Id": leads.ids[lk],
        "Company": leads.company[lk],
        "Email": (leads.address[lk], leads.no_email[lk]),
        "Status": status,
        "LeadSource": leads.source[lk],
        "OwnerId": u_ids[leads.owner[lk]],
        "IsConverted": lconv,
        "ConvertedDate": (day_of(opps.t0[o]), ~lconv),
        "ConvertedAccountId": (acc.ids[opps.acc[o]], ~lconv),
        "ConvertedContactId": (ct.ids[ct.start[opps.acc[o]]], ~lconv),
        "ConvertedOpportunityId": (opps.ids[o], ~lconv),
        "CreatedDate": leads.created[lk],
        "SystemModstamp": lts,
        "IsDeleted": lstep == 3,
    }
    emit("Lead", versions("Lead", columns, lk, lts))


def write_contacts(rng, emit: Emit, ct: Contacts, acc: Accounts, u_ids) -> None:
    """A version at creation, some at a promotion (title), a few deletes (never a lead's converted contact)."""
    n_ct = ct.n
    protected = np.zeros(n_ct, bool)
    protected[ct.start] = True
    promo = rng.random(n_ct) < 0.05
    promo_ts = ct.created + rng.integers(60, 500, n_ct) * DAY
    promo &= promo_ts < SPAN_END
    c_del = ~protected & (rng.random(n_ct) < 0.015)
    c_del_ts = ct.created + rng.integers(30, 400, n_ct) * DAY
    c_del &= c_del_ts < SPAN_END
    cid = np.arange(n_ct)
    ck = np.concatenate([cid, cid[promo], cid[c_del]])
    cts = np.concatenate([ct.created, promo_ts[promo], c_del_ts[c_del]])
    cstep = np.concatenate([np.zeros(n_ct, int), np.ones(promo.sum(), int), np.full(c_del.sum(), 2)])
    promoted_at = np.where(promo, promo_ts, np.iinfo(np.int64).max)
    columns = {
        "Id": ct.ids[ck],
        "AccountId": acc.ids[ct.acc[ck]],
        "FirstName": ct.first[ck],
        "LastName": ct.last[ck],
        "Email": (ct.address[ck], ct.no_email[ck]),
        "Title": np.where(cts >= promoted_at[ck], "Senior " + ct.title[ck], ct.title[ck]),
        "OwnerId": u_ids[acc.owner[ct.acc[ck]]],
        "CreatedDate": ct.created[ck],
        "SystemModstamp": cts,
        "IsDeleted": cstep == 2,
    }
    emit("Contact", versions("Contact", columns, ck, cts))

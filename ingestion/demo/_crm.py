"""The Salesforce side of the demo world: sales org, accounts, pipeline with full history, all as versions.

Every object is produced as a table of *versions* (one row per state a record was in, stamped with the
instant it took that state). Writing then slices versions into extraction batches, so deltas carry
real updates and deletes rather than copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from . import _names as names
from ._common import (
    DAY,
    HOUR,
    N_DAYS,
    QUARTER_CUTS,
    SPAN_END,
    SPAN_START,
    add_months,
    arr,
    batch_index,
    day_of,
    ffill_index,
    keep_last_per_batch,
    quarter_start,
    rng_for,
    sf_ids,
    strictly_increasing,
    ts_of,
    weekday,
)

SEGMENTS = ["SMB", "Mid-Market", "Enterprise"]
REGIONS = ["AMER East", "AMER West", "EMEA", "APAC"]
# Team layout of a typical sales org: every segment covered by the first three teams, the home market
# (AMER) largest, then EMEA and APAC.
TEAM_TEMPLATE = [
    (2, 0),
    (1, 2),
    (0, 0),
    (2, 2),
    (1, 0),
    (0, 2),
    (1, 1),
    (0, 1),
    (2, 3),
    (1, 3),
    (2, 1),
    (0, 0),
]
CURRENCIES = ["USD", "EUR", "GBP", "JPY"]
FX_LIST = np.array([1.0, 0.92, 0.79, 150.0])  # list-price conversion, per USD
COUNTRIES = {  # region -> (country, weight, currency, tld, legal suffix)
    "AMER": [
        ("United States", 80, 0, "com", "Inc."),
        ("Canada", 12, 0, "ca", "Ltd."),
        ("Brazil", 8, 0, "com.br", "Ltda."),
    ],
    "EMEA": [
        ("United Kingdom", 35, 2, "co.uk", "Ltd"),
        ("Germany", 25, 1, "de", "GmbH"),
        ("France", 15, 1, "fr", "SAS"),
        ("Netherlands", 10, 1, "nl", "B.V."),
        ("Spain", 5, 1, "es", "S.L."),
        ("Ireland", 10, 1, "ie", "Ltd"),
    ],
    "APAC": [
        ("Japan", 55, 3, "co.jp", "K.K."),
        ("Australia", 25, 0, "com.au", "Pty Ltd"),
        ("Singapore", 20, 0, "sg", "Pte Ltd"),
    ],
}
COUNTRY_TABLE = [c for r in ("AMER", "EMEA", "APAC") for c in COUNTRIES[r]]

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
LEGACY_RETIRED = ts_of("2024-09-16T14:00:00")


def list_price_cents(usd: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Pricebook price per currency, rounded the way a price list would be (whole units; JPY to 100)."""
    local = np.asarray(usd, dtype=float) * FX_LIST[cur]
    whole = np.where(cur == 3, np.round(local / 100) * 100, np.round(local))
    return whole.astype(np.int64) * 100


@dataclass
class Crm:
    users: dict = field(default_factory=dict)
    accounts: dict = field(default_factory=dict)
    contacts: dict = field(default_factory=dict)
    leads: dict = field(default_factory=dict)
    opps: dict = field(default_factory=dict)


def _versions(columns: dict, key: np.ndarray, ts: np.ndarray) -> pa.Table:
    """Keep the latest version per record per batch and attach the batch index."""
    b = batch_index(ts, QUARTER_CUTS)
    keep = keep_last_per_batch(key, ts, b)
    cols = {}
    for name, (values, mask) in columns.items():
        v = values[keep] if isinstance(values, np.ndarray) else values
        m = mask[keep] if isinstance(mask, np.ndarray) else None
        cols[name] = arr(v, m)
    cols["_batch"] = pa.array(b[keep])
    return pa.table(cols)


def _c(values, mask=None):
    return (values, mask)


def _sample_rep_days(rng, weights: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    flat = weights.ravel()
    cum = np.cumsum(flat)
    pos = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    pos = np.minimum(pos, len(flat) - 1)
    return pos // weights.shape[1], pos % weights.shape[1]


def _business_time(rng, day_ts: np.ndarray, utc_offset_h: np.ndarray) -> np.ndarray:
    """A working-hours instant (local 08:00-18:00) on the given UTC day, as UTC seconds."""
    local = rng.integers(8 * HOUR, 18 * HOUR, size=len(day_ts))
    return day_ts + local - utc_offset_h.astype(np.int64) * HOUR


REGION_UTC_OFFSET = np.array([-5, -8, 1, 9])


def build(scale: float, seed: int, emit) -> Crm:
    """Simulate the CRM; each object's version table goes to `emit(object, table, spec)` as soon as it is built."""
    rng = rng_for(seed, 1)
    crm = Crm()
    days = SPAN_START + np.arange(N_DAYS, dtype=np.int64) * DAY

    # ------------------------------------------------------------------ org: roles and users
    n_users = max(14, round(100 * scale))
    n_mgr = max(3, round(n_users / 10))
    n_rep = n_users - 1 - n_mgr
    team_seg = np.array([TEAM_TEMPLATE[k % len(TEAM_TEMPLATE)][0] for k in range(n_mgr)])
    team_reg = np.array([TEAM_TEMPLATE[k % len(TEAM_TEMPLATE)][1] for k in range(n_mgr)])
    seen: dict[tuple[int, int], int] = {}
    team_name = []
    for s, r in zip(team_seg, team_reg, strict=True):  # one row per team (~10 per 100 users)
        occ = seen.get((s, r), 0)
        seen[(s, r)] = occ + 1
        team_name.append(f"{SEGMENTS[s]} {REGIONS[r]}" + (f" {occ + 1}" if occ else ""))
    team_name = np.array(team_name, dtype=object)

    # roles: 0 CEO, 1 VP Sales, then per team a manager role and an AE role under it
    n_roles = 2 + 2 * n_mgr
    role_ids = sf_ids("00E", np.arange(n_roles) + 1200)
    role_name = np.empty(n_roles, dtype=object)
    role_name[:2] = ["CEO", "VP Sales"]
    role_name[2::2] = team_name + " Sales Manager"
    role_name[3::2] = team_name + " Account Executive"
    role_parent = np.empty(n_roles, dtype=object)
    role_parent[0] = None
    role_parent[1] = role_ids[0]
    role_parent[2::2] = role_ids[1]
    role_parent[3::2] = role_ids[2::2]
    # Sales leadership retitled its managers in early 2025: a real rename the loader must pick up.
    renamed = np.arange(2, n_roles, 2)
    r_key = np.concatenate([np.arange(n_roles), renamed])
    r_ts = np.concatenate(
        [np.full(n_roles, ts_of("2019-01-02")), np.full(len(renamed), ts_of("2025-02-03T16:00"))]
    )
    r_name = np.concatenate(
        [role_name, np.array([team_name[(i - 2) // 2] + " Sales Director" for i in renamed], dtype=object)]
    )
    emit(
        "UserRole",
        _versions(
            {"Id": _c(role_ids[r_key]), "Name": _c(r_name), "ParentRoleId": _c(role_parent[r_key])},
            r_key,
            r_ts,
        ),
        [("Id", "str"), ("Name", "str"), ("ParentRoleId", "str")],
    )

    u_team = np.concatenate([[-1], np.arange(n_mgr), np.arange(n_rep) % n_mgr])
    u_kind = np.concatenate([[0], np.ones(n_mgr, int), np.full(n_rep, 2)])  # 0 VP, 1 manager, 2 rep
    u_seg = np.where(u_team >= 0, team_seg[np.maximum(u_team, 0)], -1)
    u_reg = np.where(u_team >= 0, team_reg[np.maximum(u_team, 0)], 0)
    # Tenured staff joined before the window; about a quarter of reps are hired (and ramp) inside it.
    hired_in_span = (u_kind == 2) & (rng.random(n_users) < 0.28)
    hire = np.where(
        hired_in_span,
        ts_of("2024-02-01") + rng.integers(0, ts_of("2025-09-30") - ts_of("2024-02-01"), n_users),
        ts_of("2020-01-06") + rng.integers(0, ts_of("2023-12-15") - ts_of("2020-01-06"), n_users),
    )
    hire[0] = ts_of("2019-03-04T15:30:00")
    hire = day_of(hire) * DAY + 15 * HOUR + rng.integers(0, 3 * HOUR, n_users)
    leaver = (u_kind == 2) & (rng.random(n_users) < 0.09) & (hire < ts_of("2025-05-01"))
    leave_lo = np.maximum(hire + 180 * DAY, ts_of("2024-03-01"))
    leave = np.where(
        leaver,
        leave_lo + (rng.random(n_users) * (ts_of("2025-11-30") - leave_lo)).astype(np.int64),
        np.iinfo(np.int64).max,
    )
    pairs = rng.choice(
        len(names.FIRST_NAMES) * len(names.LAST_NAMES),
        n_users,
        replace=n_users > len(names.FIRST_NAMES) * len(names.LAST_NAMES),
    )
    first = np.array(names.FIRST_NAMES, dtype=object)[pairs // len(names.LAST_NAMES)]
    last = np.array(names.LAST_NAMES, dtype=object)[pairs % len(names.LAST_NAMES)]
    u_name = first + " " + last
    local = np.char.lower((first + "." + last).astype(str))
    if n_users > len(names.FIRST_NAMES) * len(names.LAST_NAMES):
        local = np.char.add(local, np.arange(n_users).astype(str))
    u_email = np.char.add(local, "@northpeak.io").astype(object)
    u_ids = sf_ids("005", np.arange(n_users) + 4000)
    u_role = np.where(
        u_kind == 0, 1, np.where(u_kind == 1, 2 + 2 * np.maximum(u_team, 0), 3 + 2 * np.maximum(u_team, 0))
    )
    mgr_user = np.concatenate(
        [[None], np.full(n_mgr, u_ids[0], dtype=object), u_ids[1 + (np.arange(n_rep) % n_mgr)]]
    )
    senior = rng.random(n_users) < 0.35
    u_title = np.where(
        u_kind == 0,
        "VP Sales",
        np.where(
            u_kind == 1,
            "Sales Manager",
            np.where(
                u_seg == 2,
                "Enterprise Account Executive",
                np.where(senior & ~hired_in_span, "Senior Account Executive", "Account Executive"),
            ),
        ),
    )
    u_dept = np.where(u_seg >= 0, np.array(SEGMENTS, dtype=object)[np.maximum(u_seg, 0)], "Sales")
    skill = rng.normal(0.0, 0.35, n_users)

    has_left = leaver & (leave < SPAN_END)
    uk = np.concatenate([np.arange(n_users), np.nonzero(has_left)[0]])
    uts = np.concatenate([hire, leave[has_left]])
    uactive = np.concatenate([np.ones(n_users, bool), np.zeros(has_left.sum(), bool)])
    emit(
        "User",
        _versions(
            {
                "Id": _c(u_ids[uk]),
                "Name": _c(u_name[uk]),
                "Email": _c(u_email[uk]),
                "IsActive": _c(uactive),
                "ManagerId": _c(mgr_user[uk]),
                "UserRoleId": _c(role_ids[u_role[uk]]),
                "Title": _c(u_title[uk]),
                "Department": _c(u_dept[uk]),
                "CreatedDate": _c(hire[uk]),
                "SystemModstamp": _c(uts),
            },
            uk,
            uts,
        ),
        [
            ("Id", "str"),
            ("Name", "str"),
            ("Email", "str"),
            ("IsActive", "bool"),
            ("ManagerId", "str"),
            ("UserRoleId", "str"),
            ("Title", "str"),
            ("Department", "str"),
            ("CreatedDate", "dt"),
            ("SystemModstamp", "dt"),
        ],
    )
    team_mgr = 1 + np.arange(n_mgr)
    crm.users = dict(
        ids=u_ids,
        email=u_email,
        name=u_name,
        team=u_team,
        kind=u_kind,
        seg=u_seg,
        reg=u_reg,
        hire=hire,
        leave=leave,
        team_mgr=team_mgr,
        n=n_users,
    )

    # capacity of each rep on each day to open pipeline: employed, ramped, by segment, growing company
    reps = np.nonzero(u_kind == 2)[0]
    employed = (days[None, :] >= hire[reps, None]) & (days[None, :] < leave[reps, None])
    ramp = np.clip((days[None, :] - hire[reps, None]) / (90 * DAY), 0.25, 1.0)
    seg_rate = np.array([1.6, 1.0, 0.45])[u_seg[reps]]
    growth = 1 + 0.35 * np.arange(N_DAYS) / N_DAYS
    wd = np.where(weekday(days) < 5, 1.0, 0.08)
    capacity = employed * ramp * seg_rate[:, None] * (growth * wd)[None, :]

    # ------------------------------------------------------------------ accounts
    n_acc = max(60, round(5000 * scale))
    a_seg = rng.choice(3, n_acc, p=[0.5, 0.33, 0.17])
    a_owner = np.empty(n_acc, dtype=np.int64)
    for s in range(3):  # three segments: hand each segment's accounts to that segment's reps
        idx = np.nonzero(a_seg == s)[0]
        seg_reps = reps[u_seg[reps] == s]
        w = np.where(hired_in_span[seg_reps], 0.6, 1.0)
        owners = seg_reps[rng.choice(len(seg_reps), len(idx), p=w / w.sum())]
        k = min(len(idx), len(seg_reps))
        owners[:k] = seg_reps[:k]  # every rep has a book
        a_owner[idx] = owners
    a_reg = u_reg[a_owner]
    macro = np.array([0, 0, 1, 2])[a_reg]  # AMER, AMER, EMEA, APAC
    # some accounts are headquartered outside their owner's region (global coverage)
    abroad = rng.random(n_acc) < 0.1
    macro = np.where(abroad, rng.choice(3, n_acc, p=[0.4, 0.35, 0.25]), macro)
    country_idx = np.empty(n_acc, dtype=np.int64)
    offset = 0
    for m, region in enumerate(("AMER", "EMEA", "APAC")):
        sel = macro == m
        w = np.array([c[1] for c in COUNTRIES[region]], dtype=float)
        country_idx[sel] = offset + rng.choice(len(w), sel.sum(), p=w / w.sum())
        offset += len(w)
    a_country = np.array([c[0] for c in COUNTRY_TABLE], dtype=object)[country_idx]
    a_cur = np.array([c[2] for c in COUNTRY_TABLE])[country_idx]
    tld = np.array([c[3] for c in COUNTRY_TABLE], dtype=object)[country_idx]
    legal = np.array([c[4] for c in COUNTRY_TABLE], dtype=object)[country_idx]

    n_combo = len(names.COMPANY_A) * len(names.COMPANY_B) * len(names.COMPANY_C)
    combo_perm = rng.permutation(n_combo)

    def company(i: np.ndarray):
        c = combo_perm[i % n_combo]
        dup = i // n_combo
        a = np.array(names.COMPANY_A, dtype=object)[c // (len(names.COMPANY_B) * len(names.COMPANY_C))]
        b = np.array(names.COMPANY_B, dtype=object)[(c // len(names.COMPANY_C)) % len(names.COMPANY_B)]
        cc = np.array(names.COMPANY_C, dtype=object)[c % len(names.COMPANY_C)]
        base = a + b + " " + cc
        slug = np.char.lower((a + b + cc).astype(str)).astype(object) + np.where(dup > 0, dup.astype(str), "")
        return base, slug

    a_base, a_slug = company(np.arange(n_acc))
    comma = (legal == "Inc.") & (rng.random(n_acc) < 0.4)  # "Acme, Inc." forces CSV quoting
    a_name = a_base + np.where(comma, ", ", " ") + legal
    a_domain = a_slug + "." + tld
    web_style = rng.choice(3, n_acc, p=[0.7, 0.2, 0.1])
    a_web = np.where(
        web_style == 0, "www." + a_domain, np.where(web_style == 1, "https://www." + a_domain + "/", a_domain)
    )
    emp_lo = np.array([10, 200, 2000])[a_seg]
    emp = (emp_lo * np.exp(rng.random(n_acc) * np.log(np.array([20, 10, 25])[a_seg]))).astype(np.int64)
    revenue = (emp * rng.uniform(80, 260, n_acc)).astype(np.int64) * 1000 * 100  # cents, whole thousands
    industry = np.array(names.INDUSTRIES, dtype=object)[rng.integers(0, len(names.INDUSTRIES), n_acc)]
    a_created = ts_of("2019-01-07") + (
        rng.random(n_acc) ** 0.7 * (ts_of("2025-11-30") - ts_of("2019-01-07"))
    ).astype(np.int64)
    a_ids = sf_ids("001", np.arange(n_acc) + 10_000)
    is_ent = np.nonzero(a_seg == 2)[0]
    a_parent = np.full(n_acc, None, dtype=object)
    if len(is_ent) > 10:
        child = is_ent[10:][rng.random(len(is_ent) - 10) < 0.06]
        a_parent[child] = a_ids[is_ent[rng.integers(0, 10, len(child))]]

    # account books: position of each rep's accounts, for picking an account for each opportunity
    book = np.argsort(a_owner, kind="stable")
    book_start = np.searchsorted(a_owner[book], np.arange(n_users), side="left")
    book_cnt = np.searchsorted(a_owner[book], np.arange(n_users), side="right") - book_start

    # ------------------------------------------------------------------ opportunities: who, when, what
    # Pipeline opened in the half year before the window is carried into it (only deals still open on
    # 2024-01-01 are kept), so early 2024 closes and attainment look like any other quarter's.
    pre = 184
    days_x = SPAN_START - pre * DAY + np.arange(N_DAYS + pre, dtype=np.int64) * DAY
    employed_x = (days_x[None, :] >= hire[reps, None]) & (days_x[None, :] < leave[reps, None])
    ramp_x = np.clip((days_x[None, :] - hire[reps, None]) / (90 * DAY), 0.25, 1.0)
    growth_x = 1 + 0.35 * (np.arange(N_DAYS + pre) - pre) / N_DAYS
    wd_x = np.where(weekday(days_x) < 5, 1.0, 0.08)
    capacity_x = employed_x * ramp_x * seg_rate[:, None] * (growth_x * wd_x)[None, :]
    n_draw = max(450, round(20000 * scale * 1.12))
    rep_i, day_i = _sample_rep_days(rng, capacity_x, n_draw)
    o_owner = reps[rep_i]
    o_reg = u_reg[o_owner]
    t0 = _business_time(rng, days_x[day_i], REGION_UTC_OFFSET[o_reg])
    o_acc = book[book_start[o_owner] + (rng.random(n_draw) * book_cnt[o_owner]).astype(np.int64)]
    o_seg = a_seg[o_acc]
    u_win = rng.random(n_draw)
    noise = np.exp(rng.normal(0, 0.5, n_draw))
    seg_median = np.array([35.0, 75.0, 140.0])[o_seg]
    keep = (t0 >= SPAN_START) | (t0 + seg_median * noise * DAY >= SPAN_START + 14 * DAY)
    order = np.nonzero(keep)[0]
    order = order[np.lexsort((t0[order], o_acc[order]))]  # (account, created) order from here on
    o_owner, o_reg, t0, o_acc, o_seg = o_owner[order], o_reg[order], t0[order], o_acc[order], o_seg[order]
    u_win, noise, seg_median = u_win[order], noise[order], seg_median[order]
    n_opp = len(order)
    o_cur = a_cur[o_acc]

    # outcome: win rate by segment and type, shifted by the rep's skill
    base = np.array([[0.30, 0.45, 0.80], [0.24, 0.42, 0.78], [0.19, 0.40, 0.75]])

    def p_win(t):
        b = base[o_seg, t]
        return 1 / (1 + np.exp(-(np.log(b / (1 - b)) + skill[o_owner])))

    # Type follows the account's history: expansion and renewal deals only after a win on the account
    # (judged on a first, new-business pass; other types only raise the win rate, so no such win is lost).
    won_nb = u_win < p_win(np.zeros(n_opp, np.int64))
    tc_nb = t0 + (seg_median * noise * DAY).astype(np.int64)
    big = np.int64(1) << 40
    vals = np.where(won_nb, tc_nb, big - 1)
    prev = np.concatenate([[big - 1], vals[:-1]])
    first_of_acc = np.ones(n_opp, bool)
    first_of_acc[1:] = o_acc[1:] != o_acc[:-1]
    prev[first_of_acc] = big - 1
    grp = o_acc.astype(np.int64) * big
    prior_win = np.minimum.accumulate(prev - grp) + grp  # earliest earlier win on the same account
    r = rng.random(n_opp)
    o_type = np.where(
        prior_win < t0 - 270 * DAY,
        np.where(r < 0.45, 2, np.where(r < 0.9, 1, 0)),
        np.where(prior_win < t0, np.where(r < 0.8, 1, 0), 0),
    )
    won = u_win < p_win(o_type)
    # accounts exist before their first deal (weeks to years)
    first_t0 = np.full(n_acc, np.iinfo(np.int64).max)
    np.minimum.at(first_t0, o_acc, t0)
    has_opp = first_t0 < np.iinfo(np.int64).max
    a_created = np.where(
        has_opp, np.minimum(a_created, first_t0 - rng.integers(DAY, 120 * DAY, n_acc)), a_created
    )

    s0 = np.where(o_type == 2, 3, np.where(o_type == 1, 1, np.where(rng.random(n_opp) < 0.85, 0, 1)))
    lost_max = np.maximum(s0, rng.choice(5, n_opp, p=[0.3, 0.3, 0.2, 0.12, 0.08]))
    m = np.where(won, np.where(rng.random(n_opp) < 0.8, 4, 3), lost_max)
    m = np.maximum(m, s0)
    dur = seg_median * np.array([1.0, 0.7, 0.5])[o_type] * noise
    dur = np.where(won, dur, dur * (0.4 + 0.6 * (m - s0 + 1) / (5 - s0)))
    tc = t0 + (np.maximum(dur, 3) * DAY).astype(np.int64)
    carried = t0 < SPAN_START
    tc = np.where(carried, np.maximum(tc, SPAN_START + rng.integers(3, 60, n_opp) * DAY + 15 * HOUR), tc)
    # reps pull deals into the last days of the quarter
    q_end = add_months(quarter_start(tc), np.full(n_opp, 3)) - DAY
    spike = q_end - rng.integers(0, 10, n_opp) * DAY + rng.integers(9 * HOUR, 22 * HOUR, n_opp)
    pull = won & (rng.random(n_opp) < 0.35) & (spike > t0 + 7 * DAY) & (spike >= SPAN_START)
    tc = np.where(pull, spike, tc)

    # close-date slips: the date originally promised, then pushed 2-6 weeks at a time
    n_slip = rng.choice(4, n_opp, p=[0.6, 0.25, 0.1, 0.05]) + (o_seg == 2) * (rng.random(n_opp) < 0.3)
    n_slip = np.minimum(n_slip, 3)
    push = rng.integers(14, 43, (n_opp, 3)) * DAY * (np.arange(3)[None, :] < n_slip[:, None])
    planned0 = tc - push.sum(axis=1)
    bad = planned0 < t0 + 7 * DAY
    n_slip = np.where(bad, 0, n_slip)
    push[bad] = 0
    planned0 = tc - push.sum(axis=1)
    planned = planned0[:, None] + np.cumsum(push, axis=1)  # close date after slip j

    # reopened: lost, then revived weeks later and closed again
    reopen = (~won) & (m >= 1) & (rng.random(n_opp) < 0.04)
    tr = tc + rng.integers(20, 90, n_opp) * DAY
    tc2 = tr + rng.integers(30, 90, n_opp) * DAY
    won2 = rng.random(n_opp) < 0.45

    # ------------------------------------------------------------------ line items and amounts
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
    slot_prod = np.stack(
        [tier, np.full(n_opp, 3), np.full(n_opp, 4), np.full(n_opp, 5), np.full(n_opp, 6)], 1
    )
    slot_on = np.stack(
        [
            np.ones(n_opp, bool),
            rng.random(n_opp) < np.array([0.2, 0.4, 0.45])[o_seg],
            (rng.random(n_opp) < np.array([0.0, 0.3, 0.5])[o_seg]) & (o_type != 1),
            (rng.random(n_opp) < np.array([0.1, 0.4, 0.7])[o_seg]) & (o_type == 0),
            rng.random(n_opp) < 0.2,
        ],
        1,
    )
    slot_qty = np.stack(
        [seats, seats, np.ones(n_opp, np.int64), np.ones(n_opp, np.int64), rng.integers(1, 6, n_opp)], 1
    )
    disc = rng.choice([0, 5, 10, 15, 20, 25], n_opp, p=[0.35, 0.2, 0.2, 0.12, 0.08, 0.05])
    disc = np.where(o_seg == 2, np.minimum(disc + 5, 30), disc)
    slot_disc = np.where(np.arange(5)[None, :] < 2, disc[:, None], 0)
    usd = np.array([p[3] for p in PRODUCTS])[slot_prod]
    slot_unit = list_price_cents(usd, np.repeat(o_cur[:, None], 5, 1))

    def totals(qty):
        t = (qty * slot_unit * (100 - slot_disc) + 50) // 100
        t = np.where(o_cur[:, None] == 3, (t + 50) // 100 * 100, t)  # yen have no minor unit
        return np.where(slot_on, t, 0)

    qty_final = slot_qty
    chg = rng.random(n_opp) < 0.35
    q0_init = np.maximum(1, np.round(seats * rng.uniform(0.6, 1.4, n_opp))).astype(np.int64)
    chg &= q0_init != seats
    qty_init = slot_qty.copy()
    qty_init[:, 0] = np.where(chg, q0_init, seats)
    qty_init[:, 1] = np.where(chg & slot_on[:, 1], q0_init, seats)  # add-on follows the seat count
    amt_final = totals(qty_final).sum(1)
    amt_init = totals(qty_init).sum(1)
    ta = t0 + (rng.uniform(0.2, 0.9, n_opp) * (np.minimum(tc, SPAN_END) - t0)).astype(np.int64)

    # ------------------------------------------------------------------ the event stream of each opportunity
    idx = np.arange(n_opp)
    ev = []  # (opp, ts, kind, stage or -1, close-date ts or -1)
    ev.append((idx, t0, 0, s0, planned0))
    frac = np.sort(rng.random((n_opp, 4)), axis=1) * 0.9
    for s in range(1, 5):
        skip = rng.random(n_opp) < 0.15
        visit = (s > s0) & (s <= m) & ((s == m) | ~skip)
        ev.append(
            (
                idx[visit],
                (t0 + frac[:, s - 1] * (tc - t0)).astype(np.int64)[visit],
                1,
                np.full(visit.sum(), s),
                np.full(visit.sum(), -1),
            )
        )
    ev.append((idx[chg], ta[chg], 2, np.full(chg.sum(), -1), np.full(chg.sum(), -1)))
    prev_planned = planned0
    for j in range(3):
        has = n_slip > j
        when = np.clip(prev_planned - rng.integers(0, 8, n_opp) * DAY, t0 + HOUR, tc - HOUR)
        ev.append((idx[has], when[has], 3, np.full(has.sum(), -1), planned[has, j]))
        prev_planned = planned[:, j]
    ev.append((idx, tc, 4, np.where(won, WON, LOST), tc))
    ev.append((idx[reopen], tr[reopen], 5, np.full(reopen.sum(), 1), tc2[reopen]))
    ev.append((idx[reopen], tc2[reopen], 6, np.where(won2, WON, LOST)[reopen], tc2[reopen]))
    e_opp = np.concatenate([e[0] for e in ev])
    e_ts = np.concatenate([e[1] for e in ev]).astype(np.int64)
    e_kind = np.concatenate([np.full(len(e[0]), e[2]) for e in ev])
    e_stage = np.concatenate([e[3] for e in ev]).astype(np.int64)
    e_close = np.concatenate([e[4] for e in ev]).astype(np.int64)
    o = np.lexsort((e_kind, e_ts, e_opp))
    e_opp, e_ts, e_kind, e_stage, e_close = e_opp[o], e_ts[o], e_kind[o], e_stage[o], e_close[o]
    e_ts = strictly_increasing(e_opp, e_ts)
    live = e_ts < SPAN_END
    e_opp, e_ts, e_kind, e_stage, e_close = (
        e_opp[live],
        e_ts[live],
        e_kind[live],
        e_stage[live],
        e_close[live],
    )
    e_stage = e_stage[ffill_index(e_stage >= 0)]
    e_closedate = day_of(e_close[ffill_index(e_close >= 0)])
    e_amt = np.where(chg[e_opp] & (e_ts < ta[e_opp]), amt_init[e_opp], amt_final[e_opp])
    last_ev = np.ones(len(e_opp), bool)
    last_ev[:-1] = e_opp[1:] != e_opp[:-1]
    cur_stage = np.empty(n_opp, np.int64)
    cur_stage[e_opp[last_ev]] = e_stage[last_ev]
    last_ts = np.empty(n_opp, np.int64)
    last_ts[e_opp[last_ev]] = e_ts[last_ev]
    n_ev = np.bincount(e_opp, minlength=n_opp)
    win_ts = np.where(cur_stage == WON, np.where(reopen, tc2, tc), np.iinfo(np.int64).max)

    o_ids = sf_ids("006", np.arange(n_opp) + 100_000)
    o_lead_source = np.where(
        o_type == 0,
        np.array(names.LEAD_SOURCES, dtype=object)[
            rng.choice(6, n_opp, p=[0.3, 0.12, 0.1, 0.08, 0.28, 0.12])
        ],
        np.where(rng.random(n_opp) < 0.5, "Existing Customer", None),
    )

    # converted leads: many inbound new-business deals started life as a lead
    conv = (o_type == 0) & np.isin(o_lead_source, names.LEAD_SOURCES_INBOUND) & (rng.random(n_opp) < 0.7)

    # deletes: a few duplicate/junk opportunities removed later (never won ones, never lead-converted)
    del_ts = last_ts + rng.integers(1, 60, n_opp) * DAY
    deleted = (cur_stage != WON) & ~conv & (rng.random(n_opp) < 0.012) & (del_ts < SPAN_END)

    # ------------------------------------------------------------------ Opportunity versions
    name_suffix = np.where(
        o_type == 0,
        " - " + seats.astype(str).astype(object) + " seats",
        np.where(
            o_type == 1,
            " - Expansion " + seats.astype(str).astype(object) + " seats",
            " - Renewal "
            + (1970 + tc.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64))
            .astype(str)
            .astype(object),
        ),
    )
    o_name = a_base[o_acc] + name_suffix
    d = np.nonzero(deleted)[0]
    ld = np.nonzero(last_ev)[0]
    pos_of_last = np.empty(n_opp, np.int64)
    pos_of_last[e_opp[ld]] = ld
    v_src = np.concatenate([np.arange(len(e_opp)), pos_of_last[d]])  # event row each version copies
    v_opp = e_opp[v_src]
    v_ts = np.concatenate([e_ts, del_ts[d]])
    v_del = np.concatenate([np.zeros(len(e_opp), bool), np.ones(len(d), bool)])
    v_stage = e_stage[v_src]
    stage_names = np.array(STAGES, dtype=object)
    emit(
        "Opportunity",
        _versions(
            {
                "Id": _c(o_ids[v_opp]),
                "Name": _c(o_name[v_opp]),
                "AccountId": _c(a_ids[o_acc[v_opp]]),
                "OwnerId": _c(u_ids[o_owner[v_opp]]),
                "StageName": _c(stage_names[v_stage]),
                "Amount": _c(e_amt[v_src]),
                "Probability": _c(STAGE_PROB[v_stage]),
                "CloseDate": _c(e_closedate[v_src]),
                "IsClosed": _c(v_stage >= WON),
                "IsWon": _c(v_stage == WON),
                "ForecastCategoryName": _c(np.array(STAGE_FC, dtype=object)[v_stage]),
                "Type": _c(np.array(OPP_TYPES, dtype=object)[o_type[v_opp]]),
                "LeadSource": _c(o_lead_source[v_opp], o_lead_source[v_opp] == None),  # noqa: E711
                "CurrencyIsoCode": _c(np.array(CURRENCIES, dtype=object)[o_cur[v_opp]]),
                "CreatedDate": _c(t0[v_opp]),
                "LastModifiedDate": _c(v_ts),
                "SystemModstamp": _c(v_ts),
                "IsDeleted": _c(v_del),
            },
            v_opp,
            v_ts,
        ),
        [
            ("Id", "str"),
            ("Name", "str"),
            ("AccountId", "str"),
            ("OwnerId", "str"),
            ("StageName", "str"),
            ("Amount", "money"),
            ("Probability", "int"),
            ("CloseDate", "date"),
            ("IsClosed", "bool"),
            ("IsWon", "bool"),
            ("ForecastCategoryName", "str"),
            ("Type", "str"),
            ("LeadSource", "str"),
            ("CurrencyIsoCode", "str"),
            ("CreatedDate", "dt"),
            ("LastModifiedDate", "dt"),
            ("SystemModstamp", "dt"),
            ("IsDeleted", "bool"),
        ],
    )

    # ------------------------------------------------------------------ OpportunityHistory (immutable rows)
    n_e = len(e_opp)
    h_ids = sf_ids("008", np.arange(n_e) + 1_000_000)
    del_rows = np.nonzero(deleted[e_opp])[0]
    hk = np.concatenate([np.arange(n_e), del_rows])
    h_ts = np.concatenate([e_ts, del_ts[e_opp[del_rows]]])
    h_del = np.concatenate([np.zeros(n_e, bool), np.ones(len(del_rows), bool)])
    emit(
        "OpportunityHistory",
        _versions(
            {
                "Id": _c(h_ids[hk]),
                "OpportunityId": _c(o_ids[e_opp[hk]]),
                "StageName": _c(stage_names[e_stage[hk]]),
                "Amount": _c(e_amt[hk]),
                "Probability": _c(STAGE_PROB[e_stage[hk]]),
                "CloseDate": _c(e_closedate[hk]),
                "ForecastCategory": _c(np.array(STAGE_FC, dtype=object)[e_stage[hk]]),
                "CreatedDate": _c(e_ts[hk]),
                "CreatedById": _c(u_ids[o_owner[e_opp[hk]]]),
                "SystemModstamp": _c(h_ts),
                "IsDeleted": _c(h_del),
            },
            hk,
            h_ts,
        ),
        [
            ("Id", "str"),
            ("OpportunityId", "str"),
            ("StageName", "str"),
            ("Amount", "money"),
            ("Probability", "int"),
            ("CloseDate", "date"),
            ("ForecastCategory", "str"),
            ("CreatedDate", "dt"),
            ("CreatedById", "str"),
            ("SystemModstamp", "dt"),
            ("IsDeleted", "bool"),
        ],
    )

    # ------------------------------------------------------------------ OpportunityLineItem versions
    li_opp, li_slot = np.nonzero(slot_on)
    n_li = len(li_opp)
    li_ids = sf_ids("00k", np.arange(n_li) + 2_000_000)
    li_tot_init = totals(qty_init)[li_opp, li_slot]
    li_tot_final = totals(qty_final)[li_opp, li_slot]
    changes = chg[li_opp] & (li_slot < 2) & (qty_init[li_opp, li_slot] != qty_final[li_opp, li_slot])
    ci = np.nonzero(changes)[0]
    di = np.nonzero(deleted[li_opp])[0]
    lk = np.concatenate([np.arange(n_li), ci, di])
    l_ts = np.concatenate([t0[li_opp] + 60, ta[li_opp[ci]], del_ts[li_opp[di]]])
    l_state_final = np.concatenate(
        [~chg[li_opp], np.ones(len(ci), bool), ~chg[li_opp[di]] | (ta[li_opp[di]] <= del_ts[li_opp[di]])]
    )
    l_qty = np.where(l_state_final, qty_final[li_opp[lk], li_slot[lk]], qty_init[li_opp[lk], li_slot[lk]])
    l_tot = np.where(l_state_final, li_tot_final[lk], li_tot_init[lk])
    l_unit = slot_unit[li_opp[lk], li_slot[lk]]
    l_disc = slot_disc[li_opp[lk], li_slot[lk]]
    # contract start: the first of the month after the originally planned close
    service = day_of(
        (planned0.astype("datetime64[s]").astype("datetime64[M]") + 1)
        .astype("datetime64[s]")
        .astype(np.int64)
    )
    emit(
        "OpportunityLineItem",
        _versions(
            {
                "Id": _c(li_ids[lk]),
                "OpportunityId": _c(o_ids[li_opp[lk]]),
                "Product2Id": _c(sf_ids("01t", slot_prod[li_opp[lk], li_slot[lk]] + 300)),
                "Quantity": _c(l_qty * 100),
                "UnitPrice": _c(l_unit),
                "TotalPrice": _c(l_tot),
                "ListPrice": _c(l_unit),
                "Discount": _c(l_disc * 100, l_disc == 0),
                "ServiceDate": _c(service[li_opp[lk]]),
                "CreatedDate": _c(t0[li_opp[lk]] + 60),
                "SystemModstamp": _c(l_ts),
                "IsDeleted": _c(np.concatenate([np.zeros(n_li + len(ci), bool), np.ones(len(di), bool)])),
            },
            lk,
            l_ts,
        ),
        [
            ("Id", "str"),
            ("OpportunityId", "str"),
            ("Product2Id", "str"),
            ("Quantity", "money"),
            ("UnitPrice", "money"),
            ("TotalPrice", "money"),
            ("ListPrice", "money"),
            ("Discount", "money"),
            ("ServiceDate", "date"),
            ("CreatedDate", "dt"),
            ("SystemModstamp", "dt"),
            ("IsDeleted", "bool"),
        ],
    )

    # ------------------------------------------------------------------ Account versions
    first_win = np.full(n_acc, np.iinfo(np.int64).max)
    np.minimum.at(first_win, o_acc, win_ts)
    became = np.nonzero(first_win < SPAN_END)[0]
    ak = np.concatenate([np.arange(n_acc), became])
    a_ts = np.concatenate([a_created, first_win[became]])
    a_type = np.concatenate(
        [np.full(n_acc, "Prospect", dtype=object), np.full(len(became), "Customer", dtype=object)]
    )
    emit(
        "Account",
        _versions(
            {
                "Id": _c(a_ids[ak]),
                "Name": _c(a_name[ak]),
                "Type": _c(a_type),
                "Industry": _c(industry[ak]),
                "BillingCountry": _c(a_country[ak]),
                "NumberOfEmployees": _c(emp[ak]),
                "AnnualRevenue": _c(revenue[ak]),
                "OwnerId": _c(u_ids[a_owner[ak]]),
                "ParentId": _c(a_parent[ak], a_parent[ak] == None),  # noqa: E711
                "Website": _c(a_web[ak]),
                "CreatedDate": _c(a_created[ak]),
                "SystemModstamp": _c(a_ts),
                "IsDeleted": _c(np.zeros(len(ak), bool)),
            },
            ak,
            a_ts,
        ),
        [
            ("Id", "str"),
            ("Name", "str"),
            ("Type", "str"),
            ("Industry", "str"),
            ("BillingCountry", "str"),
            ("NumberOfEmployees", "int"),
            ("AnnualRevenue", "money"),
            ("OwnerId", "str"),
            ("ParentId", "str"),
            ("Website", "str"),
            ("CreatedDate", "dt"),
            ("SystemModstamp", "dt"),
            ("IsDeleted", "bool"),
        ],
    )

    # ------------------------------------------------------------------ contacts
    n_ct_acc = 1 + rng.poisson(np.array([2.0, 3.5, 6.0])[a_seg])
    c_acc = np.repeat(np.arange(n_acc), n_ct_acc)
    n_ct = len(c_acc)
    c_first_idx = rng.integers(0, len(names.FIRST_NAMES), n_ct)
    c_last_idx = rng.integers(0, len(names.LAST_NAMES), n_ct)
    c_first = np.array(names.FIRST_NAMES, dtype=object)[c_first_idx]
    c_last = np.array(names.LAST_NAMES, dtype=object)[c_last_idx]
    c_email = np.char.lower((c_first + "." + c_last).astype(str)).astype(object) + "@" + a_domain[c_acc]
    c_no_email = rng.random(n_ct) < 0.05
    ct_start = np.concatenate([[0], np.cumsum(n_ct_acc)[:-1]])
    c_no_email[ct_start] = False  # the primary contact always has an address (billing uses it)
    c_title = np.array(names.CONTACT_TITLES, dtype=object)[rng.integers(0, len(names.CONTACT_TITLES), n_ct)]
    c_created = np.minimum(a_created[c_acc] + rng.integers(0, 400, n_ct) * DAY, SPAN_END - 2 * DAY)
    c_created[ct_start] = a_created + 3600  # the primary contact arrives with the account
    c_ids = sf_ids("003", np.arange(n_ct) + 3_000_000)

    # ------------------------------------------------------------------ leads
    conv_i = np.nonzero(conv)[0]
    conv_contact = ct_start[o_acc[conv_i]]
    conv_ts = t0[conv_i]
    c_created[conv_contact] = np.minimum(c_created[conv_contact], conv_ts)
    n_lu = max(100, round(4000 * scale))
    lu_rep, lu_day = _sample_rep_days(rng, capacity, n_lu)
    lu_owner = reps[lu_rep]
    lu_created = _business_time(rng, days[lu_day], REGION_UTC_OFFSET[u_reg[lu_owner]])
    lu_base, lu_slug = company(n_acc + np.arange(n_lu))
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
    nc = len(conv_i)
    n_lead = nc + n_lu
    l_created = np.concatenate([conv_ts - rng.integers(3, 45, nc) * DAY, lu_created])
    l_owner = np.concatenate([o_owner[conv_i], lu_owner])
    l_company = np.concatenate(
        [a_name[o_acc[conv_i]], lu_base + " " + np.where(rng.random(n_lu) < 0.5, "Inc.", "Ltd")]
    )
    l_email = np.concatenate([c_email[conv_contact], lu_email])
    l_no_email = np.concatenate([np.zeros(nc, bool), rng.random(n_lu) < 0.03])
    l_source = np.concatenate(
        [o_lead_source[conv_i], np.array(names.LEAD_SOURCES, dtype=object)[rng.integers(0, 6, n_lu)]]
    )
    worked = np.concatenate([np.ones(nc, bool), rng.random(n_lu) < 0.8])
    w_ts = np.concatenate(
        [
            l_created[:nc] + ((conv_ts - l_created[:nc]) * rng.uniform(0.1, 0.5, nc)).astype(np.int64),
            lu_created + rng.integers(HOUR, 10 * DAY, n_lu),
        ]
    )
    closed = np.concatenate([np.ones(nc, bool), worked[nc:] & (rng.random(n_lu) < 0.55)])
    cl_ts = np.concatenate([conv_ts, w_ts[nc:] + rng.integers(10, 120, n_lu) * DAY])
    l_deleted = np.concatenate([np.zeros(nc, bool), ~worked[nc:] & (rng.random(n_lu) < 0.08)])
    l_del_ts = l_created + rng.integers(1, 20, n_lead) * DAY
    is_conv = np.arange(n_lead) < nc
    lid = np.arange(n_lead)
    st = [
        (lid, l_created, 0),
        (lid[worked], w_ts[worked], 1),
        (lid[closed], cl_ts[closed], 2),
        (lid[l_deleted], l_del_ts[l_deleted], 3),
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
            np.where(is_conv[lk], "Closed - Converted", "Closed - Not Converted"),
        ),
    ).astype(object)
    status = np.where(lstep == 3, "Open - Not Contacted", status)
    lconv = is_conv[lk] & (lstep == 2)
    pad = np.concatenate([conv_i, np.zeros(n_lu, np.int64)])  # lead -> opportunity index (converted only)
    l_ids = sf_ids("00Q", np.arange(n_lead) + 4_000_000)
    emit(
        "Lead",
        _versions(
            {
                "Id": _c(l_ids[lk]),
                "Company": _c(l_company[lk]),
                "Email": _c(l_email[lk], l_no_email[lk]),
                "Status": _c(status),
                "LeadSource": _c(l_source[lk]),
                "OwnerId": _c(u_ids[l_owner[lk]]),
                "IsConverted": _c(lconv),
                "ConvertedDate": _c(day_of(t0[pad[lk]]), ~lconv),
                "ConvertedAccountId": _c(a_ids[o_acc[pad[lk]]], ~lconv),
                "ConvertedContactId": _c(c_ids[ct_start[o_acc[pad[lk]]]], ~lconv),
                "ConvertedOpportunityId": _c(o_ids[pad[lk]], ~lconv),
                "CreatedDate": _c(l_created[lk]),
                "SystemModstamp": _c(lts),
                "IsDeleted": _c(lstep == 3),
            },
            lk,
            lts,
        ),
        [
            ("Id", "str"),
            ("Company", "str"),
            ("Email", "str"),
            ("Status", "str"),
            ("LeadSource", "str"),
            ("OwnerId", "str"),
            ("IsConverted", "bool"),
            ("ConvertedDate", "date"),
            ("ConvertedAccountId", "str"),
            ("ConvertedContactId", "str"),
            ("ConvertedOpportunityId", "str"),
            ("CreatedDate", "dt"),
            ("SystemModstamp", "dt"),
            ("IsDeleted", "bool"),
        ],
    )

    # contact versions: creation, some promotions, a few deletes (never a lead's converted contact)
    protected = np.zeros(n_ct, bool)
    protected[ct_start] = True
    promo = rng.random(n_ct) < 0.05
    promo_ts = c_created + rng.integers(60, 500, n_ct) * DAY
    promo &= promo_ts < SPAN_END
    c_del = ~protected & (rng.random(n_ct) < 0.015)
    c_del_ts = c_created + rng.integers(30, 400, n_ct) * DAY
    c_del &= c_del_ts < SPAN_END
    cid = np.arange(n_ct)
    ck = np.concatenate([cid, cid[promo], cid[c_del]])
    cts = np.concatenate([c_created, promo_ts[promo], c_del_ts[c_del]])
    cstep = np.concatenate([np.zeros(n_ct, int), np.ones(promo.sum(), int), np.full(c_del.sum(), 2)])
    promoted_at = np.where(promo, promo_ts, np.iinfo(np.int64).max)
    title = np.where(cts >= promoted_at[ck], "Senior " + c_title[ck], c_title[ck])
    emit(
        "Contact",
        _versions(
            {
                "Id": _c(c_ids[ck]),
                "AccountId": _c(a_ids[c_acc[ck]]),
                "FirstName": _c(c_first[ck]),
                "LastName": _c(c_last[ck]),
                "Email": _c(c_email[ck], c_no_email[ck]),
                "Title": _c(title),
                "OwnerId": _c(u_ids[a_owner[c_acc[ck]]]),
                "CreatedDate": _c(c_created[ck]),
                "SystemModstamp": _c(cts),
                "IsDeleted": _c(cstep == 2),
            },
            ck,
            cts,
        ),
        [
            ("Id", "str"),
            ("AccountId", "str"),
            ("FirstName", "str"),
            ("LastName", "str"),
            ("Email", "str"),
            ("Title", "str"),
            ("OwnerId", "str"),
            ("CreatedDate", "dt"),
            ("SystemModstamp", "dt"),
            ("IsDeleted", "bool"),
        ],
    )

    # ------------------------------------------------------------------ reference objects
    n_prod = len(PRODUCTS)
    p_ids = sf_ids("01t", np.arange(n_prod) + 300)
    pk = np.concatenate([np.arange(n_prod), [7]])
    pts = np.concatenate([np.full(n_prod, ts_of("2019-02-11T10:00")), [LEGACY_RETIRED]])
    emit(
        "Product2",
        _versions(
            {
                "Id": _c(p_ids[pk]),
                "Name": _c(np.array([p[0] for p in PRODUCTS], dtype=object)[pk]),
                "ProductCode": _c(np.array([p[1] for p in PRODUCTS], dtype=object)[pk]),
                "Family": _c(np.array([p[2] for p in PRODUCTS], dtype=object)[pk]),
                "IsActive": _c(np.concatenate([np.ones(n_prod, bool), [False]])),
                "CreatedDate": _c(np.full(len(pk), ts_of("2019-02-11T10:00"))),
                "SystemModstamp": _c(pts),
            },
            pk,
            pts,
        ),
        [
            ("Id", "str"),
            ("Name", "str"),
            ("ProductCode", "str"),
            ("Family", "str"),
            ("IsActive", "bool"),
            ("CreatedDate", "dt"),
            ("SystemModstamp", "dt"),
        ],
    )
    n_st = len(STAGES)
    emit(
        "OpportunityStage",
        _versions(
            {
                "Id": _c(sf_ids("01J", np.arange(n_st) + 50)),
                "MasterLabel": _c(np.array(STAGES, dtype=object)),
                "SortOrder": _c(np.arange(1, n_st + 1)),
                "IsClosed": _c(np.arange(n_st) >= WON),
                "IsWon": _c(np.arange(n_st) == WON),
                "DefaultProbability": _c(STAGE_PROB),
                "ForecastCategoryName": _c(np.array(STAGE_FC, dtype=object)),
                "IsActive": _c(np.ones(n_st, bool)),
            },
            np.arange(n_st),
            np.full(n_st, ts_of("2019-01-02")),
        ),
        [
            ("Id", "str"),
            ("MasterLabel", "str"),
            ("SortOrder", "int"),
            ("IsClosed", "bool"),
            ("IsWon", "bool"),
            ("DefaultProbability", "int"),
            ("ForecastCategoryName", "str"),
            ("IsActive", "bool"),
        ],
    )

    # quotas: per rep per quarter employed; new hires get their first (half) quota after ~6 weeks
    q_starts = add_months(np.full(8, SPAN_START), np.arange(0, 24, 3))
    q_rep, q_q = np.nonzero(np.ones((len(reps), 8), bool))
    q_user = reps[q_rep]
    q_start = q_starts[q_q]
    h45 = hire[q_user] + 45 * DAY
    first_q = quarter_start(h45)
    first_q = np.maximum(
        np.where(h45 > first_q, add_months(first_q, np.full(len(q_user), 3)), first_q), SPAN_START
    )
    has_q = (q_start >= first_q) & (q_start < leave[q_user])
    q_user, q_start, q_q = q_user[has_q], q_start[has_q], q_q[has_q]
    ramped = (q_start == first_q[has_q]) & (hire[q_user] >= SPAN_START)
    rep_factor = rng.uniform(0.9, 1.15, n_users)
    q_amt = (
        np.array([150_000, 370_000, 450_000])[u_seg[q_user]]
        * rep_factor[q_user]
        * np.where(q_start >= ts_of("2025-01-01"), 1.1, 1.0)
        * np.where(ramped, 0.5, 1.0)
    )
    q_amt = (np.round(q_amt / 5000) * 5000).astype(np.int64) * 100
    n_q = len(q_user)
    q_created = q_start - rng.integers(5, 20, n_q) * DAY + 17 * HOUR
    revise = (q_start >= ts_of("2025-01-01")) & (rng.random(n_q) < 0.12)
    rev_ts = q_start + rng.integers(10, 40, n_q) * DAY + 18 * HOUR
    revise &= rev_ts < SPAN_END
    rev_amt = (np.round(q_amt * np.where(rng.random(n_q) < 0.5, 0.9, 1.1) / 500000) * 500000).astype(np.int64)
    qk = np.concatenate([np.arange(n_q), np.nonzero(revise)[0]])
    qts = np.concatenate([q_created, rev_ts[revise]])
    emit(
        "ForecastingQuota",
        _versions(
            {
                "Id": _c(sf_ids("0J9", np.arange(n_q) + 7000)[qk]),
                "QuotaOwnerId": _c(u_ids[q_user[qk]]),
                "StartDate": _c(day_of(q_start[qk])),
                "QuotaAmount": _c(np.concatenate([q_amt, rev_amt[revise]])),
                "CurrencyIsoCode": _c(np.full(len(qk), "USD", dtype=object)),
                "SystemModstamp": _c(qts),
            },
            qk,
            qts,
        ),
        [
            ("Id", "str"),
            ("QuotaOwnerId", "str"),
            ("StartDate", "date"),
            ("QuotaAmount", "money"),
            ("CurrencyIsoCode", "str"),
            ("SystemModstamp", "dt"),
        ],
    )

    # dated exchange rates: one per currency per month; Salesforce closes the previous row's range
    # (NextStartDate) when the next rate is entered, so each row has two versions.
    months = add_months(np.full(24, SPAN_START), np.arange(24))
    start_rate = np.array([1.0, 0.915, 0.787, 144.0])
    vol = np.array([0.0, 0.014, 0.013, 0.022])
    walk = np.exp(np.cumsum(rng.normal(0, 1, (4, 24)) * vol[:, None], axis=1))
    walk[:, 0] = 1.0
    rate = np.round(start_rate[:, None] * walk * 1e6).astype(np.int64)  # millionths
    r_cur, r_m = np.nonzero(np.ones((4, 24), bool))
    n_r = len(r_cur)
    entered = months[r_m] - rng.integers(1, 5, n_r) * DAY + 16 * HOUR
    entered[r_m == 0] = ts_of("2023-12-20T16:00")
    nxt = np.where(r_m < 23, months[np.minimum(r_m + 1, 23)], ts_of("9999-12-31"))
    closed_at = np.where(r_m < 23, entered[np.minimum(np.arange(n_r) + 1, n_r - 1)], SPAN_END)
    rk = np.concatenate([np.arange(n_r), np.nonzero(r_m < 23)[0]])
    rts = np.concatenate([entered, closed_at[r_m < 23]])
    r_next = np.concatenate([np.full(n_r, ts_of("9999-12-31")), nxt[r_m < 23]])
    emit(
        "DatedConversionRate",
        _versions(
            {
                "Id": _c(sf_ids("04w", np.arange(n_r) + 900)[rk]),
                "IsoCode": _c(np.array(CURRENCIES, dtype=object)[r_cur[rk]]),
                "ConversionRate": _c(rate[r_cur[rk], r_m[rk]]),
                "StartDate": _c(day_of(months[r_m[rk]])),
                "NextStartDate": _c(day_of(r_next)),
            },
            rk,
            rts,
        ),
        [
            ("Id", "str"),
            ("IsoCode", "str"),
            ("ConversionRate", "dec6"),
            ("StartDate", "date"),
            ("NextStartDate", "date"),
        ],
    )

    # ------------------------------------------------------------------ hand-offs to billing and activity
    crm.accounts = dict(
        ids=a_ids,
        name=a_name,
        domain=a_domain,
        owner=a_owner,
        seg=a_seg,
        cur=a_cur,
        created=a_created,
        first_win=first_win,
        ct_start=ct_start,
        ct_cnt=n_ct_acc,
        n=n_acc,
    )
    crm.contacts = dict(
        ids=c_ids,
        email=np.where(c_no_email, None, c_email),
        first=c_first,
        acc=c_acc,
        created=c_created,
        n=n_ct,
    )
    lead_end = np.where(closed, cl_ts, l_created + 90 * DAY)
    crm.leads = dict(
        ids=l_ids,
        email=np.where(l_no_email, None, l_email),
        owner=l_owner,
        created=l_created,
        end=np.minimum(lead_end, SPAN_END - 1),
        n=n_lead,
        converted=is_conv,
    )
    crm.opps = dict(
        ids=o_ids,
        acc=o_acc,
        owner=o_owner,
        seg=o_seg,
        cur=o_cur,
        t0=t0,
        last_ts=last_ts,
        n_events=n_ev,
        stage=cur_stage,
        win_ts=win_ts,
        tier=tier,
        seats=seats,
        type=o_type,
        deleted=deleted,
        n=n_opp,
    )
    return crm

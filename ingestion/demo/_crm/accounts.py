"""Accounts: companies by segment and country, owned by the reps of their segment, customers from their first win."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _names as names
from .._common import DAY, SPAN_END, sf_ids, ts_of
from .common import Emit, versions
from .org import Users

CURRENCIES = ["USD", "EUR", "GBP", "JPY"]
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


class Companies:
    """Company names made of the word lists, in a seeded order: the i-th company of the demo world."""

    def __init__(self, rng):
        self.n_combo = len(names.COMPANY_A) * len(names.COMPANY_B) * len(names.COMPANY_C)
        self.perm = rng.permutation(self.n_combo)

    def __call__(self, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(name, e-mail domain slug) of companies `i`; past the last combination names repeat, slugs get a number."""
        c = self.perm[i % self.n_combo]
        dup = i // self.n_combo
        a = np.array(names.COMPANY_A, dtype=object)[c // (len(names.COMPANY_B) * len(names.COMPANY_C))]
        b = np.array(names.COMPANY_B, dtype=object)[(c // len(names.COMPANY_C)) % len(names.COMPANY_B)]
        cc = np.array(names.COMPANY_C, dtype=object)[c % len(names.COMPANY_C)]
        base = a + b + " " + cc
        slug = np.char.lower((a + b + cc).astype(str)).astype(object) + np.where(dup > 0, dup.astype(str), "")
        return base, slug


@dataclass
class Accounts:
    ids: np.ndarray
    name: np.ndarray
    base: np.ndarray  # the name without its legal suffix (opportunity names start with it)
    domain: np.ndarray
    website: np.ndarray
    country: np.ndarray
    cur: np.ndarray  # index into CURRENCIES
    owner: np.ndarray  # user index
    seg: np.ndarray
    industry: np.ndarray
    employees: np.ndarray
    revenue: np.ndarray  # cents
    parent: np.ndarray
    created: np.ndarray
    first_win: np.ndarray | None = None  # when the account became a customer (set once deals have closed)

    @property
    def n(self) -> int:
        return len(self.ids)


def build(rng, users: Users, scale: float) -> tuple[Accounts, Companies]:
    """The accounts, and the company names the leads that never convert draw from after them."""
    n_acc = max(60, round(5000 * scale))
    seg, owner = _owners(rng, users, n_acc)
    country_idx = _countries(rng, np.array([0, 0, 1, 2])[users.reg[owner]])  # AMER, AMER, EMEA, APAC
    companies = Companies(rng)
    base, slug = companies(np.arange(n_acc))
    name, domain, website = _identity(rng, base, slug, country_idx)
    employees = (
        np.array([10, 200, 2000])[seg] * np.exp(rng.random(n_acc) * np.log(np.array([20, 10, 25])[seg]))
    ).astype(np.int64)
    revenue = (
        (employees * rng.uniform(80, 260, n_acc)).astype(np.int64) * 1000 * 100
    )  # cents, whole thousands
    industry = np.array(names.INDUSTRIES, dtype=object)[rng.integers(0, len(names.INDUSTRIES), n_acc)]
    created = ts_of("2019-01-07") + (
        rng.random(n_acc) ** 0.7 * (ts_of("2025-11-30") - ts_of("2019-01-07"))
    ).astype(np.int64)
    ids = sf_ids("001", np.arange(n_acc) + 10_000)
    parent = _parents(rng, seg, ids)
    accounts = Accounts(
        ids=ids,
        name=name,
        base=base,
        domain=domain,
        website=website,
        country=np.array([c[0] for c in COUNTRY_TABLE], dtype=object)[country_idx],
        cur=np.array([c[2] for c in COUNTRY_TABLE])[country_idx],
        owner=owner,
        seg=seg,
        industry=industry,
        employees=employees,
        revenue=revenue,
        parent=parent,
        created=created,
    )
    return accounts, companies


def created_before_first_deal(rng, acc: Accounts, opp_acc: np.ndarray, opp_t0: np.ndarray) -> np.ndarray:
    """Account creation moved before the account's first opportunity (weeks to years before)."""
    first_t0 = np.full(acc.n, np.iinfo(np.int64).max)
    np.minimum.at(first_t0, opp_acc, opp_t0)
    has_opp = first_t0 < np.iinfo(np.int64).max
    return np.where(
        has_opp, np.minimum(acc.created, first_t0 - rng.integers(DAY, 120 * DAY, acc.n)), acc.created
    )


def first_wins(acc: Accounts, opp_acc: np.ndarray, win_ts: np.ndarray) -> np.ndarray:
    first_win = np.full(acc.n, np.iinfo(np.int64).max)
    np.minimum.at(first_win, opp_acc, win_ts)
    return first_win


def write(emit: Emit, acc: Accounts, u_ids: np.ndarray) -> None:
    """A version at creation (Prospect), and one at the first win (Customer)."""
    became = np.nonzero(acc.first_win < SPAN_END)[0]
    ak = np.concatenate([np.arange(acc.n), became])
    a_ts = np.concatenate([acc.created, acc.first_win[became]])
    a_type = np.concatenate(
        [np.full(acc.n, "Prospect", dtype=object), np.full(len(became), "Customer", dtype=object)]
    )
    columns = {
        "Id": acc.ids[ak],
        "Name": acc.name[ak],
        "Type": a_type,
        "Industry": acc.industry[ak],
        "BillingCountry": acc.country[ak],
        "NumberOfEmployees": acc.employees[ak],
        "AnnualRevenue": acc.revenue[ak],
        "OwnerId": u_ids[acc.owner[ak]],
        "ParentId": (acc.parent[ak], acc.parent[ak] == None),  # noqa: E711
        "Website": acc.website[ak],
        "CreatedDate": acc.created[ak],
        "SystemModstamp": a_ts,
        "IsDeleted": np.zeros(len(ak), bool),
    }
    emit("Account", versions("Account", columns, ak, a_ts))


def _owners(rng, users: Users, n_acc: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment of each account, and its owner: a rep of that segment (every rep gets a book)."""
    reps = users.reps
    a_seg = rng.choice(3, n_acc, p=[0.5, 0.33, 0.17])
    a_owner = np.empty(n_acc, dtype=np.int64)
    for s in range(3):
        idx = np.nonzero(a_seg == s)[0]
        seg_reps = reps[users.seg[reps] == s]
        w = np.where(users.hired_in_span[seg_reps], 0.6, 1.0)
        owners = seg_reps[rng.choice(len(seg_reps), len(idx), p=w / w.sum())]
        k = min(len(idx), len(seg_reps))
        owners[:k] = seg_reps[:k]
        a_owner[idx] = owners
    return a_seg, a_owner


def _countries(rng, macro: np.ndarray) -> np.ndarray:
    """Index into COUNTRY_TABLE: in the owner's macro-region, ~10 % headquartered elsewhere (global coverage)."""
    n_acc = len(macro)
    abroad = rng.random(n_acc) < 0.1
    macro = np.where(abroad, rng.choice(3, n_acc, p=[0.4, 0.35, 0.25]), macro)
    country_idx = np.empty(n_acc, dtype=np.int64)
    offset = 0
    for m, region in enumerate(("AMER", "EMEA", "APAC")):
        sel = macro == m
        w = np.array([c[1] for c in COUNTRIES[region]], dtype=float)
        country_idx[sel] = offset + rng.choice(len(w), sel.sum(), p=w / w.sum())
        offset += len(w)
    return country_idx


def _identity(rng, base, slug, country_idx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Legal name, e-mail domain and website as typed into the CRM (three spellings)."""
    tld = np.array([c[3] for c in COUNTRY_TABLE], dtype=object)[country_idx]
    legal = np.array([c[4] for c in COUNTRY_TABLE], dtype=object)[country_idx]
    comma = (legal == "Inc.") & (rng.random(len(base)) < 0.4)  # "Acme, Inc." forces CSV quoting
    name = base + np.where(comma, ", ", " ") + legal
    domain = slug + "." + tld
    web_style = rng.choice(3, len(base), p=[0.7, 0.2, 0.1])
    website = np.where(
        web_style == 0, "www." + domain, np.where(web_style == 1, "https://www." + domain + "/", domain)
    )
    return name, domain, website


def _parents(rng, seg: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """A few enterprise accounts are subsidiaries of one of the first ten."""
    is_ent = np.nonzero(seg == 2)[0]
    parent = np.full(len(seg), None, dtype=object)
    if len(is_ent) > 10:
        child = is_ent[10:][rng.random(len(is_ent) - 10) < 0.06]
        parent[child] = ids[is_ent[rng.integers(0, 10, len(child))]]
    return parent

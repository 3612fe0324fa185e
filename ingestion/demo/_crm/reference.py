"""Reference objects of the org: products, opportunity stages, quotas per rep and quarter, dated exchange rates."""

from __future__ import annotations

import numpy as np

from .._common import DAY, HOUR, SPAN_END, SPAN_START, add_months, day_of, quarter_start, sf_ids, ts_of
from .accounts import CURRENCIES
from .amounts import PRODUCTS
from .common import Emit, versions
from .opportunities import STAGE_FC, STAGE_PROB, STAGES, WON
from .org import Users

CATALOG_CREATED = ts_of("2019-02-11T10:00")
LEGACY_RETIRED = ts_of("2024-09-16T14:00:00")


def write_products(emit: Emit) -> None:
    """The price book's products; the legacy plan is retired inside the window."""
    n_prod = len(PRODUCTS)
    pk = np.concatenate([np.arange(n_prod), [7]])
    pts = np.concatenate([np.full(n_prod, CATALOG_CREATED), [LEGACY_RETIRED]])
    columns = {
        "Id": sf_ids("01t", np.arange(n_prod) + 300)[pk],
        "Name": np.array([p[0] for p in PRODUCTS], dtype=object)[pk],
        "ProductCode": np.array([p[1] for p in PRODUCTS], dtype=object)[pk],
        "Family": np.array([p[2] for p in PRODUCTS], dtype=object)[pk],
        "IsActive": np.concatenate([np.ones(n_prod, bool), [False]]),
        "CreatedDate": np.full(len(pk), CATALOG_CREATED),
        "SystemModstamp": pts,
    }
    emit("Product2", versions("Product2", columns, pk, pts))


def write_stages(emit: Emit) -> None:
    n_st = len(STAGES)
    columns = {
        "Id": sf_ids("01J", np.arange(n_st) + 50),
        "MasterLabel": np.array(STAGES, dtype=object),
        "SortOrder": np.arange(1, n_st + 1),
        "IsClosed": np.arange(n_st) >= WON,
        "IsWon": np.arange(n_st) == WON,
        "DefaultProbability": STAGE_PROB,
        "ForecastCategoryName": np.array(STAGE_FC, dtype=object),
        "IsActive": np.ones(n_st, bool),
    }
    emit(
        "OpportunityStage",
        versions("OpportunityStage", columns, np.arange(n_st), np.full(n_st, ts_of("2019-01-02"))),
    )


def write_quotas(rng, emit: Emit, users: Users) -> None:
    """Per rep per quarter employed (USD); new hires get their first, half quota ~6 weeks after joining."""
    q_user, q_start, first_q = _quota_quarters(users)
    ramped = (q_start == first_q) & (users.hire[q_user] >= SPAN_START)
    rep_factor = rng.uniform(0.9, 1.15, users.n)
    q_amt = (
        np.array([150_000, 370_000, 450_000])[users.seg[q_user]]
        * rep_factor[q_user]
        * np.where(q_start >= ts_of("2025-01-01"), 1.1, 1.0)
        * np.where(ramped, 0.5, 1.0)
    )
    q_amt = (np.round(q_amt / 5000) * 5000).astype(np.int64) * 100
    n_q = len(q_user)
    q_created = q_start - rng.integers(5, 20, n_q) * DAY + 17 * HOUR
    # some 2025 quotas are revised a few weeks into the quarter
    revise = (q_start >= ts_of("2025-01-01")) & (rng.random(n_q) < 0.12)
    rev_ts = q_start + rng.integers(10, 40, n_q) * DAY + 18 * HOUR
    revise &= rev_ts < SPAN_END
    rev_amt = (np.round(q_amt * np.where(rng.random(n_q) < 0.5, 0.9, 1.1) / 500000) * 500000).astype(np.int64)
    qk = np.concatenate([np.arange(n_q), np.nonzero(revise)[0]])
    qts = np.concatenate([q_created, rev_ts[revise]])
    columns = {
        "Id": sf_ids("0J9", np.arange(n_q) + 7000)[qk],
        "QuotaOwnerId": users.ids[q_user[qk]],
        "StartDate": day_of(q_start[qk]),
        "QuotaAmount": np.concatenate([q_amt, rev_amt[revise]]),
        "CurrencyIsoCode": np.full(len(qk), "USD", dtype=object),
        "SystemModstamp": qts,
    }
    emit("ForecastingQuota", versions("ForecastingQuota", columns, qk, qts))


def write_rates(rng, emit: Emit) -> None:
    """One rate per currency per month (units per USD); Salesforce closes the previous row's range
    (NextStartDate) when the next rate is entered, so each row has two versions."""
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
    columns = {
        "Id": sf_ids("04w", np.arange(n_r) + 900)[rk],
        "IsoCode": np.array(CURRENCIES, dtype=object)[r_cur[rk]],
        "ConversionRate": rate[r_cur[rk], r_m[rk]],
        "StartDate": day_of(months[r_m[rk]]),
        "NextStartDate": day_of(np.concatenate([np.full(n_r, ts_of("9999-12-31")), nxt[r_m < 23]])),
    }
    emit("DatedConversionRate", versions("DatedConversionRate", columns, rk, rts))


def _quota_quarters(users: Users) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rep, quarter start) pairs with a quota, and each pair's rep's first quota quarter."""
    reps = users.reps
    q_starts = add_months(np.full(8, SPAN_START), np.arange(0, 24, 3))
    q_rep, q_q = np.nonzero(np.ones((len(reps), 8), bool))
    q_user = reps[q_rep]
    q_start = q_starts[q_q]
    h45 = users.hire[q_user] + 45 * DAY
    first_q = quarter_start(h45)
    first_q = np.maximum(
        np.where(h45 > first_q, add_months(first_q, np.full(len(q_user), 3)), first_q), SPAN_START
    )
    has_q = (q_start >= first_q) & (q_start < users.leave[q_user])
    return q_user[has_q], q_start[has_q], first_q[has_q]

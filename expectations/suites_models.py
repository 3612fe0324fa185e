"""Suites for the dbt models: cross-system integrity before the marts, reconciliation identities on the marts.

Every rule here is an unexpected-rows query (``{batch}`` is the model validated): the query lists the
offending rows, an empty result is a pass. GE 1.24 substitutes ``{batch}`` as a table or a subquery, and
aliases the subquery itself only when the query has no JOIN; PostgreSQL (before 16) rejects a subquery in
FROM without an alias. So in a query with a JOIN every ``{batch}`` carries an alias (``{batch} AS
batch_rows``), in one without it never does (that would alias GE's alias); `rows` enforces this. The SQL is
otherwise kept to what DuckDB, PostgreSQL and Spark all accept (``INTERVAL '1 month'``); every engine's
session runs in UTC, so ``CAST(ts AS DATE)`` is the UTC date everywhere.

staging / intermediate (gates of the ``dbt_marts`` step): every reference a mart joins on resolves, joins
do not fan out, and every amount in a foreign currency has a DatedConversionRate for its date. Critical
where a mart would be wrong; warning where the finding is informational or where MRR would otherwise fall
back without a word (a subscription line whose price cannot be read, a discount that cannot be valued).

marts (gates of ``publish/marts``): the identities the marts promise, checked across tables. Money is
compared with a tolerance of 0.01 (amounts are DECIMAL(38,6), sums of converted amounts may differ in the
last digits).
"""

from __future__ import annotations

import os
import re

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

from expectations.suites import Suite, critical, needs, warning

TOLERANCE = "0.01"


def corporate_currency() -> str:
    """The ISO code every mart amount is in (dbt var corporate_currency, from the same environment)."""
    code = (os.environ.get("SALESDW_CORPORATE_CURRENCY") or "USD").strip().upper()
    if not code.isalpha():
        raise ValueError(f"SALESDW_CORPORATE_CURRENCY must be an ISO code, not {code!r}")
    return code


# How GE 1.24 decides whether to alias the {batch} subquery (query_metric_provider._query_has_join_clause):
# a JOIN keyword outside string literals and comments.
_JOIN = re.compile(r"\bJOIN\b", re.IGNORECASE)
_LITERALS_AND_COMMENTS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
_BATCH_USE = re.compile(r"\{batch\}(\s+AS\s+\w+)?", re.IGNORECASE)


def check_batch_aliases(query: str, name: str) -> None:
    """Refuse a query whose `{batch}` would reach the database as a bare, unaliased subquery (or aliased twice)."""
    has_join = bool(_JOIN.search(_LITERALS_AND_COMMENTS.sub(" ", query)))
    for use in _BATCH_USE.finditer(query):
        if has_join and not use.group(1):
            raise ValueError(
                f"{name}: a query with a JOIN must alias {{batch}} (FROM {{batch}} AS batch_rows)"
            )
        if not has_join and use.group(1):
            raise ValueError(
                f"{name}: GE aliases {{batch}} itself in a query without a JOIN; drop{use.group(1)}"
            )


_REGISTERED: list = []


def model_suite(build):
    """Register a function that builds a model's suite: `model_suites()` finds it, nothing else to list."""
    _REGISTERED.append(build)
    return build


def rows(
    query: str, severity, description: str, name: str, needs_sources: tuple[str, ...] = ()
) -> Expectation:
    """An unexpected-rows rule; ``needs_sources``: sources it needs beyond its suite's (skipped without them)."""
    check_batch_aliases(query, name)
    exp = gxe.UnexpectedRowsExpectation(unexpected_rows_query=query.strip())
    exp = (critical if severity == "critical" else warning)(exp, description, name=name)
    return needs(exp, *needs_sources) if needs_sources else exp


# The marts' as-of date (var as_of_date, default the latest date in the data).
AS_OF = "(SELECT max(date_day) FROM marts.dim_date WHERE is_as_of_date)"
# The same, for the gates of the partitioned history marts: they run before the other marts are built,
# so they read the intermediate models those marts publish (dim_date = int_dates_spined).
AS_OF_INTERMEDIATE = "(SELECT max(date_day) FROM intermediate.int_dates_spined WHERE is_as_of_date)"


# ------------------------------------------------------------------------------- staging / intermediate


@model_suite
def opportunities_enriched() -> Suite:
    cur = corporate_currency()
    return Suite(
        name="intermediate.int_opportunities_enriched",
        needs=("crm",),
        key=("opportunity_id",),
        description="Each live opportunity once, with its account, owner and a conversion rate for its amount.",
        expectations=(
            rows(
                """
                SELECT opportunity_id, count(*) AS rows_in_model, 'repeated' AS problem
                FROM {batch}
                GROUP BY opportunity_id
                HAVING count(*) > 1
                UNION ALL
                SELECT opportunity_id, 0, 'missing'
                FROM staging.stg_crm__opportunities
                WHERE opportunity_id NOT IN (SELECT opportunity_id FROM {batch} WHERE opportunity_id IS NOT NULL)
                """,
                "critical",
                "Exactly one row per live opportunity in the CRM: no deal is duplicated by a join (which would "
                "double its amount in every report) and none is lost.",
                "opportunity_id: one row per staged opportunity",
            ),
            rows(
                """
                SELECT opportunity_id, opportunity_name, owner_user_id
                FROM {batch}
                WHERE owner_user_id IS NULL
                   OR owner_user_id NOT IN (SELECT user_id FROM staging.stg_crm__users WHERE user_id IS NOT NULL)
                """,
                "critical",
                "Every opportunity is owned by a CRM user; otherwise its bookings and pipeline belong to no rep.",
                "owner_user_id: a CRM user",
            ),
            rows(
                """
                SELECT opportunity_id, opportunity_name, account_id
                FROM {batch}
                WHERE account_id IS NOT NULL
                  AND account_id NOT IN (SELECT Id FROM raw.crm__account__current WHERE Id IS NOT NULL)
                """,
                "critical",
                "Every opportunity's account exists in the CRM (live or deleted); an unknown account id is a "
                "broken link and the deal drops out of account and segment reports.",
                "account_id: an account in the CRM",
            ),
            rows(
                """
                SELECT opportunity_id, opportunity_name, account_id
                FROM {batch}
                WHERE account_id IS NOT NULL
                  AND account_id IN (SELECT Id FROM raw.crm__account__current WHERE Id IS NOT NULL)
                  AND account_id NOT IN (SELECT account_id FROM staging.stg_crm__accounts WHERE account_id IS NOT NULL)
                """,
                "warning",
                "The opportunity's account was deleted in the CRM while the opportunity lives on (sales ops may "
                "want to re-parent it).",
                "account_id: account not deleted",
            ),
            rows(
                f"""
                WITH opportunities AS (SELECT * FROM {{batch}})
                SELECT o.opportunity_id, o.currency, o.close_date, o.amount_native
                FROM opportunities AS o
                WHERE o.amount_native IS NOT NULL
                  AND o.currency <> '{cur}'
                  AND NOT EXISTS (
                      SELECT 1 FROM staging.stg_crm__dated_conversion_rates AS rates
                      WHERE rates.iso_code = o.currency
                        AND rates.start_date <= o.close_date AND o.close_date < rates.next_start_date
                  )
                """,
                "critical",
                f"Every opportunity amount in a foreign currency has a DatedConversionRate for its currency on "
                f"its close date; without one the deal has no {cur} amount and drops out of bookings and pipeline.",
                "amount: converted at a DatedConversionRate",
            ),
            rows(
                """
                SELECT opportunity_id, opportunity_name, account_id, close_date
                FROM {batch}
                WHERE is_won
                  AND account_id IS NOT NULL
                  AND account_id NOT IN (
                      SELECT crm_account_id FROM staging.stg_billing__customers WHERE crm_account_id IS NOT NULL
                  )
                  AND opportunity_id NOT IN (
                      SELECT crm_opportunity_id FROM staging.stg_billing__subscriptions
                      WHERE crm_opportunity_id IS NOT NULL
                  )
                """,
                "warning",
                "A won deal whose account has no billing customer (no Stripe customer links to it): billing "
                "cannot be reconciled with the booking until someone links them.",
                "is_won: account has a billing customer",
                needs_sources=("billing",),
            ),
        ),
    )


@model_suite
def accounts() -> Suite:
    return Suite(
        name="staging.stg_crm__accounts",
        needs=("crm",),
        key=("account_id",),
        description="Every live account has a CRM user as owner and a known parent.",
        expectations=(
            rows(
                """
                SELECT account_id, account_name, owner_user_id
                FROM {batch}
                WHERE owner_user_id IS NULL
                   OR owner_user_id NOT IN (SELECT user_id FROM staging.stg_crm__users WHERE user_id IS NOT NULL)
                """,
                "critical",
                "Every account is owned by a CRM user (account ownership feeds the account dimension).",
                "owner_user_id: a CRM user",
            ),
            rows(
                """
                SELECT account_id, account_name, parent_account_id
                FROM {batch}
                WHERE parent_account_id IS NOT NULL
                  AND parent_account_id NOT IN (SELECT Id FROM raw.crm__account__current WHERE Id IS NOT NULL)
                """,
                "warning",
                "An account's parent account exists in the CRM.",
                "parent_account_id: an account in the CRM",
            ),
        ),
    )


@model_suite
def invoices() -> Suite:
    cur = corporate_currency()
    return Suite(
        name="staging.stg_billing__invoices",
        needs=("billing",),
        key=("invoice_id",),
        description="Every invoice belongs to a billing customer and subscription, and can be converted.",
        expectations=(
            rows(
                """
                SELECT invoice_id, customer_id, status, created_at
                FROM {batch}
                WHERE customer_id IS NULL
                   OR customer_id NOT IN (SELECT id FROM raw.billing__customer__current WHERE id IS NOT NULL)
                """,
                "critical",
                "Every invoice belongs to a customer that exists in billing; otherwise its MRR and the "
                "bookings-to-billing reconciliation attach it to nobody.",
                "customer_id: a billing customer",
            ),
            rows(
                """
                SELECT invoice_id, customer_id, subscription_id
                FROM {batch}
                WHERE subscription_id IS NOT NULL
                  AND subscription_id NOT IN (
                      SELECT id FROM raw.billing__subscription__current WHERE id IS NOT NULL
                  )
                """,
                "critical",
                "An invoice's subscription exists in billing (MRR is built per subscription).",
                "subscription_id: a billing subscription",
            ),
            rows(
                f"""
                WITH invoices AS (SELECT * FROM {{batch}})
                SELECT i.invoice_id, i.currency, CAST(i.created_at AS DATE) AS invoice_date, i.total
                FROM invoices AS i
                WHERE i.status NOT IN ('draft', 'void')
                  AND i.currency <> '{cur}'
                  AND NOT EXISTS (
                      SELECT 1 FROM staging.stg_crm__dated_conversion_rates AS rates
                      WHERE rates.iso_code = i.currency
                        AND rates.start_date <= CAST(i.created_at AS DATE)
                        AND CAST(i.created_at AS DATE) < rates.next_start_date
                  )
                """,
                "critical",
                f"Every invoice billing money in a foreign currency has a DatedConversionRate for its currency "
                f"on its invoice date; without one its billed amount has no {cur} value.",
                "currency: a DatedConversionRate on the invoice date",
            ),
        ),
    )


@model_suite
def invoice_lines() -> Suite:
    return Suite(
        name="intermediate.int_invoice_lines_unnested",
        key=("invoice_line_id",),
        description="Every subscription invoice line says what it charges, so MRR never falls back silently.",
        expectations=(
            rows(
                """
                SELECT invoice_line_id, invoice_id, subscription_id, price_id, line_type, invoice_status,
                       invoice_created_at, currency, amount
                FROM {batch}
                WHERE subscription_id IS NOT NULL
                  AND coalesce(line_type, 'subscription') = 'subscription'
                  AND invoice_status NOT IN ('draft', 'void')
                  AND (price_type IS NULL OR (price_type = 'recurring' AND recurring_interval IS NULL))
                """,
                "warning",
                "Every invoice line of a subscription has a price salesdw can read (on the line, in either Stripe "
                "API shape, or among the delivered prices). A line without one is left out of MRR: the price "
                "changes and prorations it carries are missing, and a subscription with no readable line at all "
                "is valued at its current prices over its whole life. Deliver the missing prices (or report the "
                "line's shape if its Stripe API version is new).",
                "price: every subscription line's price resolved",
            ),
        ),
    )


@model_suite
def subscriptions() -> Suite:
    return Suite(
        name="staging.stg_billing__subscriptions",
        key=("subscription_id",),
        description="Every subscription's discount can be valued.",
        expectations=(
            rows(
                """
                SELECT subscription_id, customer_id, status, discounts_unvalued
                FROM {batch}
                WHERE discounts_unvalued > 0
                """,
                "warning",
                "Every discount on a subscription can be valued. From Stripe API version 2025-03-31.basil on a "
                "subscription lists its discounts by id; salesdw needs them expanded to their coupons (the "
                "connector asks for that) and values one discount per subscription. A discount counted here is "
                "left out, so that subscription's MRR is too high by it.",
                "discounts: every discount valued",
            ),
        ),
    )


@model_suite
def customer_months() -> Suite:
    # Gated here, not on int_subscription_months_valued: this is the model the MRR marts read, so its gate
    # is what holds back the marts step (a gate blocks the assets directly downstream of its model).
    return Suite(
        name="intermediate.int_customer_months_restated",
        needs=("billing",),
        key=("customer_id", "month"),
        description="MRR per customer and month, once each, every subscription month valued in corporate currency.",
        expectations=(
            rows(
                """
                SELECT customer_id, month, count(*) AS rows_in_model
                FROM {batch}
                GROUP BY customer_id, month
                HAVING count(*) > 1
                """,
                "critical",
                "One row per billing customer and month: restating MRR at constant currency does not duplicate "
                "a customer (which would double its MRR in the bridge).",
                "one row per customer and month",
            ),
            rows(
                """
                WITH restated AS (SELECT * FROM {batch})
                SELECT v.subscription_id, v.customer_id, v.month, v.measured_on, v.currency, v.mrr_native
                FROM intermediate.int_subscription_months_valued AS v
                WHERE v.mrr_native IS NOT NULL AND v.mrr IS NULL
                  AND v.customer_id IN (SELECT restated.customer_id FROM restated)
                """,
                "critical",
                "Every month-end MRR in a foreign currency has a DatedConversionRate for that day; otherwise the "
                "customer's MRR silently drops out of the MRR bridge.",
                "mrr: converted at the month-end DatedConversionRate",
            ),
        ),
    )


@model_suite
def activities() -> Suite:
    return Suite(
        name="intermediate.int_activities_matched",
        needs=("activity",),
        key=("activity_id",),
        description="Each live engagement event once, resolved to a CRM user.",
        expectations=(
            rows(
                """
                SELECT activity_id, count(*) AS rows_in_model, 'repeated' AS problem
                FROM {batch}
                GROUP BY activity_id
                HAVING count(*) > 1
                UNION ALL
                SELECT activity_id, 0, 'missing'
                FROM staging.stg_activity__events
                WHERE activity_id NOT IN (SELECT activity_id FROM {batch} WHERE activity_id IS NOT NULL)
                """,
                "critical",
                "Exactly one row per live engagement event: matching it to contacts, leads and accounts "
                "neither duplicates nor loses it.",
                "activity_id: one row per staged event",
            ),
            rows(
                """
                SELECT activity_id, activity_type, rep_email, occurred_at
                FROM {batch}
                WHERE user_id IS NULL
                """,
                "critical",
                "Every activity is resolved to a CRM user by its rep e-mail; otherwise the rep's calls, e-mails "
                "and meetings are missing from rep performance.",
                "user_id: rep resolved to a CRM user",
                needs_sources=("crm",),
            ),
        ),
    )


# ------------------------------------------------------------------------------- marts


@model_suite
def rep_performance() -> Suite:
    return Suite(
        name="marts.rpt_rep_performance_quarterly",
        needs=("crm",),
        key=("user_id", "fiscal_quarter"),
        description="Bookings per quarter reconcile with the won opportunities.",
        expectations=(
            rows(
                f"""
                WITH perf AS (
                    SELECT fiscal_quarter, sum(bookings) AS bookings, sum(won_count) AS won_count
                    FROM {{batch}} AS batch_rows
                    GROUP BY fiscal_quarter
                ),
                won AS (
                    SELECT fiscal_quarter_closed AS fiscal_quarter,
                           sum(coalesce(amount, 0)) AS won_amount, count(*) AS won_count
                    FROM marts.fct_opportunities
                    WHERE is_won AND close_date <= {AS_OF}
                    GROUP BY fiscal_quarter_closed
                )
                SELECT coalesce(perf.fiscal_quarter, won.fiscal_quarter) AS fiscal_quarter,
                       perf.bookings, won.won_amount, perf.won_count AS won_count_report,
                       won.won_count AS won_count_opportunities
                FROM perf FULL OUTER JOIN won ON perf.fiscal_quarter = won.fiscal_quarter
                WHERE abs(coalesce(perf.bookings, 0) - coalesce(won.won_amount, 0)) > {TOLERANCE}
                   OR coalesce(perf.won_count, 0) <> coalesce(won.won_count, 0)
                """,
                "critical",
                "For every fiscal quarter, the reps' bookings add up to the amount (and number) of opportunities "
                "won with a close date in that quarter in fct_opportunities (to the cent).",
                "bookings: Σ per quarter = Σ won amount in fct_opportunities",
            ),
        ),
    )


@model_suite
def revenue_retention() -> Suite:
    return Suite(
        name="marts.rpt_revenue_retention",
        needs=("billing",),
        key=("month",),
        description="The MRR bridge agrees with the customer-level MRR (that it balances is a dbt test).",
        expectations=(
            rows(
                f"""
                WITH report AS (SELECT * FROM {{batch}} AS batch_rows),
                customers AS (
                    SELECT month, sum(previous_mrr) AS starting_mrr, sum(mrr) AS ending_mrr
                    FROM marts.fct_mrr_monthly
                    GROUP BY month
                )
                SELECT report.month, report.starting_mrr, report.ending_mrr,
                       customers.starting_mrr AS customer_starting_mrr, customers.ending_mrr AS customer_ending_mrr
                FROM report LEFT JOIN customers ON customers.month = report.month
                WHERE abs(report.ending_mrr - coalesce(customers.ending_mrr, 0)) > {TOLERANCE}
                   OR abs(report.starting_mrr - coalesce(customers.starting_mrr, 0)) > {TOLERANCE}
                """,
                "critical",
                "Every month's starting and ending MRR equal the sum over customers in fct_mrr_monthly.",
                "ending MRR = Σ customer MRR in fct_mrr_monthly",
            ),
        ),
    )


@model_suite
def pipeline_snapshot() -> Suite:
    return Suite(
        name="marts.fct_pipeline_snapshot_daily",
        needs=("crm",),
        key=("snapshot_date", "opportunity_id"),
        description="The latest day of the pipeline history is today's open pipeline (one row per opportunity and day is a dbt test).",
        expectations=(
            rows(
                f"""
                WITH snap AS (
                    SELECT opportunity_id, amount
                    FROM {{batch}} AS batch_rows
                    WHERE snapshot_date = {AS_OF_INTERMEDIATE}
                ),
                open_now AS (
                    -- fct_opportunities publishes these rows; this gate runs before the marts step
                    SELECT opportunity_id, amount FROM intermediate.int_opportunities_enriched WHERE NOT is_closed
                )
                SELECT coalesce(snap.opportunity_id, open_now.opportunity_id) AS opportunity_id,
                       snap.amount AS snapshot_amount, open_now.amount AS current_amount,
                       CASE WHEN snap.opportunity_id IS NULL THEN 'open now, not in the snapshot'
                            WHEN open_now.opportunity_id IS NULL THEN 'in the snapshot, not open now'
                            ELSE 'amounts differ' END AS problem
                FROM snap FULL OUTER JOIN open_now ON snap.opportunity_id = open_now.opportunity_id
                WHERE (snap.opportunity_id IS NULL OR open_now.opportunity_id IS NULL
                       OR abs(coalesce(snap.amount, 0) - coalesce(open_now.amount, 0)) > {TOLERANCE})
                  -- only when the marts describe the latest data (an as-of date in the past is history)
                  AND {AS_OF_INTERMEDIATE} = (SELECT max(as_of_date) FROM intermediate.int_as_of_date)
                """,
                "critical",
                "The pipeline snapshot of the as-of date holds exactly the opportunities open now in "
                "fct_opportunities, with the same amounts (checked when the as-of date is the latest data).",
                "latest snapshot = open opportunities now",
            ),
            rows(
                f"""
                WITH snap AS (
                    SELECT opportunity_id, stage_name, close_date
                    FROM {{batch}} AS batch_rows
                    WHERE snapshot_date = {AS_OF_INTERMEDIATE}
                ),
                open_now AS (
                    SELECT opportunity_id, stage_name, close_date
                    FROM intermediate.int_opportunities_enriched WHERE NOT is_closed
                )
                SELECT snap.opportunity_id, snap.stage_name AS snapshot_stage, open_now.stage_name AS current_stage,
                       snap.close_date AS snapshot_close_date, open_now.close_date AS current_close_date
                FROM snap JOIN open_now ON snap.opportunity_id = open_now.opportunity_id
                WHERE (snap.stage_name IS DISTINCT FROM open_now.stage_name
                       OR snap.close_date IS DISTINCT FROM open_now.close_date)
                  AND {AS_OF_INTERMEDIATE} = (SELECT max(as_of_date) FROM intermediate.int_as_of_date)
                """,
                "warning",
                "On the latest snapshot each open opportunity has its current stage and close date; a "
                "difference means the OpportunityHistory export misses changes (the pipeline history is "
                "rebuilt from it).",
                "latest snapshot: current stage and close date",
            ),
        ),
    )


@model_suite
def bookings_billing() -> Suite:
    return Suite(
        name="marts.rpt_bookings_billing_reconciliation",
        needs=("crm", "billing"),
        key=("opportunity_id",),
        description="Every won deal once, booked at its amount, against a real first invoice.",
        expectations=(
            rows(
                f"""
                WITH won AS (
                    SELECT opportunity_id FROM marts.fct_opportunities
                    WHERE is_won AND close_date <= {AS_OF}
                      -- the report is empty while no invoice has been delivered (CRM-only installs)
                      AND EXISTS (SELECT 1 FROM staging.stg_billing__invoices)
                ),
                counted AS (
                    SELECT opportunity_id, count(*) AS n FROM {{batch}} AS batch_rows GROUP BY opportunity_id
                )
                SELECT coalesce(won.opportunity_id, counted.opportunity_id) AS opportunity_id,
                       coalesce(counted.n, 0) AS rows_in_report,
                       won.opportunity_id IS NOT NULL AS is_won_opportunity
                FROM won FULL OUTER JOIN counted ON won.opportunity_id = counted.opportunity_id
                WHERE won.opportunity_id IS NULL OR coalesce(counted.n, 0) <> 1
                """,
                "critical",
                "Every won opportunity (closed by the as-of date) appears exactly once in the reconciliation, "
                "and nothing else does.",
                "every won opportunity once",
            ),
            rows(
                f"""
                WITH report AS (SELECT * FROM {{batch}} AS batch_rows)
                SELECT report.opportunity_id, report.booked_arr, o.amount AS opportunity_amount
                FROM report LEFT JOIN marts.fct_opportunities AS o ON o.opportunity_id = report.opportunity_id
                WHERE abs(coalesce(report.booked_arr, 0) - coalesce(o.amount, 0)) > {TOLERANCE}
                """,
                "critical",
                "The booked ARR of each won deal is its opportunity amount in fct_opportunities (to the cent).",
                "booked_arr = opportunity amount",
            ),
            rows(
                """
                WITH report AS (SELECT * FROM {batch} AS batch_rows)
                SELECT report.opportunity_id, report.billing_customer_id, report.first_invoice_id,
                       report.first_invoice_date, i.customer AS invoice_customer, i.status AS invoice_status,
                       i.total AS invoice_total_minor
                FROM report LEFT JOIN raw.billing__invoice__current AS i ON i.id = report.first_invoice_id
                WHERE report.first_invoice_id IS NOT NULL
                  AND (i.id IS NULL
                       OR i.status IN ('draft', 'void') OR NOT (i.total > 0)
                       OR i.customer IS DISTINCT FROM report.billing_customer_id
                       OR CAST(i.created AS DATE) IS DISTINCT FROM report.first_invoice_date)
                """,
                "critical",
                "Each deal's first invoice is an invoice delivered by billing that bills money (not draft or "
                "void, total > 0), of the deal's billing customer, dated as the report says.",
                "first_invoice_id: a billing invoice of the customer",
            ),
        ),
    )


def model_suites() -> dict[str, Suite]:
    """The dbt models' suites, by suite name: every function in this module marked @model_suite."""
    suites = [build() for build in _REGISTERED]
    names = [s.name for s in suites]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise ValueError(f"two @model_suite functions build the same suite: {sorted(duplicated)}")
    return {s.name: s for s in suites}

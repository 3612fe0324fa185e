-- MRR of each subscription at the end of each month (the last instant of the month, or of the as-of date for
-- the running month): the recurring charges in force then, after the subscription's discount, for
-- subscriptions active then; in native currency and in corporate currency at the rate valid that day.
-- What is in force at an instant, and the discount, are defined once in macros/mrr.sql (fct_mrr_movements
-- measures the same value at the end of every day it changes).
with subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

charges as (
    select * from {{ ref('int_recurring_charges_normalized') }}
),

items as (
    select * from {{ ref('int_subscription_items_unnested') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

-- its own month spine: intermediate models never depend on marts (the orchestration builds them in an
-- earlier step than the marts)
bounds as (
    select cast({{ dbt.date_trunc('month', 'min(started_at)') }} as date) as first_month
    from subscriptions
),

months as (
    {{ month_spine('bounds') }}
),

measure_points as (
    select
        month,
        measured_on,
        -- the measurement is the last instant before this
        cast({{ dbt.dateadd('day', '1', 'measured_on') }} as timestamp) as measured_before
    from months
),

subscription_terms as (
    {{ mrr_subscription_terms('subscriptions') }}
),

billing_intervals as (
    {{ mrr_billing_intervals('items') }}
),

active_months as (
    select
        subscription_terms.*,
        measure_points.month,
        measure_points.measured_on,
        measure_points.measured_before
    from subscription_terms
    inner join measure_points
        on {{ mrr_in_force('subscription_terms.started_at', 'subscription_terms.ended_at', 'measure_points.measured_before') }}
),

gross as (
    select
        active_months.subscription_id,
        active_months.month,
        charges.currency,
        sum(charges.monthly_amount) as gross_mrr
    from active_months
    inner join charges
        on active_months.subscription_id = charges.subscription_id
        and {{ mrr_in_force('charges.effective_from', 'charges.effective_to', 'active_months.measured_before') }}
    group by active_months.subscription_id, active_months.month, charges.currency
),

discounted as (
    select
        active_months.subscription_id,
        active_months.customer_id,
        active_months.month,
        active_months.measured_on,
        gross.currency,
        gross.gross_mrr,
        {{ mrr_discount_in_force('active_months', 'active_months.measured_before') }} as is_discount_active,
        active_months.discount_percent_off,
        {{ mrr_discount_amount_off_monthly('active_months', 'gross.currency', 'billing_intervals') }}
            as discount_amount_off_monthly
    from active_months
    inner join gross
        on active_months.subscription_id = gross.subscription_id
        and active_months.month = gross.month
    left join billing_intervals on active_months.subscription_id = billing_intervals.subscription_id
),

valued as (
    select
        subscription_id,
        customer_id,
        month,
        measured_on,
        currency,
        {{ money('gross_mrr') }} as gross_mrr_native,
        {{ mrr_after_discount(
            'gross_mrr', 'is_discount_active', 'discount_percent_off', 'discount_amount_off_monthly'
        ) }} as mrr_native
    from discounted
),

final as (
    select
        valued.subscription_id,
        valued.customer_id,
        valued.month,
        valued.measured_on,
        valued.currency,
        valued.gross_mrr_native,
        valued.mrr_native,
        {{ to_corporate('valued.mrr_native', 'valued.currency', 'rates.conversion_rate') }} as mrr
    from valued
    left join rates
        on valued.currency = rates.iso_code
        and valued.measured_on >= rates.start_date
        and valued.measured_on < rates.next_start_date
)

select * from final

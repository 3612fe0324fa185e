-- MRR of each subscription at the end of each month (the last instant of the month, or of the as-of date for
-- the running month): the recurring charges in force then, after the subscription's discount, for
-- subscriptions active then; in native currency and in corporate currency at the rate valid that day.
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
    select
        subscription_id,
        customer_id,
        status,
        started_at,
        coalesce(ended_at, case when status = 'canceled' then canceled_at end) as ended_at,
        {{ json_value_as('discount', '$.coupon.percent_off', 'decimal(38, 9)') }} as discount_percent_off,
        {{ json_value_as('discount', '$.coupon.amount_off', 'bigint') }} as discount_amount_off_minor,
        upper({{ json_text('discount', '$.coupon.currency') }}) as discount_currency,
        {{ epoch_to_utc(json_value_as('discount', '$.start', 'bigint')) }} as discount_start_at,
        {{ epoch_to_utc(json_value_as('discount', '$.end', 'bigint')) }} as discount_end_at
    from subscriptions
    where status not in ('incomplete', 'incomplete_expired')
),

billing_intervals as (
    select
        subscription_id,
        min(recurring_interval) as recurring_interval,
        min(recurring_interval_count) as recurring_interval_count
    from items
    where price_type = 'recurring'
    group by subscription_id
),

active_months as (
    select
        subscription_terms.*,
        measure_points.month,
        measure_points.measured_on,
        measure_points.measured_before
    from subscription_terms
    inner join measure_points
        on subscription_terms.started_at < measure_points.measured_before
        and (subscription_terms.ended_at is null or subscription_terms.ended_at >= measure_points.measured_before)
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
        and charges.effective_from < active_months.measured_before
        and charges.effective_to >= active_months.measured_before
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
        case
            when
                (active_months.discount_start_at is null or active_months.discount_start_at < active_months.measured_before)
                and (active_months.discount_end_at is null or active_months.discount_end_at >= active_months.measured_before)
                then true
            else false
        end as is_discount_active,
        active_months.discount_percent_off,
        -- amount_off is taken off each invoice, i.e. once per billing interval
        {{ to_monthly(
            minor_to_major('active_months.discount_amount_off_minor', 'gross.currency'),
            'billing_intervals.recurring_interval', 'billing_intervals.recurring_interval_count'
        ) }} as discount_amount_off_monthly
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
        {{ money(
            "greatest(
                gross_mrr
                * (1 - case when is_discount_active then coalesce(discount_percent_off, 0) else 0 end / 100)
                - case when is_discount_active then coalesce(discount_amount_off_monthly, 0) else 0 end,
                0
            )"
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

-- MRR per billing customer and month in corporate currency at the month's rates, next to the previous month's
-- and the month 12 months earlier's MRR restated at the same rates (constant currency). Comparing amounts
-- converted at one set of rates keeps exchange-rate moves out of the MRR movements and retention.
-- A table: fct_mrr_monthly, rpt_revenue_retention and its gate each read it (2.3 s a derivation at scale 10).
{{ config(materialized='table') }}

with subscription_months as (
    select * from {{ ref('int_subscription_months_valued') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

bounds as (
    select min(month) as first_month
    from subscription_months
),

months as (
    {{ month_spine('bounds') }}
),

currency_months as (
    select
        customer_id,
        currency,
        month,
        sum(mrr_native) as mrr_native,
        count(distinct case when mrr_native > 0 then subscription_id end) as active_subscriptions
    from subscription_months
    group by customer_id, currency, month
),

first_months as (
    select
        customer_id,
        currency,
        min(month) as first_month
    from currency_months
    where mrr_native > 0
    group by customer_id, currency
),

spine as (
    select
        first_months.customer_id,
        first_months.currency,
        months.month,
        months.measured_on
    from first_months
    inner join months on first_months.first_month <= months.month
),

lagged as (
    select
        spine.customer_id,
        spine.currency,
        spine.month,
        spine.measured_on,
        coalesce(currency_months.mrr_native, 0) as mrr_native,
        coalesce(currency_months.active_subscriptions, 0) as active_subscriptions,
        coalesce(lag(currency_months.mrr_native, 1) over (
            partition by spine.customer_id, spine.currency order by spine.month
        ), 0) as previous_mrr_native,
        coalesce(lag(currency_months.mrr_native, 12) over (
            partition by spine.customer_id, spine.currency order by spine.month
        ), 0) as mrr_native_12_months_ago
    from spine
    left join currency_months
        on spine.customer_id = currency_months.customer_id
        and spine.currency = currency_months.currency
        and spine.month = currency_months.month
),

converted as (
    select
        lagged.customer_id,
        lagged.month,
        lagged.active_subscriptions,
        {{ to_corporate('lagged.mrr_native', 'lagged.currency', 'rates.conversion_rate') }} as mrr,
        {{ to_corporate('lagged.previous_mrr_native', 'lagged.currency', 'rates.conversion_rate') }}
            as previous_mrr,
        {{ to_corporate('lagged.mrr_native_12_months_ago', 'lagged.currency', 'rates.conversion_rate') }}
            as mrr_12_months_ago
    from lagged
    left join rates
        on lagged.currency = rates.iso_code
        and lagged.measured_on >= rates.start_date
        and lagged.measured_on < rates.next_start_date
),

final as (
    select
        customer_id,
        month,
        {{ money('sum(mrr)') }} as mrr,
        {{ money('sum(previous_mrr)') }} as previous_mrr,
        {{ money('sum(mrr_12_months_ago)') }} as mrr_12_months_ago,
        sum(active_subscriptions) as active_subscriptions
    from converted
    group by customer_id, month
)

select * from final

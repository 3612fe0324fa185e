-- MRR per billing customer and month, from the customer's first month with MRR to the as-of month, with the
-- movement from the previous month. previous_mrr is last month's MRR restated at this month's rates, so a
-- movement is a change in what the customer pays, never an exchange-rate move. Months where the customer had
-- no MRR in either month are left out.
-- A customer missing from the billing customers keeps its MRR history; it just has no account_id. A customer
-- Stripe deleted takes its subscriptions, and so its MRR, out of staging (stg_billing__subscriptions).
-- Partitioned by month in Dagster: a run for a partition or a backfill range rebuilds only the months of that
-- window (see macros/partition_window.sql). Movements and had_mrr_before are computed over the customer's whole
-- history first and filtered after, so a month rebuilt alone equals the same month of a full rebuild.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    tags=['partitioned_monthly'],
    pre_hook="{{ clear_partition_window('month') }}"
) }}

with customer_months as (
    select * from {{ ref('int_customer_months_restated') }}
),

customers as (
    select * from {{ ref('stg_billing__customers') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

with_history as (
    select
        *,
        coalesce(
            max(case when mrr > 0 then 1 else 0 end) over (
                partition by customer_id order by month rows between unbounded preceding and 1 preceding
            ),
            0
        ) = 1 as had_mrr_before
    from customer_months
),

classified as (
    select
        *,
        -- previous month 0 is tested first, so reactivation can fire
        case
            when previous_mrr = 0 and mrr > 0 and had_mrr_before then 'reactivation'
            when previous_mrr = 0 and mrr > 0 then 'new'
            when previous_mrr > 0 and mrr = 0 then 'churn'
            when mrr > previous_mrr then 'expansion'
            when mrr < previous_mrr then 'contraction'
            else 'unchanged'
        end as movement_type
    from with_history
    where
        (mrr > 0 or previous_mrr > 0)
        and {{ in_partition_window('month') }}
),

final as (
    select
        classified.customer_id || ' ' || cast(classified.month as {{ dbt.type_string() }}) as customer_month_id,
        classified.customer_id,
        accounts.account_id,
        classified.month,
        {{ money('classified.mrr') }} as mrr,
        {{ money('classified.previous_mrr') }} as previous_mrr,
        classified.movement_type,
        {{ money('classified.mrr - classified.previous_mrr') }} as movement_amount,
        cast(classified.active_subscriptions as bigint) as active_subscriptions
    from classified
    left join customers on classified.customer_id = customers.customer_id
    left join accounts on customers.crm_account_id = accounts.account_id
)

select * from final

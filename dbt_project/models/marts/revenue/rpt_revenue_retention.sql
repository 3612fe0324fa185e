-- The monthly MRR bridge and retention, at each month's exchange rates (constant currency within the month).
-- Per month: starting_mrr + new + expansion + reactivation - contraction - churn = ending_mrr (contraction and
-- churn are positive amounts); starting_mrr is last month's ending MRR restated at this month's rates, the
-- difference being fx_adjustment.
with mrr as (
    select * from {{ ref('fct_mrr_monthly') }}
),

customer_months as (
    select * from {{ ref('int_customer_months_restated') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

months as (
    select distinct month_start_date as month
    from calendar
    where
        month_start_date <= {{ as_of_date() }}
        and month_start_date >= (select min(mrr.month) from mrr)
),

bridge as (
    select
        month,
        sum(previous_mrr) as starting_mrr,
        sum(case when movement_type = 'new' then movement_amount else 0 end) as new_mrr,
        sum(case when movement_type = 'expansion' then movement_amount else 0 end) as expansion_mrr,
        sum(case when movement_type = 'contraction' then -movement_amount else 0 end) as contraction_mrr,
        sum(case when movement_type = 'churn' then -movement_amount else 0 end) as churn_mrr,
        sum(case when movement_type = 'reactivation' then movement_amount else 0 end) as reactivation_mrr,
        sum(mrr) as ending_mrr,
        count(case when previous_mrr > 0 then 1 end) as starting_customers,
        count(case when mrr > 0 then 1 end) as ending_customers,
        count(case when movement_type = 'churn' then 1 end) as churned_customers
    from mrr
    group by month
),

cohorts as (
    -- customers with MRR 12 months before each month, both months at this month's rates
    select
        month,
        sum(mrr_12_months_ago) as cohort_starting_mrr,
        sum(mrr) as cohort_current_mrr,
        sum(least(mrr, mrr_12_months_ago)) as cohort_retained_mrr
    from customer_months
    where mrr_12_months_ago > 0
    group by month
),

final as (
    select
        months.month,
        {{ money('coalesce(bridge.starting_mrr, 0)') }} as starting_mrr,
        {{ money('coalesce(bridge.new_mrr, 0)') }} as new,
        {{ money('coalesce(bridge.expansion_mrr, 0)') }} as expansion,
        {{ money('coalesce(bridge.contraction_mrr, 0)') }} as contraction,
        {{ money('coalesce(bridge.churn_mrr, 0)') }} as churn,
        {{ money('coalesce(bridge.reactivation_mrr, 0)') }} as reactivation,
        {{ money('coalesce(bridge.ending_mrr, 0)') }} as ending_mrr,
        {{ money('coalesce(bridge.starting_mrr, 0) - coalesce(lag(bridge.ending_mrr) over (order by months.month), 0)') }}
            as fx_adjustment,
        cast(coalesce(bridge.starting_customers, 0) as bigint) as starting_customers,
        cast(coalesce(bridge.ending_customers, 0) as bigint) as ending_customers,
        cast(coalesce(bridge.churned_customers, 0) as bigint) as churned_customers,
        {{ safe_divide('bridge.churned_customers', 'bridge.starting_customers') }} as logo_churn_rate,
        {{ safe_divide('cohorts.cohort_retained_mrr', 'cohorts.cohort_starting_mrr') }} as grr_12m,
        {{ safe_divide('cohorts.cohort_current_mrr', 'cohorts.cohort_starting_mrr') }} as nrr_12m
    from months
    left join bridge on months.month = bridge.month
    left join cohorts on months.month = cohorts.month
)

select * from final

-- Every month: starting + new + expansion + reactivation - contraction - churn = ending, each month starts
-- where the previous one ended (restated at the new month's rates: + fx_adjustment), no month is missing
-- between two months, and GRR stays <= 100%.
with bridge as (
    select
        *,
        lag(ending_mrr) over (order by month) as previous_ending_mrr,
        lag(month) over (order by month) as previous_month
    from {{ ref('rpt_revenue_retention') }}
)

select month
from bridge
where
    starting_mrr + new + expansion + reactivation - contraction - churn <> ending_mrr
    or starting_mrr <> coalesce(previous_ending_mrr, 0) + fx_adjustment
    or cast({{ dbt.dateadd('month', 1, 'previous_month') }} as date) <> month
    or grr_12m > 1

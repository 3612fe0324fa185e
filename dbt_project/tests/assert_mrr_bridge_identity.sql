-- Every month: starting + new + expansion + reactivation - contraction - churn = ending, each month starts
-- where the previous one ended (restated at the new month's rates: + fx_adjustment), and GRR stays <= 100%.
with bridge as (
    select
        *,
        lag(ending_mrr) over (order by month) as previous_ending_mrr
    from {{ ref('rpt_revenue_retention') }}
)

select month
from bridge
where
    starting_mrr + new + expansion + reactivation - contraction - churn <> ending_mrr
    or starting_mrr <> coalesce(previous_ending_mrr, 0) + fx_adjustment
    or grr_12m > 1

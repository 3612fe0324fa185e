-- MRR movements as they happen (fct_mrr_movements) reconcile with the month-end MRR (fct_mrr_monthly): for every
-- customer and month, the month's movements add up to mrr − previous_mrr (0 for a customer-month that
-- fct_mrr_monthly leaves out: no MRR at either month end), and the movements of subscriptions that started and
-- ended inside the month (is_within_month, the only ones fct_mrr_monthly never sees) add up to 0. Both sides
-- convert a month at its month-end rates; they may differ only in the last decimal of a DOUBLE monthly amount's
-- rounding, hence the tolerance of a hundredth of a cent. Lists the customer-months that do not reconcile.
-- In a Dagster run it runs in the marts step (its other parent is upstream of that step's selection, dbt's
-- buildable indirect selection); a failure fails the step, so nothing is published.
with movements as (
    select * from {{ ref('fct_mrr_movements') }}
),

month_end as (
    select * from {{ ref('fct_mrr_monthly') }}
),

summed as (
    select
        customer_id,
        month,
        sum(movement_amount) as events_change,
        sum(case when is_within_month then movement_amount else 0 end) as within_month_change
    from movements
    group by customer_id, month
)

select
    coalesce(summed.customer_id, month_end.customer_id) as customer_id,
    coalesce(summed.month, month_end.month) as month,
    summed.events_change,
    month_end.movement_amount as month_end_change,
    summed.within_month_change
from summed
full outer join month_end
    on summed.customer_id = month_end.customer_id
    and summed.month = month_end.month
where
    abs(coalesce(summed.events_change, 0) - coalesce(month_end.movement_amount, 0)) > 0.0001
    or abs(coalesce(summed.within_month_change, 0)) > 0.0001

-- The MRR movements the bridge metrics and the dashboard show: per customer, month and movement type, in the
-- convention var mrr_convention chooses. month_end: fct_mrr_monthly's movement between the two month ends (one
-- per customer-month); events: fct_mrr_movements summed over the month (every change on its day). The two sum
-- to the same change per customer and month; they differ in how they split it.
with month_end as (
    select * from {{ ref('fct_mrr_monthly') }}
),

events as (
    select * from {{ ref('fct_mrr_movements') }}
),

by_month_end as (
    select
        customer_id,
        account_id,
        month,
        movement_type,
        movement_amount,
        1 as movement_count,
        0 as within_month_amount
    from month_end
    where movement_type <> 'unchanged'
),

by_events as (
    select
        customer_id,
        account_id,
        month,
        movement_type,
        sum(movement_amount) as movement_amount,
        count(*) as movement_count,
        sum(case when is_within_month then movement_amount else 0 end) as within_month_amount
    from events
    group by customer_id, account_id, month, movement_type
),

selected as (
    -- one branch is a constant false, which the database drops before reading anything
    select * from by_month_end
    where '{{ mrr_convention() }}' = 'month_end'
    union all
    select * from by_events
    where '{{ mrr_convention() }}' = 'events'
),

final as (
    select
        customer_id || ' ' || cast(month as {{ dbt.type_string() }}) || ' ' || movement_type as mrr_movement_month_id,
        '{{ mrr_convention() }}' as mrr_convention,
        customer_id,
        account_id,
        month,
        movement_type,
        {{ money('movement_amount') }} as movement_amount,
        cast(movement_count as bigint) as movement_count,
        {{ money('within_month_amount') }} as within_month_amount
    from selected
)

select * from final

-- One row per rep (a user who owns an opportunity or has a quota) and fiscal quarter, from the first quarter
-- with data to the quarter of the as-of date. Closed-in-period metrics count opportunities by their current
-- close date and state, closed on or before the as-of date.
with opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

snapshots as (
    select * from {{ ref('fct_pipeline_snapshot_daily') }}
),

activities as (
    select * from {{ ref('fct_activities') }}
),

quotas as (
    select * from {{ ref('int_quotas_converted') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

quarters as (
    select
        fiscal_quarter,
        min(fiscal_quarter_start) as fiscal_quarter_start,
        min(fiscal_quarter_end) as fiscal_quarter_end
    from calendar
    where fiscal_quarter_start <= {{ as_of_date() }}
    group by fiscal_quarter
),

reps as (
    select
        owner_user_id as user_id,
        min(least(created_date, close_date)) as first_date
    from opportunities
    group by owner_user_id
    union all
    select
        quotas.user_id,
        min(quarters.fiscal_quarter_start) as first_date
    from quotas
    inner join quarters on quotas.fiscal_quarter = quarters.fiscal_quarter
    group by quotas.user_id
),

rep_quarters as (
    select
        reps.user_id,
        quarters.fiscal_quarter,
        quarters.fiscal_quarter_start,
        quarters.fiscal_quarter_end
    from (select
        user_id,
        min(first_date) as first_date
    from reps
    group by user_id) as reps
    inner join quarters on quarters.fiscal_quarter_end >= reps.first_date
),

closed as (
    select
        owner_user_id as user_id,
        fiscal_quarter_closed as fiscal_quarter,
        count(case when is_won then 1 end) as won_count,
        count(case when not is_won then 1 end) as lost_count,
        sum(case when is_won then amount else 0 end) as won_amount,
        sum(case when not is_won then amount else 0 end) as lost_amount,
        avg(case when is_won then days_to_close end) as avg_days_to_close_won
    from opportunities
    where is_closed and close_date <= {{ as_of_date() }}
    group by owner_user_id, fiscal_quarter_closed
),

created as (
    select
        owner_user_id as user_id,
        fiscal_quarter_created as fiscal_quarter,
        count(*) as opportunities_created,
        sum(amount) as pipeline_created
    from opportunities
    where created_date <= {{ as_of_date() }}
    group by owner_user_id, fiscal_quarter_created
),

quarter_start_pipeline as (
    select
        snapshots.owner_user_id as user_id,
        quarters.fiscal_quarter,
        sum(snapshots.amount) as open_pipeline_at_quarter_start,
        sum(
            case
                when snapshots.close_date between quarters.fiscal_quarter_start and quarters.fiscal_quarter_end
                    then snapshots.amount
                else 0
            end
        )
            as open_pipeline_closing_in_quarter
    from snapshots
    inner join quarters on snapshots.snapshot_date = quarters.fiscal_quarter_start
    group by snapshots.owner_user_id, quarters.fiscal_quarter
),

activity_counts as (
    select
        activities.user_id,
        calendar.fiscal_quarter,
        count(case when activities.activity_type = 'call' then 1 end) as calls,
        count(case when activities.activity_type = 'email' then 1 end) as emails,
        count(case when activities.activity_type = 'meeting' and activities.outcome = 'held' then 1 end)
            as meetings_held
    from activities
    inner join calendar on activities.occurred_date = calendar.date_day
    where activities.user_id is not null and activities.occurred_date <= {{ as_of_date() }}
    group by activities.user_id, calendar.fiscal_quarter
),

final as (
    select
        rep_quarters.user_id || ' ' || rep_quarters.fiscal_quarter as rep_quarter_id,
        rep_quarters.user_id,
        rep_quarters.fiscal_quarter,
        rep_quarters.fiscal_quarter_start,
        rep_quarters.fiscal_quarter_end,
        rep_quarters.fiscal_quarter_end > {{ as_of_date() }} as is_partial_quarter,
        cast(coalesce(closed.won_count, 0) as bigint) as won_count,
        cast(coalesce(closed.lost_count, 0) as bigint) as lost_count,
        {{ safe_divide('closed.won_count', 'closed.won_count + closed.lost_count') }} as win_rate_count,
        {{ safe_divide('closed.won_amount', 'closed.won_amount + closed.lost_amount') }} as win_rate_value,
        {{ money('coalesce(closed.won_amount, 0)') }} as bookings,
        {{ money('closed.won_amount / nullif(closed.won_count, 0)') }} as avg_deal_size,
        cast(closed.avg_days_to_close_won as {{ type_double() }}) as avg_days_to_close_won,
        {{ money('quotas.quota') }} as quota,
        {{ safe_divide('coalesce(closed.won_amount, 0)', 'quotas.quota') }} as attainment,
        {{ money('coalesce(quarter_start_pipeline.open_pipeline_at_quarter_start, 0)') }}
            as open_pipeline_at_quarter_start,
        {{ money('coalesce(quarter_start_pipeline.open_pipeline_closing_in_quarter, 0)') }}
            as open_pipeline_closing_in_quarter_at_quarter_start,
        {{ safe_divide('coalesce(quarter_start_pipeline.open_pipeline_closing_in_quarter, 0)', 'quotas.quota') }}
            as pipeline_coverage,
        cast(coalesce(created.opportunities_created, 0) as bigint) as opportunities_created,
        {{ money('coalesce(created.pipeline_created, 0)') }} as pipeline_created,
        cast(coalesce(activity_counts.calls, 0) as bigint) as calls,
        cast(coalesce(activity_counts.emails, 0) as bigint) as emails,
        cast(coalesce(activity_counts.meetings_held, 0) as bigint) as meetings_held
    from rep_quarters
    left join closed
        on rep_quarters.user_id = closed.user_id and rep_quarters.fiscal_quarter = closed.fiscal_quarter
    left join created
        on rep_quarters.user_id = created.user_id and rep_quarters.fiscal_quarter = created.fiscal_quarter
    left join quotas
        on rep_quarters.user_id = quotas.user_id and rep_quarters.fiscal_quarter = quotas.fiscal_quarter
    left join quarter_start_pipeline
        on rep_quarters.user_id = quarter_start_pipeline.user_id
        and rep_quarters.fiscal_quarter = quarter_start_pipeline.fiscal_quarter
    left join activity_counts
        on rep_quarters.user_id = activity_counts.user_id
        and rep_quarters.fiscal_quarter = activity_counts.fiscal_quarter
)

select * from final

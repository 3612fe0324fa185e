-- The forecast each owner's opportunities showed for a fiscal quarter at the end of each week of that quarter
-- (the last day of the week inside the quarter, or the as-of date for the running week), rebuilt from
-- OpportunityHistory, next to the quarter's actual bookings once the quarter is over.
with states as (
    select * from {{ ref('int_opportunity_states_historized') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

snapshot_dates as (
    select
        fiscal_quarter,
        min(fiscal_quarter_start) as fiscal_quarter_start,
        min(fiscal_quarter_end) as fiscal_quarter_end,
        week_start_date as snapshot_week_start,
        max(date_day) as snapshot_date
    from calendar
    where date_day <= {{ as_of_date() }}
    group by fiscal_quarter, week_start_date
),

forecasts as (
    select
        states.owner_user_id,
        snapshot_dates.fiscal_quarter,
        snapshot_dates.fiscal_quarter_end,
        snapshot_dates.snapshot_week_start,
        snapshot_dates.snapshot_date,
        sum(case when states.is_won then coalesce(states.amount, 0) else 0 end) as closed_won,
        sum(case when not states.is_closed and states.forecast_category = 'Commit' then coalesce(states.amount, 0) else 0 end)
            as commit_amount,
        sum(
            case when not states.is_closed and states.forecast_category = 'Best Case' then coalesce(states.amount, 0) else 0 end
        ) as best_case,
        sum(case when not states.is_closed and states.forecast_category = 'Pipeline' then coalesce(states.amount, 0) else 0 end)
            as pipeline,
        sum(case when not states.is_closed then coalesce(states.amount, 0) else 0 end) as open_amount,
        count(case when not states.is_closed then 1 end) as open_count
    from snapshot_dates
    inner join states
        on states.valid_from <= snapshot_dates.snapshot_date
        and coalesce(states.valid_to, cast('9999-12-31' as date)) > snapshot_dates.snapshot_date
        and states.close_date >= snapshot_dates.fiscal_quarter_start
        and states.close_date <= snapshot_dates.fiscal_quarter_end
    where states.is_won or not states.is_closed
    group by
        states.owner_user_id,
        snapshot_dates.fiscal_quarter,
        snapshot_dates.fiscal_quarter_end,
        snapshot_dates.snapshot_week_start,
        snapshot_dates.snapshot_date
),

actuals as (
    select
        owner_user_id,
        fiscal_quarter_closed as fiscal_quarter,
        sum(amount) as actual_bookings
    from opportunities
    where is_won
    group by owner_user_id, fiscal_quarter_closed
),

final as (
    select
        forecasts.owner_user_id || ' ' || forecasts.fiscal_quarter || ' ' || cast(forecasts.snapshot_date as {{ dbt.type_string() }})
            as forecast_snapshot_id,
        forecasts.owner_user_id,
        forecasts.fiscal_quarter,
        forecasts.snapshot_week_start,
        forecasts.snapshot_date,
        {{ money('forecasts.closed_won') }} as closed_won,
        {{ money('forecasts.commit_amount') }} as commit,
        {{ money('forecasts.best_case') }} as best_case,
        {{ money('forecasts.pipeline') }} as pipeline,
        {{ money('forecasts.open_amount') }} as open_pipeline,
        cast(forecasts.open_count as bigint) as open_count,
        {{ money('forecasts.closed_won + forecasts.commit_amount') }} as commit_forecast,
        forecasts.fiscal_quarter_end <= {{ as_of_date() }} as is_quarter_complete,
        {{ money(
            'case when forecasts.fiscal_quarter_end <= ' ~ as_of_date()
            ~ ' then coalesce(actuals.actual_bookings, 0) end'
        ) }} as actual_bookings
    from forecasts
    left join actuals
        on forecasts.owner_user_id = actuals.owner_user_id
        and forecasts.fiscal_quarter = actuals.fiscal_quarter
),

with_accuracy as (
    select
        *,
        {{ money('actual_bookings - commit_forecast') }} as forecast_variance,
        1 - abs({{ safe_divide('actual_bookings - commit_forecast', 'actual_bookings') }}) as forecast_accuracy
    from final
)

select * from with_accuracy

-- The pipeline waterfall: for each fiscal quarter, owner and forecast category, the open pipeline closing in
-- the quarter at its start (fct_pipeline_snapshot_daily the day before), what moved it day by day during the
-- quarter (from the OpportunityHistory states, int_opportunity_states_historized), and the pipeline at its end
-- (the snapshot of the quarter's last day, or of the as-of date). Definitions: _pipeline__models.yml.
-- A table rebuilt on every run from the history and the snapshot, so a partitioned backfill of the snapshot and
-- a normal run give the same rows.
with states as (
    select * from {{ ref('int_opportunity_states_historized') }}
),

snapshots as (
    select * from {{ ref('fct_pipeline_snapshot_daily') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

quarters as (
    select
        fiscal_quarter,
        min(fiscal_quarter_start) as quarter_start_date,
        min(fiscal_quarter_end) as quarter_end_date,
        cast({{ dbt.dateadd('day', '-1', 'min(fiscal_quarter_start)') }} as date) as opening_date,
        least(min(fiscal_quarter_end), {{ as_of_date() }}) as closing_date
    from calendar
    where fiscal_quarter_start <= {{ as_of_date() }}
    group by fiscal_quarter
),

-- The snapshot starts on the calendar's first day: a state begun earlier counts from that day, as there.
calendar_start as (
    select min(date_day) as first_day
    from calendar
),

clamped_states as (
    select
        states.*,
        greatest(states.valid_from, calendar_start.first_day) as movement_date
    from states
    cross join calendar_start
    where coalesce(states.valid_to, cast('9999-12-31' as date)) > calendar_start.first_day
),

-- each change of state, with the state of the day before
sequenced as (
    select
        opportunity_id,
        owner_user_id,
        movement_date,
        is_closed,
        is_won,
        forecast_category,
        amount,
        currency,
        close_date,
        close_fiscal_quarter,
        {{ fiscal_quarter_label('movement_date') }} as fiscal_quarter,
        lag(movement_date) over w is not null as has_previous,
        lag(is_closed) over w as previous_is_closed,
        lag(amount) over w as previous_amount,
        lag(amount_native) over w as previous_amount_native,
        lag(close_fiscal_quarter) over w as previous_close_fiscal_quarter
    from clamped_states
    window w as (partition by opportunity_id order by movement_date)
),

transitions as (
    select
        *,
        coalesce(has_previous and not previous_is_closed and previous_close_fiscal_quarter = fiscal_quarter, false)
            as was_in_quarter,
        coalesce(not is_closed and close_fiscal_quarter = fiscal_quarter, false) as is_in_quarter,
        coalesce(is_closed and close_fiscal_quarter = fiscal_quarter, false) as closes_in_quarter
    from sequenced
    where movement_date <= {{ as_of_date() }}
),

classified as (
    select
        *,
        -- enters the quarter's open pipeline: created into it, moved into it, reopened into it, or closed in the
        -- quarter on the day it was created or moved into it
        not was_in_quarter
        and (is_in_quarter or (closes_in_quarter and not coalesce(previous_is_closed, false))) as enters,
        -- leaves it closed, or still open with a close date outside the quarter
        is_closed and (was_in_quarter or (closes_in_quarter and not coalesce(previous_is_closed, false)))
            as closes,
        was_in_quarter and not is_closed and not is_in_quarter as slips_out,
        -- in the quarter's pipeline before and after (or until it closed): a changed amount
        was_in_quarter and (is_in_quarter or is_closed) as is_revalued
    from transitions
),

movements as (
    select
        opportunity_id,
        owner_user_id,
        fiscal_quarter,
        movement_date,
        forecast_category,
        case when has_previous then 'pulled_in' else 'created' end as movement,
        coalesce(amount, 0) as amount,
        coalesce(previous_is_closed, false) as is_reopening
    from classified
    where enters
    union all
    select
        opportunity_id,
        owner_user_id,
        fiscal_quarter,
        movement_date,
        forecast_category,
        case when is_won then 'won' else 'lost' end as movement,
        coalesce(amount, 0) as amount,
        false as is_reopening
    from classified
    where closes
    union all
    select
        opportunity_id,
        owner_user_id,
        fiscal_quarter,
        movement_date,
        forecast_category,
        'slipped_out' as movement,
        coalesce(previous_amount, 0) as amount,
        false as is_reopening
    from classified
    where slips_out
    union all
    select
        opportunity_id,
        owner_user_id,
        fiscal_quarter,
        movement_date,
        forecast_category,
        case when coalesce(amount, 0) > coalesce(previous_amount, 0) then 'increased' else 'decreased' end
            as movement,
        abs(coalesce(amount, 0) - coalesce(previous_amount, 0)) as amount,
        false as is_reopening
    from classified
    where is_revalued and coalesce(amount, 0) <> coalesce(previous_amount, 0)
),

-- The part of an amount change that is a new conversion rate: the previous native amount at the rate of the
-- new close date, less its value at the rate of the old one (0 for the corporate currency or the same rate).
revaluations as (
    select
        classified.opportunity_id,
        classified.owner_user_id,
        classified.fiscal_quarter,
        {{ to_corporate('classified.previous_amount_native', 'classified.currency', 'rates.conversion_rate') }}
        - classified.previous_amount as fx_revaluation
    from classified
    left join rates
        on classified.currency = rates.iso_code
        and classified.close_date >= rates.start_date
        and classified.close_date < rates.next_start_date
    where classified.is_revalued
),

opening_rows as (
    select
        quarters.fiscal_quarter,
        snapshots.opportunity_id,
        snapshots.owner_user_id,
        snapshots.forecast_category,
        coalesce(snapshots.amount, 0) as amount
    from quarters
    inner join snapshots
        on quarters.opening_date = snapshots.snapshot_date
        and quarters.fiscal_quarter = snapshots.close_fiscal_quarter
),

closing_rows as (
    select
        quarters.fiscal_quarter,
        snapshots.opportunity_id,
        snapshots.owner_user_id,
        coalesce(snapshots.amount, 0) as amount
    from quarters
    inner join snapshots
        on quarters.closing_date = snapshots.snapshot_date
        and quarters.fiscal_quarter = snapshots.close_fiscal_quarter
),

-- An opportunity keeps one forecast category per quarter: the one it had at the quarter's start, or, for one
-- that entered the pipeline during the quarter, the one it had at the end of the day it entered.
category_candidates as (
    select
        fiscal_quarter,
        opportunity_id,
        forecast_category,
        0 as priority,
        cast(null as date) as since
    from opening_rows
    union all
    select
        fiscal_quarter,
        opportunity_id,
        forecast_category,
        1 as priority,
        movement_date as since
    from movements
    where movement in ('created', 'pulled_in')
),

quarter_categories as (
    select
        fiscal_quarter,
        opportunity_id,
        forecast_category
    from (
        select
            *,
            row_number() over (
                partition by fiscal_quarter, opportunity_id order by priority, since
            ) as candidate_rank
        from category_candidates
    ) as ranked
    where candidate_rank = 1
),

amounts as (
    select
        fiscal_quarter,
        opportunity_id,
        owner_user_id,
        'opening' as measure,
        amount,
        false as is_reopening,
        0 as fx_revaluation
    from opening_rows
    union all
    select
        fiscal_quarter,
        opportunity_id,
        owner_user_id,
        'closing' as measure,
        amount,
        false as is_reopening,
        0 as fx_revaluation
    from closing_rows
    union all
    select
        fiscal_quarter,
        opportunity_id,
        owner_user_id,
        movement as measure,
        amount,
        is_reopening,
        0 as fx_revaluation
    from movements
    union all
    select
        fiscal_quarter,
        opportunity_id,
        owner_user_id,
        'fx' as measure,
        0 as amount,
        false as is_reopening,
        fx_revaluation
    from revaluations
    where fx_revaluation <> 0
),

grouped as (
    select
        amounts.fiscal_quarter,
        amounts.owner_user_id,
        quarter_categories.forecast_category,
        {%- for m in ['opening', 'created', 'pulled_in', 'increased', 'decreased', 'slipped_out', 'won', 'lost', 'closing'] %}
            sum(case when amounts.measure = '{{ m }}' then amounts.amount else 0 end) as {{ m }}_amount,
            count(case when amounts.measure = '{{ m }}' then 1 end) as {{ m }}_count,
        {%- endfor %}
        sum(case when amounts.is_reopening then amounts.amount else 0 end) as reopened_amount,
        count(case when amounts.is_reopening then 1 end) as reopened_count,
        sum(amounts.fx_revaluation) as fx_revaluation
    from amounts
    left join quarter_categories
        on amounts.fiscal_quarter = quarter_categories.fiscal_quarter
        and amounts.opportunity_id = quarter_categories.opportunity_id
    group by amounts.fiscal_quarter, amounts.owner_user_id, quarter_categories.forecast_category
),

final as (
    select
        grouped.fiscal_quarter || ' ' || grouped.owner_user_id || ' ' || coalesce(grouped.forecast_category, '(none)')
            as pipeline_movement_id,
        grouped.fiscal_quarter,
        quarters.quarter_start_date,
        quarters.quarter_end_date,
        quarters.opening_date,
        quarters.closing_date,
        quarters.quarter_end_date <= {{ as_of_date() }} as is_quarter_complete,
        grouped.owner_user_id,
        users.user_name as owner_name,
        users.manager_user_id,
        users.manager_name,
        grouped.forecast_category,
        {{ money('grouped.opening_amount') }} as opening_pipeline,
        cast(grouped.opening_count as bigint) as opening_count,
        {{ money('grouped.created_amount') }} as created,
        cast(grouped.created_count as bigint) as created_count,
        {{ money('grouped.pulled_in_amount') }} as pulled_in,
        cast(grouped.pulled_in_count as bigint) as pulled_in_count,
        {{ money('grouped.reopened_amount') }} as reopened,
        cast(grouped.reopened_count as bigint) as reopened_count,
        {{ money('grouped.increased_amount') }} as increased,
        cast(grouped.increased_count as bigint) as increased_count,
        {{ money('grouped.decreased_amount') }} as decreased,
        cast(grouped.decreased_count as bigint) as decreased_count,
        {{ money('grouped.fx_revaluation') }} as fx_revaluation,
        {{ money('grouped.slipped_out_amount') }} as slipped_out,
        cast(grouped.slipped_out_count as bigint) as slipped_out_count,
        {{ money('grouped.won_amount') }} as won,
        cast(grouped.won_count as bigint) as won_count,
        {{ money('grouped.lost_amount') }} as lost,
        cast(grouped.lost_count as bigint) as lost_count,
        {{ money('grouped.closing_amount') }} as closing_pipeline,
        cast(grouped.closing_count as bigint) as closing_count
    from grouped
    inner join quarters on grouped.fiscal_quarter = quarters.fiscal_quarter
    left join users on grouped.owner_user_id = users.user_id
)

select * from final

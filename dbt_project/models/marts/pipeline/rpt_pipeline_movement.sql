-- The pipeline waterfall: for each fiscal quarter, owner and forecast category, the open pipeline closing in
-- the quarter at its start (fct_pipeline_snapshot_daily the day before), what moved it day by day during the
-- quarter (from the OpportunityHistory states, int_opportunity_states_historized), and the pipeline at its end
-- (the snapshot of the quarter's last day, or of the as-of date). Definitions: _pipeline__models.yml.
-- A table rebuilt on every run from the history and the snapshot, so a partitioned backfill of the snapshot and
-- a normal run give the same rows.
with states as (
    select * from {{ ref('int_opportunity_states_historized') }}
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

-- The snapshot of the days the quarters open and close on, and only those: two of 90-odd days a quarter. The two
-- joins below would otherwise read and hold the whole snapshot (11 M rows at scale 10).
snapshots as (
    select
        snapshot_date,
        opportunity_id,
        owner_user_id,
        forecast_category,
        amount,
        close_fiscal_quarter
    from {{ ref('fct_pipeline_snapshot_daily') }}
    where snapshot_date in (
        select opening_date from quarters
        union all
        select closing_date from quarters
    )
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
        amount_native,
        currency,
        close_date,
        lag(movement_date) over w is not null as has_previous,
        lag(is_closed) over w as previous_is_closed,
        lag(amount) over w as previous_amount,
        lag(amount_native) over w as previous_amount_native,
        lag(close_date) over w as previous_close_date
    from clamped_states
    window w as (partition by opportunity_id order by movement_date)
),

-- judged against the quarter of the day of the change (date comparisons: the quarter's bounds are its fiscal
-- calendar's, as close_fiscal_quarter's are)
transitions as (
    select
        sequenced.*,
        quarters.fiscal_quarter,
        coalesce(
            sequenced.has_previous
            and not sequenced.previous_is_closed
            and sequenced.previous_close_date between quarters.quarter_start_date and quarters.quarter_end_date,
            false
        ) as was_in_quarter,
        coalesce(
            not sequenced.is_closed
            and sequenced.close_date between quarters.quarter_start_date and quarters.quarter_end_date,
            false
        ) as is_in_quarter,
        coalesce(
            sequenced.is_closed
            and sequenced.close_date between quarters.quarter_start_date and quarters.quarter_end_date,
            false
        ) as closes_in_quarter
    from sequenced
    inner join quarters
        on sequenced.movement_date >= quarters.quarter_start_date
        and sequenced.movement_date <= quarters.closing_date
),

classified as (
    select
        transitions.*,
        -- enters the quarter's open pipeline: created into it, moved into it, reopened into it, or closed in the
        -- quarter on the day it was created or moved into it
        not transitions.was_in_quarter
        and (
            transitions.is_in_quarter
            or (transitions.closes_in_quarter and not coalesce(transitions.previous_is_closed, false))
        ) as enters,
        -- leaves it closed, or still open with a close date outside the quarter
        transitions.is_closed
        and (
            transitions.was_in_quarter
            or (transitions.closes_in_quarter and not coalesce(transitions.previous_is_closed, false))
        ) as closes,
        transitions.was_in_quarter and not transitions.is_closed and not transitions.is_in_quarter as slips_out,
        -- in the quarter's pipeline before and after (or until it closed): a changed amount
        transitions.was_in_quarter and (transitions.is_in_quarter or transitions.is_closed) as is_revalued,
        -- of that change, the part due to a new conversion rate: the previous native amount at the rate of the new
        -- close date, less its value at the rate of the old one (0 in the corporate currency or at the same rate)
        coalesce(
            {{ to_corporate('transitions.previous_amount_native', 'transitions.currency', 'rates.conversion_rate') }}
            - transitions.previous_amount,
            0
        ) as fx_change
    from transitions
    left join rates
        on transitions.currency = rates.iso_code
        and transitions.close_date >= rates.start_date
        and transitions.close_date < rates.next_start_date
),

-- Up to two movements per change of state (e.g. pulled in and won on one day), from one pass over the changes:
-- enter, close, slip, change (an amount change: increased / decreased; 'none' when only its fx part is not 0,
-- which cannot happen unless a native amount change exactly offsets the rate's).
movements as (
    select
        classified.opportunity_id,
        classified.owner_user_id,
        classified.fiscal_quarter,
        classified.movement_date,
        classified.forecast_category,
        case kinds.kind
            when 'enter' then case when classified.has_previous then 'pulled_in' else 'created' end
            when 'close' then case when classified.is_won then 'won' else 'lost' end
            when 'slip' then 'slipped_out'
            when 'change' then
                case
                    when coalesce(classified.amount, 0) > coalesce(classified.previous_amount, 0) then 'increased'
                    when coalesce(classified.amount, 0) < coalesce(classified.previous_amount, 0) then 'decreased'
                    else 'none'
                end
        end as measure,
        case kinds.kind
            when 'slip' then coalesce(classified.previous_amount, 0)
            when 'change' then abs(coalesce(classified.amount, 0) - coalesce(classified.previous_amount, 0))
            else coalesce(classified.amount, 0)
        end as amount,
        kinds.kind = 'enter' and coalesce(classified.previous_is_closed, false) as is_reopening,
        case when kinds.kind = 'change' then classified.fx_change else 0 end as fx_revaluation
    from classified
    cross join (values ('enter'), ('close'), ('slip'), ('change')) as kinds (kind)
    where
        (kinds.kind = 'enter' and classified.enters)
        or (kinds.kind = 'close' and classified.closes)
        or (kinds.kind = 'slip' and classified.slips_out)
        or (
            kinds.kind = 'change'
            and classified.is_revalued
            and (coalesce(classified.amount, 0) <> coalesce(classified.previous_amount, 0) or classified.fx_change <> 0)
        )
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

-- category_rank: 0 for the category at the quarter's start, 1 for the category on entering it, 9 for none
amounts as (
    select
        fiscal_quarter,
        opportunity_id,
        owner_user_id,
        forecast_category,
        0 as category_rank,
        cast(null as date) as since,
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
        cast(null as {{ dbt.type_string() }}) as forecast_category,
        9 as category_rank,
        cast(null as date) as since,
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
        forecast_category,
        case when measure in ('created', 'pulled_in') then 1 else 9 end as category_rank,
        movement_date as since,
        measure,
        amount,
        is_reopening,
        fx_revaluation
    from movements
),

-- An opportunity keeps one forecast category per quarter: the one it had at the quarter's start, or, for one
-- that entered the pipeline during the quarter, the one it had at the end of the day it first entered.
keyed as (
    select
        *,
        first_value(forecast_category) over (
            partition by fiscal_quarter, opportunity_id
            order by category_rank, since
            rows between unbounded preceding and unbounded following
        ) as quarter_category
    from amounts
),

grouped as (
    select
        fiscal_quarter,
        owner_user_id,
        quarter_category as forecast_category,
        {%- for m in ['opening', 'created', 'pulled_in', 'increased', 'decreased', 'slipped_out', 'won', 'lost', 'closing'] %}
            sum(case when measure = '{{ m }}' then amount else 0 end) as {{ m }}_amount,
            count(case when measure = '{{ m }}' then 1 end) as {{ m }}_count,
        {%- endfor %}
        sum(case when is_reopening then amount else 0 end) as reopened_amount,
        count(case when is_reopening then 1 end) as reopened_count,
        sum(fx_revaluation) as fx_revaluation
    from keyed
    group by fiscal_quarter, owner_user_id, quarter_category
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

-- The state of each opportunity at the end of each day, as intervals: one row per day on which the
-- state changed (the last history row of that day wins), valid until the day before the next change.
with histories as (
    select * from {{ ref('int_opportunity_histories_sequenced') }}
),

daily_last as (
    select
        *,
        cast(created_at as date) as valid_from,
        row_number() over (
            partition by opportunity_id, cast(created_at as date) order by history_sequence desc
        ) as day_rank
    from histories
),

final as (
    select
        opportunity_id,
        valid_from,
        -- exclusive; null = still the current state
        lead(valid_from) over (partition by opportunity_id order by valid_from) as valid_to,
        owner_user_id,
        stage_name,
        stage_sort_order,
        is_closed,
        is_won,
        forecast_category,
        amount_native,
        currency,
        amount,
        probability,
        -- x 0.01, not / 100: DuckDB divides decimals in DOUBLE (12565.9280885 -> ...088), Postgres exactly
        -- (...089); a decimal product is exact on both, so half-way values round the same everywhere.
        {{ money('amount * probability * 0.01') }} as expected_amount,
        close_date,
        -- computed once per state here rather than once per day in the daily snapshot
        {{ fiscal_quarter_label('close_date') }} as close_fiscal_quarter
    from daily_last
    where day_rank = 1
)

select * from final

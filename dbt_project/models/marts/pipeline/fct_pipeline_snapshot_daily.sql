-- Open pipeline as it stood at the end of each day, rebuilt from OpportunityHistory intervals joined to
-- the calendar (no daily snapshots needed, so any past day is reproducible).
-- Partitioned by month in Dagster: a run for a partition or a backfill range rebuilds only the days of that
-- window (see macros/partition_window.sql); a run without a window rebuilds every day.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    tags=['partitioned_monthly'],
    pre_hook="{{ clear_partition_window('snapshot_date') }}"
) }}

with states as (
    select * from {{ ref('int_opportunity_states_historized') }}
),

calendar as (
    select * from {{ ref('int_dates_spined') }}
    where {{ in_partition_window('date_day') }}
),

open_states as (
    select * from states
    where not is_closed
),

final as (
    select
        calendar.date_day as snapshot_date,
        open_states.opportunity_id,
        open_states.owner_user_id,
        open_states.stage_name,
        open_states.stage_sort_order,
        open_states.forecast_category,
        open_states.amount,
        open_states.amount_native,
        open_states.currency,
        open_states.probability,
        open_states.expected_amount,
        open_states.close_date,
        open_states.close_fiscal_quarter,
        calendar.fiscal_quarter as snapshot_fiscal_quarter
    from open_states
    inner join calendar
        -- a pure range condition, so the database can use a range join rather than compare every pair
        on calendar.date_day >= open_states.valid_from
        and calendar.date_day < coalesce(open_states.valid_to, cast('9999-12-31' as date))
        and calendar.date_day <= {{ as_of_date() }}
)

select * from final

-- Open pipeline as it stood at the end of each day, rebuilt from OpportunityHistory intervals joined to
-- the calendar (no daily snapshots needed, so any past day is reproducible).
-- Partitioned by month in Dagster: a run for a partition or a backfill range rebuilds only the days of that
-- window (see macros/partition_window.sql). A run without a window on an existing table rebuilds only the
-- opportunities whose open states changed and appends the days up to a later as-of date
-- (macros/pipeline_snapshot_daily.sql, macros/changed_entities.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    tags=['partitioned_monthly'],
    pre_hook=[
        "{{ clear_partition_window('snapshot_date', without_window=false) }}",
        "{{ pipeline_snapshot_calendar() }}",
        "{{ changed_entities_prepare(pipeline_snapshot_fingerprints(), enabled=pipeline_snapshot_is_delta_run()) }}",
        "{{ pipeline_snapshot_delete_changed() }}",
    ],
    post_hook=[
        "{{ changed_entities_commit(pipeline_snapshot_fingerprints(), keep=partition_window() is none) }}",
    ],
) }}

with states as (
    select * from {{ ref('int_opportunity_states_historized') }}
),

open_states as (
    select * from states
    where not is_closed
),

{% if pipeline_snapshot_is_delta_run() %}
    changed as (
        select
            entity_key,
            previous_fingerprint
        from {{ changed_entities_relation('changed') }}
    ),

    calendar as (
        select
            date_day,
            fiscal_quarter,
            is_as_of_date
        from {{ changed_entities_relation('calendar') }}
    ),

    moved as (
        -- a row only when the as-of date moved
        select cast(changed.previous_fingerprint as date) as previous_as_of_date
        from changed
        where changed.entity_key = '~as_of_date'
    ),

    bounds as (
        select
            max(case when calendar.is_as_of_date then calendar.date_day end) as as_of_date,
            max(moved.previous_as_of_date) as previous_as_of_date,
            {{ pipeline_snapshot_rebuild_all() }} as rebuild_all
        from calendar
        left join moved on true
    ),

    -- every day of the opportunities whose open states changed (or all, see pipeline_snapshot_rebuild_all)
    rebuilt_states as (
        select open_states.*
        from open_states
        cross join bounds
        left join changed on open_states.opportunity_id = changed.entity_key
        where bounds.rebuild_all or changed.entity_key is not null
    ),

    rebuilt_days as (
        select calendar.*
        from calendar
        cross join bounds
        where calendar.date_day <= bounds.as_of_date
    ),

    -- the others keep their rows and gain the days after the previous as-of date
    kept_states as (
        select open_states.*
        from open_states
        cross join bounds
        left join changed on open_states.opportunity_id = changed.entity_key
        where not bounds.rebuild_all and changed.entity_key is null
    ),

    new_days as (
        select calendar.*
        from calendar
        cross join bounds
        where
            calendar.date_day > bounds.previous_as_of_date
            and calendar.date_day <= bounds.as_of_date
    ),

    joined as (
        select
            rebuilt_states.*,
            rebuilt_days.date_day,
            rebuilt_days.fiscal_quarter
        from rebuilt_states
        inner join rebuilt_days
            on rebuilt_days.date_day >= rebuilt_states.valid_from
            and rebuilt_days.date_day < coalesce(rebuilt_states.valid_to, cast('9999-12-31' as date))
        union all
        select
            kept_states.*,
            new_days.date_day,
            new_days.fiscal_quarter
        from kept_states
        inner join new_days
            on new_days.date_day >= kept_states.valid_from
            and new_days.date_day < coalesce(kept_states.valid_to, cast('9999-12-31' as date))
    ),

    final as (
        select
            date_day as snapshot_date,
            opportunity_id,
            owner_user_id,
            stage_name,
            stage_sort_order,
            forecast_category,
            amount,
            amount_native,
            currency,
            probability,
            expected_amount,
            close_date,
            close_fiscal_quarter,
            fiscal_quarter as snapshot_fiscal_quarter
        from joined
    )
{% else %}
    calendar as (
        select * from {{ ref('int_dates_spined') }}
        where {{ in_partition_window('date_day') }}
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
{% endif %}

select * from final

-- One row per visit of an opportunity to a stage: consecutive history rows in the same stage are one
-- visit; going back to a stage (a reopened opportunity) is a new visit.
with histories as (
    select * from {{ ref('int_opportunity_histories_sequenced') }}
),

numbered as (
    select
        *,
        sum(case when is_stage_change then 1 else 0 end) over (
            partition by opportunity_id order by history_sequence rows between unbounded preceding and current row
        ) as visit_number
    from histories
),

visits as (
    select
        opportunity_id,
        visit_number,
        min(stage_name) as stage_name,
        min(stage_sort_order) as stage_sort_order,
        bool_or(is_closed) as is_closed_stage,
        bool_or(is_won) as is_won_stage,
        min(created_at) as entered_at
    from numbered
    group by opportunity_id, visit_number
),

sequenced as (
    select
        *,
        lead(entered_at) over (partition by opportunity_id order by visit_number) as exited_at
    from visits
),

final as (
    select
        opportunity_id || '-' || cast(visit_number as {{ dbt.type_string() }}) as stage_visit_id,
        opportunity_id,
        cast(visit_number as integer) as visit_number,
        stage_name,
        stage_sort_order,
        is_closed_stage,
        is_won_stage,
        entered_at,
        exited_at,
        exited_at is null as is_current,
        -- Whole days; an open current visit counts to the as-of date; a closed stage the opportunity
        -- still sits in has no duration.
        cast(case
            when exited_at is not null
                then {{ dbt.datediff('cast(entered_at as date)', 'cast(exited_at as date)', 'day') }}
            when not is_closed_stage
                then greatest({{ dbt.datediff('cast(entered_at as date)', as_of_date(), 'day') }}, 0)
        end as integer) as days_in_stage
    from sequenced
)

select * from final

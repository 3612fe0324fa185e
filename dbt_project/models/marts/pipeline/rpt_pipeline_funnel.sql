-- Stage conversion by the fiscal quarter the opportunities were created in. The funnel stages are the
-- ordered stages on the way to a win (every stage with a sort order except closed-lost ones). An
-- opportunity reached a stage when it was ever in that stage or any later funnel stage (so a skipped stage
-- counts as reached) and advanced from it when it was ever in a later funnel stage.
with opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

visits as (
    select * from {{ ref('fct_opportunity_stage_history') }}
),

stages as (
    select * from {{ ref('int_opportunity_stages_unioned') }}
),

funnel_stages as (
    select
        stage_name,
        sort_order
    from stages
    where
        sort_order is not null
        and not (is_closed and not is_won)
),

cohort_opportunities as (
    select
        opportunity_id,
        fiscal_quarter_created as cohort_fiscal_quarter,
        {{ fiscal_quarter_start('created_date') }} as cohort_quarter_start
    from opportunities
    where created_date <= {{ as_of_date() }}
),

-- The first day of each cohort quarter, published beside its label: MetricFlow groups the funnel by it
-- (the label alone cannot be turned back into a date without the fiscal-year setting).
cohort_quarters as (
    select
        cohort_fiscal_quarter,
        min(cohort_quarter_start) as cohort_quarter_start
    from cohort_opportunities
    group by cohort_fiscal_quarter
),

progress as (
    select
        visits.opportunity_id,
        max(funnel_stages.sort_order) as furthest_sort_order
    from visits
    inner join funnel_stages on visits.stage_name = funnel_stages.stage_name
    group by visits.opportunity_id
),

cohort_progress as (
    select
        cohort_opportunities.opportunity_id,
        cohort_opportunities.cohort_fiscal_quarter,
        progress.furthest_sort_order
    from cohort_opportunities
    left join progress on cohort_opportunities.opportunity_id = progress.opportunity_id
),

stage_durations as (
    select
        cohort_opportunities.cohort_fiscal_quarter,
        visits.stage_name,
        percentile_cont(0.5) within group (order by visits.days_in_stage) as median_days_in_stage
    from visits
    inner join cohort_opportunities on visits.opportunity_id = cohort_opportunities.opportunity_id
    where visits.exited_at is not null
    group by cohort_opportunities.cohort_fiscal_quarter, visits.stage_name
),

counts as (
    select
        cohort_progress.cohort_fiscal_quarter,
        funnel_stages.stage_name,
        funnel_stages.sort_order as stage_sort_order,
        count(case when cohort_progress.furthest_sort_order >= funnel_stages.sort_order then 1 end)
            as reached_count,
        count(case when cohort_progress.furthest_sort_order > funnel_stages.sort_order then 1 end)
            as advanced_count
    from cohort_progress
    cross join funnel_stages
    group by cohort_progress.cohort_fiscal_quarter, funnel_stages.stage_name, funnel_stages.sort_order
),

final as (
    select
        counts.cohort_fiscal_quarter || ' ' || counts.stage_name as funnel_row_id,
        counts.cohort_fiscal_quarter,
        cohort_quarters.cohort_quarter_start,
        counts.stage_name,
        counts.stage_sort_order,
        cast(counts.reached_count as bigint) as reached_count,
        cast(counts.advanced_count as bigint) as advanced_count,
        cast({{ safe_divide('counts.advanced_count', 'counts.reached_count') }} as {{ type_double() }}) as conversion_rate,
        cast(stage_durations.median_days_in_stage as {{ type_double() }}) as median_days_in_stage
    from counts
    inner join cohort_quarters on counts.cohort_fiscal_quarter = cohort_quarters.cohort_fiscal_quarter
    left join stage_durations
        on counts.cohort_fiscal_quarter = stage_durations.cohort_fiscal_quarter
        and counts.stage_name = stage_durations.stage_name
)

select * from final

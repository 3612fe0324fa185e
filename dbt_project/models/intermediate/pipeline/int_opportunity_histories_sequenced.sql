-- OpportunityHistory of live opportunities in order, with stage flags and amounts in corporate currency.
-- An opportunity without any history row (history not delivered) gets one row: its current state as of
-- its creation, so every opportunity has a stage path.
with histories as (
    select * from {{ ref('stg_crm__opportunity_histories') }}
),

opportunities as (
    select * from {{ ref('int_opportunities_enriched') }}
),

stages as (
    select * from {{ ref('int_opportunity_stages_unioned') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

recorded as (
    select
        histories.opportunity_history_id,
        histories.opportunity_id,
        histories.created_at,
        histories.stage_name,
        histories.amount as amount_native,
        histories.probability,
        histories.close_date,
        {{ forecast_category_label('histories.forecast_category') }} as forecast_category
    from histories
    -- deleted opportunities are gone from the marts, with their history
    inner join opportunities on histories.opportunity_id = opportunities.opportunity_id
),

synthesized as (
    select
        opportunities.opportunity_id || '-current' as opportunity_history_id,
        opportunities.opportunity_id,
        opportunities.created_at,
        opportunities.stage_name,
        opportunities.amount_native,
        opportunities.probability,
        opportunities.close_date,
        opportunities.forecast_category
    from opportunities
    where not exists (
        select 1 from histories
        where histories.opportunity_id = opportunities.opportunity_id
    )
),

unioned as (
    select * from recorded
    union all
    select * from synthesized
),

enriched as (
    select
        unioned.opportunity_history_id,
        unioned.opportunity_id,
        unioned.created_at,
        unioned.stage_name,
        stages.sort_order as stage_sort_order,
        coalesce(stages.is_closed, false) as is_closed,
        coalesce(stages.is_won, false) as is_won,
        coalesce(unioned.forecast_category, stages.forecast_category) as forecast_category,
        {{ money('unioned.amount_native') }} as amount_native,
        opportunities.currency,
        {{ to_corporate('unioned.amount_native', 'opportunities.currency', 'rates.conversion_rate') }} as amount,
        unioned.probability,
        unioned.close_date,
        opportunities.owner_user_id,
        row_number() over (
            partition by unioned.opportunity_id order by unioned.created_at, unioned.opportunity_history_id
        ) as history_sequence
    from unioned
    inner join opportunities on unioned.opportunity_id = opportunities.opportunity_id
    left join stages on unioned.stage_name = stages.stage_name
    left join rates
        on opportunities.currency = rates.iso_code
        and unioned.close_date >= rates.start_date
        and unioned.close_date < rates.next_start_date
),

final as (
    select
        *,
        coalesce(
            stage_name <> lag(stage_name) over (partition by opportunity_id order by history_sequence),
            true
        ) as is_stage_change
    from enriched
)

select * from final

-- Every stage name the data uses, with its closed/won flags and order. OpportunityStage is the authority
-- (so the marts work on any org's stages); a stage missing from it (or the object not delivered at all)
-- takes its flags from the Opportunity records that carry it and has no sort order.
with stages as (
    select * from {{ ref('stg_crm__opportunity_stages') }}
),

opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}
),

histories as (
    select * from {{ ref('stg_crm__opportunity_histories') }}
),

ranked_stages as (
    select
        *,
        row_number() over (
            partition by stage_name order by is_active desc, sort_order asc, opportunity_stage_id asc
        ) as stage_rank
    from stages
),

configured as (
    select
        stage_name,
        sort_order,
        is_closed,
        is_won,
        {{ forecast_category_label('forecast_category') }} as forecast_category,
        default_probability,
        true as is_configured
    from ranked_stages
    where stage_rank = 1
),

observed as (
    select
        stage_name,
        source_is_closed as is_closed,
        source_is_won as is_won
    from opportunities
    union all
    select
        stage_name,
        null as is_closed,
        null as is_won
    from histories
),

inferred as (
    select
        observed.stage_name,
        cast(null as integer) as sort_order,
        coalesce(bool_or(observed.is_closed), false) as is_closed,
        coalesce(bool_or(observed.is_won), false) as is_won,
        cast(null as {{ dbt.type_string() }}) as forecast_category,
        cast(null as decimal(38, 9)) as default_probability,
        false as is_configured
    from observed
    left join configured on observed.stage_name = configured.stage_name
    where configured.stage_name is null and observed.stage_name is not null
    group by observed.stage_name
),

final as (
    select * from configured
    union all
    select * from inferred
)

select * from final

with source as (
    select * from {{ source('crm', 'opportunity_stage') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as opportunity_stage_id,
        cast(MasterLabel as {{ dbt.type_string() }}) as stage_name,
        cast(SortOrder as integer) as sort_order,
        coalesce(cast(IsClosed as boolean), false) as is_closed,
        coalesce(cast(IsWon as boolean), false) as is_won,
        cast(DefaultProbability as decimal(38, 9)) as default_probability,
        cast(ForecastCategoryName as {{ dbt.type_string() }}) as forecast_category,
        coalesce(cast(IsActive as boolean), false) as is_active
    from source
)

select * from renamed

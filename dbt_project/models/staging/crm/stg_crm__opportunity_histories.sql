with source as (
    select * from {{ source('crm', 'opportunity_history') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as opportunity_history_id,
        cast(OpportunityId as {{ dbt.type_string() }}) as opportunity_id,
        cast(StageName as {{ dbt.type_string() }}) as stage_name,
        cast(Amount as decimal(38, 9)) as amount,
        cast(Probability as decimal(38, 9)) as probability,
        cast(CloseDate as date) as close_date,
        cast(ForecastCategory as {{ dbt.type_string() }}) as forecast_category,
        {{ to_utc('CreatedDate') }} as created_at,
        cast(CreatedById as {{ dbt.type_string() }}) as created_by_user_id,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

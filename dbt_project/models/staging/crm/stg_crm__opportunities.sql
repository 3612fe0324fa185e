with source as (
    select * from {{ source('crm', 'opportunity') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as opportunity_id,
        cast(Name as {{ dbt.type_string() }}) as opportunity_name,
        cast(AccountId as {{ dbt.type_string() }}) as account_id,
        cast(OwnerId as {{ dbt.type_string() }}) as owner_user_id,
        cast(StageName as {{ dbt.type_string() }}) as stage_name,
        cast(Amount as decimal(38, 9)) as amount,
        cast(Probability as decimal(38, 9)) as probability,
        cast(CloseDate as date) as close_date,
        -- The record's own flags; the marts take closed/won from OpportunityStage and fall back to these.
        cast(IsClosed as boolean) as source_is_closed,
        cast(IsWon as boolean) as source_is_won,
        cast(ForecastCategoryName as {{ dbt.type_string() }}) as forecast_category,
        cast(Type as {{ dbt.type_string() }}) as opportunity_type,
        cast(LeadSource as {{ dbt.type_string() }}) as lead_source,
        -- Amounts are in the record's currency, the org's corporate currency when absent.
        coalesce(upper(nullif(trim(CurrencyIsoCode), '')), {{ corporate_currency() }}) as currency,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('LastModifiedDate') }} as last_modified_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

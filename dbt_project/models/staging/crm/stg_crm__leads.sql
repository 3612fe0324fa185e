with source as (
    select * from {{ source('crm', 'lead') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as lead_id,
        cast(Company as {{ dbt.type_string() }}) as company,
        cast(Email as {{ dbt.type_string() }}) as email,
        lower(trim(Email)) as email_normalized,
        cast(Status as {{ dbt.type_string() }}) as lead_status,
        cast(LeadSource as {{ dbt.type_string() }}) as lead_source,
        cast(OwnerId as {{ dbt.type_string() }}) as owner_user_id,
        coalesce(cast(IsConverted as boolean), false) as is_converted,
        cast(ConvertedDate as date) as converted_date,
        cast(ConvertedAccountId as {{ dbt.type_string() }}) as converted_account_id,
        cast(ConvertedContactId as {{ dbt.type_string() }}) as converted_contact_id,
        cast(ConvertedOpportunityId as {{ dbt.type_string() }}) as converted_opportunity_id,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

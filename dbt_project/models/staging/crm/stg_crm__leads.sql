with source as (
    select * from {{ source('crm', 'lead') }}
),

renamed as (
    select
        cast(Id as varchar) as lead_id,
        cast(Company as varchar) as company,
        cast(Email as varchar) as email,
        lower(trim(Email)) as email_normalized,
        cast(Status as varchar) as lead_status,
        cast(LeadSource as varchar) as lead_source,
        cast(OwnerId as varchar) as owner_user_id,
        coalesce(cast(IsConverted as boolean), false) as is_converted,
        cast(ConvertedDate as date) as converted_date,
        cast(ConvertedAccountId as varchar) as converted_account_id,
        cast(ConvertedContactId as varchar) as converted_contact_id,
        cast(ConvertedOpportunityId as varchar) as converted_opportunity_id,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

with source as (
    select * from {{ source('crm', 'contact') }}
),

renamed as (
    select
        cast(Id as varchar) as contact_id,
        cast(AccountId as varchar) as account_id,
        cast(FirstName as varchar) as first_name,
        cast(LastName as varchar) as last_name,
        cast(Email as varchar) as email,
        lower(trim(Email)) as email_normalized,
        cast(Title as varchar) as title,
        cast(OwnerId as varchar) as owner_user_id,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

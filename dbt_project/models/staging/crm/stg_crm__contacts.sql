with source as (
    select * from {{ source('crm', 'contact') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as contact_id,
        cast(AccountId as {{ dbt.type_string() }}) as account_id,
        cast(FirstName as {{ dbt.type_string() }}) as first_name,
        cast(LastName as {{ dbt.type_string() }}) as last_name,
        cast(Email as {{ dbt.type_string() }}) as email,
        lower(trim(Email)) as email_normalized,
        cast(Title as {{ dbt.type_string() }}) as title,
        cast(OwnerId as {{ dbt.type_string() }}) as owner_user_id,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

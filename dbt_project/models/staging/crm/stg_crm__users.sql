with source as (
    select * from {{ source('crm', 'user') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as user_id,
        cast(Name as {{ dbt.type_string() }}) as user_name,
        cast(Email as {{ dbt.type_string() }}) as email,
        lower(trim(Email)) as email_normalized,
        coalesce(cast(IsActive as boolean), false) as is_active,
        cast(ManagerId as {{ dbt.type_string() }}) as manager_user_id,
        cast(UserRoleId as {{ dbt.type_string() }}) as user_role_id,
        cast(Title as {{ dbt.type_string() }}) as title,
        cast(Department as {{ dbt.type_string() }}) as department,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
)

select * from renamed

with source as (
    select * from {{ source('crm', 'user') }}
),

renamed as (
    select
        cast(Id as varchar) as user_id,
        cast(Name as varchar) as user_name,
        cast(Email as varchar) as email,
        lower(trim(Email)) as email_normalized,
        coalesce(cast(IsActive as boolean), false) as is_active,
        cast(ManagerId as varchar) as manager_user_id,
        cast(UserRoleId as varchar) as user_role_id,
        cast(Title as varchar) as title,
        cast(Department as varchar) as department,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
)

select * from renamed

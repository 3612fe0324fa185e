with source as (
    select * from {{ source('crm', 'user_role') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as user_role_id,
        cast(Name as {{ dbt.type_string() }}) as role_name,
        cast(ParentRoleId as {{ dbt.type_string() }}) as parent_user_role_id
    from source
)

select * from renamed

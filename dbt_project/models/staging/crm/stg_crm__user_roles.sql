with source as (
    select * from {{ source('crm', 'user_role') }}
),

renamed as (
    select
        cast(Id as varchar) as user_role_id,
        cast(Name as varchar) as role_name,
        cast(ParentRoleId as varchar) as parent_user_role_id
    from source
)

select * from renamed

with source as (
    select * from {{ source('billing', 'product') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as product_id,
        cast(name as {{ dbt.type_string() }}) as product_name,
        coalesce(cast(active as boolean), false) as is_active,
        {{ to_utc('created') }} as created_at,
        {{ to_utc('updated') }} as updated_at
    from source
    where not coalesce(deleted, false)
)

select * from renamed

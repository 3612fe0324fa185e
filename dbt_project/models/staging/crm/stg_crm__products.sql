with source as (
    select * from {{ source('crm', 'product2') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as product_id,
        cast(Name as {{ dbt.type_string() }}) as product_name,
        cast(ProductCode as {{ dbt.type_string() }}) as product_code,
        cast(Family as {{ dbt.type_string() }}) as product_family,
        coalesce(cast(IsActive as boolean), false) as is_active,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
)

select * from renamed

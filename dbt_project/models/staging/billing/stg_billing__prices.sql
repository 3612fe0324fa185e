with source as (
    select * from {{ source('billing', 'price') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as price_id,
        cast(product as {{ dbt.type_string() }}) as product_id,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        cast(unit_amount as bigint) as unit_amount_minor,
        {{ minor_to_major('unit_amount', 'currency') }} as unit_amount,
        cast(type as {{ dbt.type_string() }}) as price_type,
        {{ json_text('recurring', '$.interval') }} as recurring_interval,
        {{ json_value_as('recurring', '$.interval_count', 'integer') }} as recurring_interval_count,
        coalesce(cast(active as boolean), false) as is_active,
        {{ to_utc('created') }} as created_at
    from source
    where not coalesce(deleted, false)
)

select * from renamed

with source as (
    select * from {{ source('billing', 'refund') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as refund_id,
        cast(charge as {{ dbt.type_string() }}) as charge_id,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        {{ minor_to_major('amount', 'currency') }} as amount,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(reason as {{ dbt.type_string() }}) as reason,
        {{ to_utc('created') }} as created_at
    from source
)

select * from renamed

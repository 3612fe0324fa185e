with source as (
    select * from {{ source('billing', 'refund') }}
),

renamed as (
    select
        cast(id as varchar) as refund_id,
        cast(charge as varchar) as charge_id,
        upper(cast(currency as varchar)) as currency,
        {{ minor_to_major('amount', 'currency') }} as amount,
        cast(status as varchar) as status,
        cast(reason as varchar) as reason,
        {{ to_utc('created') }} as created_at
    from source
)

select * from renamed

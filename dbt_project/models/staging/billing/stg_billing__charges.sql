with source as (
    select * from {{ source('billing', 'charge') }}
),

renamed as (
    select
        cast(id as varchar) as charge_id,
        cast(customer as varchar) as customer_id,
        cast(invoice as varchar) as invoice_id,
        upper(cast(currency as varchar)) as currency,
        {{ minor_to_major('amount', 'currency') }} as amount,
        {{ minor_to_major('amount_refunded', 'currency') }} as amount_refunded,
        cast(status as varchar) as status,
        coalesce(cast(paid as boolean), false) as is_paid,
        coalesce(cast(refunded as boolean), false) as is_refunded,
        {{ to_utc('created') }} as created_at
    from source
)

select * from renamed

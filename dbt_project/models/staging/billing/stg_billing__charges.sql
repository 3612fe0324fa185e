with source as (
    select * from {{ source('billing', 'charge') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as charge_id,
        cast(customer as {{ dbt.type_string() }}) as customer_id,
        -- set only by Stripe API versions before 2025-03-31.basil: read the link from int_charges_linked
        cast(invoice as {{ dbt.type_string() }}) as legacy_invoice_id,
        cast(payment_intent as {{ dbt.type_string() }}) as payment_intent_id,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        {{ minor_to_major('amount', 'currency') }} as amount,
        {{ minor_to_major('amount_refunded', 'currency') }} as amount_refunded,
        cast(status as {{ dbt.type_string() }}) as status,
        coalesce(cast(paid as boolean), false) as is_paid,
        coalesce(cast(refunded as boolean), false) as is_refunded,
        {{ to_utc('created') }} as created_at
    from source
)

select * from renamed

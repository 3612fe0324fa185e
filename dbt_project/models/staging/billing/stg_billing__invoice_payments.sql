with source as (
    select * from {{ source('billing', 'invoice_payment') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as invoice_payment_id,
        cast(invoice as {{ dbt.type_string() }}) as invoice_id,
        cast(status as {{ dbt.type_string() }}) as status,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        {{ minor_to_major('amount_requested', 'currency') }} as amount_requested,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid,
        -- what paid: a payment intent (its charges carry payment_intent) or, without one, the charge itself
        {{ json_text('payment', '$.type') }} as payment_type,
        {{ json_text('payment', '$.payment_intent') }} as payment_intent_id,
        {{ json_text('payment', '$.charge') }} as payment_charge_id,
        {{ epoch_to_utc(json_value_as('status_transitions', '$.paid_at', 'bigint')) }} as paid_at,
        {{ to_utc('created') }} as created_at
    from source
)

select * from renamed

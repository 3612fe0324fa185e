with source as (
    select * from {{ source('billing', 'invoice') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as invoice_id,
        cast(customer as {{ dbt.type_string() }}) as customer_id,
        {{ stripe_invoice_subscription() }} as subscription_id,
        cast(status as {{ dbt.type_string() }}) as status,
        {{ to_utc('created') }} as created_at,
        {{ to_utc('period_start') }} as period_start_at,
        {{ to_utc('period_end') }} as period_end_at,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        {{ minor_to_major('subtotal', 'currency') }} as subtotal,
        {{ minor_to_major('total', 'currency') }} as total,
        {{ minor_to_major('amount_due', 'currency') }} as amount_due,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid,
        {{ epoch_to_utc(json_value_as('status_transitions', '$.paid_at', 'bigint')) }} as paid_at,
        -- Stripe list of invoice line items (either API shape); unnested in int_invoice_lines_unnested
        lines
    from source
)

select * from renamed

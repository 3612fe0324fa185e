with source as (
    select * from {{ source('billing', 'invoice') }}
),

renamed as (
    select
        cast(id as varchar) as invoice_id,
        cast(customer as varchar) as customer_id,
        {{ stripe_invoice_subscription() }} as subscription_id,
        cast(status as varchar) as status,
        {{ to_utc('created') }} as created_at,
        {{ to_utc('period_start') }} as period_start_at,
        {{ to_utc('period_end') }} as period_end_at,
        upper(cast(currency as varchar)) as currency,
        {{ minor_to_major('subtotal', 'currency') }} as subtotal,
        {{ minor_to_major('total', 'currency') }} as total,
        {{ minor_to_major('amount_due', 'currency') }} as amount_due,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid,
        {{ to_utc('to_timestamp(' ~ json_value_as('status_transitions', '$.paid_at', 'bigint') ~ ')') }} as paid_at,
        -- Stripe list of invoice line items (either API shape); unnested in int_invoice_lines_unnested
        lines
    from source
)

select * from renamed

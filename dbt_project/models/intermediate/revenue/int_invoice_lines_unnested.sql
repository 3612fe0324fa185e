-- One row per Stripe invoice line, amounts in major units, the line's price resolved (expanded on the line,
-- or looked up by id). Lines of either Stripe API shape (before or from 2025-03-31.basil) give the same row:
-- the moved fields are read by the stripe_* macros. Every field of a line is read from one parse of it (json_reader).
{%- set line = json_reader('line') %}
{%- set line_fields -%}
    {{ json_text(line, '$.id') }} as invoice_line_id,
    invoice_id,
    customer_id,
    coalesce({{ stripe_line_subscription(line) }}, subscription_id) as subscription_id,
    {{ stripe_line_subscription_item(line) }} as subscription_item_id,
    {{ stripe_line_type(line) }} as line_type,
    invoice_status,
    invoice_created_at,
    coalesce(upper({{ json_text(line, '$.currency') }}), invoice_currency) as currency,
    {{ json_value_as(line, '$.amount', 'bigint') }} as amount_minor,
    {{ epoch_to_utc(json_value_as(line, '$.period.start', 'bigint')) }} as period_start_at,
    {{ epoch_to_utc(json_value_as(line, '$.period.end', 'bigint')) }} as period_end_at,
    {{ stripe_price_parsed(line, 'line') }},
    {{ stripe_line_proration(line) }} as is_proration,
    {{ json_text(line, '$.description') }} as description
{%- endset %}

with invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

prices as (
    select * from {{ ref('stg_billing__prices') }}
),

lines as (
    select
        invoice_id,
        customer_id,
        subscription_id,
        status as invoice_status,
        created_at as invoice_created_at,
        currency as invoice_currency,
        {{ json_array_elements('lines', '$.data') }} as line
    from invoices
),

lines_read as (
    select *{{ json_reader_list(line) }}
    from lines
),

parsed as (
    select
        {{ line_fields | indent(4) }}
    from lines_read
),

final as (
    select
        parsed.invoice_line_id,
        parsed.invoice_id,
        parsed.customer_id,
        parsed.subscription_id,
        parsed.subscription_item_id,
        parsed.line_type,
        parsed.invoice_status,
        parsed.invoice_created_at,
        parsed.currency,
        {{ minor_to_major('parsed.amount_minor', 'parsed.currency') }} as amount,
        parsed.period_start_at,
        parsed.period_end_at,
        {{ stripe_price_resolved('parsed', 'line') }},
        parsed.is_proration,
        parsed.description
    from parsed
    left join prices on parsed.price_id = prices.price_id
)

select * from final

-- One row per Stripe invoice line, amounts in major units, the line's price resolved (expanded on the line,
-- or looked up by id).
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
        unnest(cast(json_extract(lines, '$.data[*]') as json[])) as line
    from invoices
),

parsed as (
    select
        json_extract_string(line, '$.id') as invoice_line_id,
        invoice_id,
        customer_id,
        coalesce(json_extract_string(line, '$.subscription'), subscription_id) as subscription_id,
        invoice_status,
        invoice_created_at,
        coalesce(upper(json_extract_string(line, '$.currency')), invoice_currency) as currency,
        cast(json_extract(line, '$.amount') as bigint) as amount_minor,
        {{ to_utc("to_timestamp(cast(json_extract(line, '$.period.start') as bigint))") }} as period_start_at,
        {{ to_utc("to_timestamp(cast(json_extract(line, '$.period.end') as bigint))") }} as period_end_at,
        coalesce(
            json_extract_string(line, '$.price.id'),
            case when json_type(line, '$.price') = 'VARCHAR' then json_extract_string(line, '$.price') end
        ) as price_id,
        cast(json_extract(line, '$.price.unit_amount') as bigint) as line_unit_amount_minor,
        json_extract_string(line, '$.price.type') as line_price_type,
        json_extract_string(line, '$.price.recurring.interval') as line_recurring_interval,
        cast(json_extract(line, '$.price.recurring.interval_count') as integer) as line_recurring_interval_count,
        coalesce(cast(json_extract(line, '$.quantity') as decimal(38, 9)), 1) as quantity,
        coalesce(cast(json_extract(line, '$.proration') as boolean), false) as is_proration,
        json_extract_string(line, '$.description') as description
    from lines
),

final as (
    select
        parsed.invoice_line_id,
        parsed.invoice_id,
        parsed.customer_id,
        parsed.subscription_id,
        parsed.invoice_status,
        parsed.invoice_created_at,
        parsed.currency,
        {{ minor_to_major('parsed.amount_minor', 'parsed.currency') }} as amount,
        parsed.period_start_at,
        parsed.period_end_at,
        parsed.price_id,
        {{ minor_to_major('coalesce(parsed.line_unit_amount_minor, prices.unit_amount_minor)', 'parsed.currency') }}
            as unit_amount,
        coalesce(
            parsed.line_price_type,
            prices.price_type,
            case when parsed.line_recurring_interval is not null then 'recurring' end
        ) as price_type,
        coalesce(parsed.line_recurring_interval, prices.recurring_interval) as recurring_interval,
        coalesce(parsed.line_recurring_interval_count, prices.recurring_interval_count, 1) as recurring_interval_count,
        parsed.quantity,
        parsed.is_proration,
        parsed.description
    from parsed
    left join prices on parsed.price_id = prices.price_id
)

select * from final

-- What each subscription charges per month, and over which period, before discounts: one row per recurring
-- invoice line (invoices are Stripe's durable history of prices and quantities), signed so that a proration
-- pair for a mid-period change nets the old price out and the new one in over the rest of the period.
-- One-off prices and tax are excluded (Stripe keeps tax out of line amounts). A subscription with no recurring
-- invoice line at all (invoices not delivered) falls back to its current items over its whole life.
with lines as (
    select * from {{ ref('int_invoice_lines_unnested') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

items as (
    select * from {{ ref('int_subscription_items_unnested') }}
),

recurring_lines as (
    select * from lines
    where
        price_type = 'recurring'
        and invoice_status not in ('draft', 'void')
        and period_start_at is not null
        and period_end_at is not null
        and invoice_created_at < cast({{ dbt.dateadd('day', '1', as_of_date()) }} as timestamp)
),

from_invoices as (
    select
        'invoice_line' as charge_source,
        invoice_line_id as charge_id,
        invoice_id,
        subscription_id,
        subscription_item_id,
        customer_id,
        currency,
        period_start_at as effective_from,
        period_end_at as effective_to,
        -- A regular line bills the full period: its amount is price x quantity. A proration line bills a
        -- fraction of the period but changes the rate for the rest of it by +/- price x quantity.
        {{ to_monthly(
            'case when is_proration then cast(sign(amount) as integer) * coalesce(unit_amount * quantity, abs(amount)) else amount end',
            'recurring_interval', 'recurring_interval_count'
        ) }} as monthly_amount
    from recurring_lines
),

from_items as (
    select
        'subscription_item' as charge_source,
        items.subscription_item_id as charge_id,
        cast(null as {{ dbt.type_string() }}) as invoice_id,
        items.subscription_id,
        items.subscription_item_id,
        items.customer_id,
        items.currency,
        coalesce(subscriptions.trial_ended_at, subscriptions.started_at) as effective_from,
        coalesce(subscriptions.ended_at, cast('9999-12-31' as timestamp)) as effective_to,
        {{ to_monthly('items.unit_amount * items.quantity', 'items.recurring_interval', 'items.recurring_interval_count') }}
            as monthly_amount
    from items
    inner join subscriptions on items.subscription_id = subscriptions.subscription_id
    where
        items.price_type = 'recurring'
        and not exists (
            select 1 from recurring_lines
            where recurring_lines.subscription_id = items.subscription_id
        )
),

final as (
    select * from from_invoices
    union all
    select * from from_items
)

select * from final

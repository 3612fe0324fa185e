-- One row per item of each subscription's current state, the item's price resolved (expanded on the item,
-- or looked up by id).
with subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

prices as (
    select * from {{ ref('stg_billing__prices') }}
),

items as (
    select
        subscription_id,
        customer_id,
        currency as subscription_currency,
        {{ json_array_elements('items', '$.data') }} as item
    from subscriptions
),

parsed as (
    select
        {{ json_text('item', '$.id') }} as subscription_item_id,
        subscription_id,
        customer_id,
        coalesce(upper({{ json_text('item', '$.price.currency') }}), subscription_currency) as currency,
        {{ stripe_price_parsed('item', 'item') }}
    from items
),

final as (
    select
        parsed.subscription_item_id,
        parsed.subscription_id,
        parsed.customer_id,
        parsed.currency,
        {{ stripe_price_resolved('parsed', 'item') }}
    from parsed
    left join prices on parsed.price_id = prices.price_id
)

select * from final

-- One row per item of each subscription's current state, the item's price resolved (expanded on the item,
-- or looked up by id). Every field of an item is read from one parse of it (json_reader).
{%- set item = json_reader('item') %}
{%- set item_fields -%}
    {{ json_text(item, '$.id') }} as subscription_item_id,
    subscription_id,
    customer_id,
    coalesce(upper({{ json_text(item, '$.price.currency') }}), subscription_currency) as currency,
    {{ stripe_price_parsed(item, 'item') }}
{%- endset %}

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

items_read as (
    select *{{ json_reader_list(item) }}
    from items
),

parsed as (
    select
        {{ item_fields | indent(4) }}
    from items_read
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

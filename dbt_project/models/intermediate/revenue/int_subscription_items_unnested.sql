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
        unnest(cast(json_extract(items, '$.data[*]') as json[])) as item
    from subscriptions
),

parsed as (
    select
        json_extract_string(item, '$.id') as subscription_item_id,
        subscription_id,
        customer_id,
        coalesce(upper(json_extract_string(item, '$.price.currency')), subscription_currency) as currency,
        coalesce(
            json_extract_string(item, '$.price.id'),
            case when json_type(item, '$.price') = 'VARCHAR' then json_extract_string(item, '$.price') end
        ) as price_id,
        cast(json_extract(item, '$.price.unit_amount') as bigint) as item_unit_amount_minor,
        json_extract_string(item, '$.price.type') as item_price_type,
        json_extract_string(item, '$.price.recurring.interval') as item_recurring_interval,
        cast(json_extract(item, '$.price.recurring.interval_count') as integer) as item_recurring_interval_count,
        coalesce(cast(json_extract(item, '$.quantity') as decimal(38, 9)), 1) as quantity
    from items
),

final as (
    select
        parsed.subscription_item_id,
        parsed.subscription_id,
        parsed.customer_id,
        parsed.currency,
        parsed.price_id,
        {{ minor_to_major('coalesce(parsed.item_unit_amount_minor, prices.unit_amount_minor)', 'parsed.currency') }}
            as unit_amount,
        coalesce(
            parsed.item_price_type,
            prices.price_type,
            case when parsed.item_recurring_interval is not null then 'recurring' end
        ) as price_type,
        coalesce(parsed.item_recurring_interval, prices.recurring_interval) as recurring_interval,
        coalesce(parsed.item_recurring_interval_count, prices.recurring_interval_count, 1) as recurring_interval_count,
        parsed.quantity
    from parsed
    left join prices on parsed.price_id = prices.price_id
)

select * from final

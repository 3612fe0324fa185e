{#- How a Stripe price attached to an invoice line or a subscription item is read: expanded inline
    ({"price": {...}}) or as an id ({"price": "price_..."}) to look up in stg_billing__prices. One
    definition for both, so lines and items resolve prices the same way. -#}

{# Columns parsed from the JSON object `obj`: price_id and the inline price's fields, prefixed. #}
{% macro stripe_price_parsed(obj, prefix) %}
        coalesce(
            {{ json_text(obj, '$.price.id') }},
            case when {{ json_is_string(obj, '$.price') }} then {{ json_text(obj, '$.price') }} end
        ) as price_id,
        {{ json_value_as(obj, '$.price.unit_amount', 'bigint') }} as {{ prefix }}_unit_amount_minor,
        {{ json_text(obj, '$.price.type') }} as {{ prefix }}_price_type,
        {{ json_text(obj, '$.price.recurring.interval') }} as {{ prefix }}_recurring_interval,
        {{ json_value_as(obj, '$.price.recurring.interval_count', 'integer') }}
            as {{ prefix }}_recurring_interval_count,
        coalesce({{ json_value_as(obj, '$.quantity', 'decimal(38, 9)') }}, 1) as quantity
{%- endmacro %}

{# The resolved price: inline fields first, then the price looked up by id (joined as `prices`). #}
{% macro stripe_price_resolved(parsed, prefix) %}
        {{ parsed }}.price_id,
        {{ minor_to_major('coalesce(' ~ parsed ~ '.' ~ prefix ~ '_unit_amount_minor, prices.unit_amount_minor)', parsed ~ '.currency') }}
            as unit_amount,
        coalesce(
            {{ parsed }}.{{ prefix }}_price_type,
            prices.price_type,
            case when {{ parsed }}.{{ prefix }}_recurring_interval is not null then 'recurring' end
        ) as price_type,
        coalesce({{ parsed }}.{{ prefix }}_recurring_interval, prices.recurring_interval) as recurring_interval,
        coalesce({{ parsed }}.{{ prefix }}_recurring_interval_count, prices.recurring_interval_count, 1)
            as recurring_interval_count,
        {{ parsed }}.quantity
{%- endmacro %}

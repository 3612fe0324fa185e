{#- How the price of an invoice line or a subscription item is read, in every Stripe API version:

    - `price`: the price, expanded ({"price": {...}}) or as an id (invoice lines before 2025-03-31.basil,
      subscription items in every version);
    - `pricing.price_details.price`: where invoice lines carry it from basil on, an id (expandable to the
      price object from 2025-12-15.clover);
    - `plan`: what lines and items carried before prices existed (a plan's id is also a price id).

    Whatever the line or item does not carry inline is looked up by id in stg_billing__prices. One definition for
    lines and items, so both resolve prices the same way; a recurring line whose price resolves to nothing is
    reported by the gate on int_invoice_lines_unnested (expectations/suites_models.py), never guessed. -#}

{# A key of the price expanded on `obj`, at the first of the paths above that has it; type 'text' for strings. #}
{% macro _stripe_inline_price(obj, key, type) -%}
    {%- set paths = ['$.price.' ~ key, '$.pricing.price_details.price.' ~ key] -%}
    coalesce(
    {%- for path in paths %}
        {{ json_text(obj, path) if type == 'text' else json_value_as(obj, path, type) }}{{ ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{# Columns parsed from the JSON object `obj`: price_id and the inline price's fields, prefixed. #}
{% macro stripe_price_parsed(obj, prefix) %}
        coalesce(
            {{ json_text(obj, '$.price.id') }},
            case when {{ json_is_string(obj, '$.price') }} then {{ json_text(obj, '$.price') }} end,
            {{ json_text(obj, '$.pricing.price_details.price.id') }},
            case
                when {{ json_is_string(obj, '$.pricing.price_details.price') }}
                    then {{ json_text(obj, '$.pricing.price_details.price') }}
            end,
            {{ json_text(obj, '$.plan.id') }}
        ) as price_id,
        coalesce(
            {{ _stripe_inline_price(obj, 'unit_amount', 'bigint') }},
            {{ json_value_as(obj, '$.plan.amount', 'bigint') }}
        ) as {{ prefix }}_unit_amount_minor,
        coalesce(
            {{ _stripe_inline_price(obj, 'type', 'text') }},
            case when {{ json_text(obj, '$.plan.interval') }} is not null then 'recurring' end
        ) as {{ prefix }}_price_type,
        coalesce(
            {{ _stripe_inline_price(obj, 'recurring.interval', 'text') }},
            {{ json_text(obj, '$.plan.interval') }}
        ) as {{ prefix }}_recurring_interval,
        coalesce(
            {{ _stripe_inline_price(obj, 'recurring.interval_count', 'integer') }},
            {{ json_value_as(obj, '$.plan.interval_count', 'integer') }}
        ) as {{ prefix }}_recurring_interval_count,
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

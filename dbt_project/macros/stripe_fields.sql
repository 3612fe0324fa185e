{#- Where each field Stripe moved in API version 2025-03-31.basil is read, in either shape (the version before
    basil first when both could be present, as in a file mixing pulls of two versions). One macro per moved field,
    used wherever the field is read; the price of a line or item is stripe_price.sql's. Field moves:
    shared/contracts/sources.md, "Stripe API versions"; the versions themselves: ingestion/sources/stripe_versions.py. -#}

{# invoice -> its subscription: `subscription` before basil, `parent.subscription_details.subscription` from it. #}
{% macro stripe_invoice_subscription(invoice_subscription='subscription', invoice_parent='parent') -%}
    coalesce(
        cast({{ invoice_subscription }} as {{ dbt.type_string() }}),
        {{ json_text(invoice_parent, '$.subscription_details.subscription') }}
    )
{%- endmacro %}

{# invoice line -> the subscription it bills: `subscription`, from basil on under parent.*_details. #}
{% macro stripe_line_subscription(line) -%}
    coalesce(
        {{ json_text(line, '$.subscription') }},
        {{ json_text(line, '$.parent.subscription_item_details.subscription') }},
        {{ json_text(line, '$.parent.invoice_item_details.subscription') }}
    )
{%- endmacro %}

{# invoice line -> its subscription item: `subscription_item`, from basil on parent.subscription_item_details. #}
{% macro stripe_line_subscription_item(line) -%}
    coalesce(
        {{ json_text(line, '$.subscription_item') }},
        {{ json_text(line, '$.parent.subscription_item_details.subscription_item') }}
    )
{%- endmacro %}

{# invoice line -> is it a proration: `proration`, from basil on parent.subscription_item_details / invoice_item_details. #}
{% macro stripe_line_proration(line) -%}
    coalesce(
        {{ json_value_as(line, '$.proration', 'boolean') }},
        {{ json_value_as(line, '$.parent.subscription_item_details.proration', 'boolean') }},
        {{ json_value_as(line, '$.parent.invoice_item_details.proration', 'boolean') }},
        false
    )
{%- endmacro %}

{# invoice line -> what generated it, 'subscription' (a subscription item's charge) or 'invoiceitem': `type`
   before basil, parent.type (subscription_item_details / invoice_item_details) from it; null when neither says. #}
{% macro stripe_line_type(line) -%}
    coalesce(
        {{ json_text(line, '$.type') }},
        case {{ json_text(line, '$.parent.type') }}
            when 'subscription_item_details' then 'subscription'
            when 'invoice_item_details' then 'invoiceitem'
        end
    )
{%- endmacro %}

{# subscription -> the start or end ('start' / 'end') of its current billing period: on the subscription before
   basil, on each item from it (the first item's: items share the period unless billed on their own cycles). #}
{% macro stripe_subscription_current_period(bound) -%}
    coalesce(
        {{ to_utc('current_period_' ~ bound) }},
        {{ epoch_to_utc(json_value_as('items', '$.data[0].current_period_' ~ bound, 'bigint')) }}
    )
{%- endmacro %}

{# subscription -> a field of its discount: `discount` {coupon, start, end} before basil; from basil on the first
   of `discounts` when it is expanded (its coupon under `coupon`, from 2025-09-30.clover under `source.coupon`,
   expanded). `key` is 'coupon.<field>' or 'start' / 'end'. A discount left as an id is not guessed:
   stripe_subscription_discounts_unvalued counts it. #}
{% macro stripe_subscription_discount(key, type) -%}
    {%- if key.startswith('coupon.') -%}
        {%- set paths = ['$.' ~ key, '$[0].' ~ key, '$[0].source.' ~ key] -%}
    {%- else -%}
        {%- set paths = ['$.' ~ key, '$[0].' ~ key] -%}
    {%- endif -%}
    coalesce(
    {%- for path in paths %}
        {%- set column = 'discount' if loop.first else 'discounts' %}
        {{ json_text(column, path) if type == 'text' else json_value_as(column, path, type) }}{{ ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{# subscription -> how many of its discounts cannot be valued. Before basil `discount` is the one valued (its
   id also in `discounts` from 2023 on); from basil on the first of `discounts`, unless it arrived as a bare id
   or with its coupon as one. Stacked discounts (any beyond the first) are not modelled: counted too. #}
{% macro stripe_subscription_discounts_unvalued() -%}
    {%- set n = json_list_length('discounts') -%}
    case
        when {{ json_text('discount', '$.id') }} is not null or {{ json_text('discount', '$.coupon.id') }} is not null
            then greatest(coalesce({{ n }}, 1) - 1, 0)
        when {{ n }} > 0 then
            {{ n }} - 1
            + case
                when {{ stripe_subscription_discount('coupon.percent_off', 'decimal(38, 9)') }} is null
                    and {{ stripe_subscription_discount('coupon.amount_off', 'bigint') }} is null then 1
                else 0
            end
        else 0
    end
{%- endmacro %}

{# The invoice <-> charge link, as distinct pairs (invoice_id, charge_id): `charge.invoice` before basil; from basil
   on an invoice's invoice_payments (not canceled), naming the charge itself (payment.type charge) or its payment
   intent (payment.type payment_intent: every charge of that intent, failed attempts included). `charges` is
   stg_billing__charges, `invoice_payments` stg_billing__invoice_payments. #}
{% macro stripe_invoice_charge_links(charges, invoice_payments) -%}
    select
        legacy_invoice_id as invoice_id,
        charge_id
    from {{ charges }}
    where legacy_invoice_id is not null
    union
    -- Two equi-joins, not one join on `a = b or c = d`: an OR condition cannot be hashed, and the nested loop
    -- it falls back to compares every payment with every charge (minutes at 250k of each).
    select
        invoice_payments.invoice_id,
        charges.charge_id
    from {{ invoice_payments }} as invoice_payments
    inner join {{ charges }} as charges on invoice_payments.payment_charge_id = charges.charge_id
    where invoice_payments.payment_type = 'charge' and invoice_payments.status <> 'canceled'
    union
    select
        invoice_payments.invoice_id,
        charges.charge_id
    from {{ invoice_payments }} as invoice_payments
    inner join {{ charges }} as charges on invoice_payments.payment_intent_id = charges.payment_intent_id
    where invoice_payments.payment_type = 'payment_intent' and invoice_payments.status <> 'canceled'
{%- endmacro %}

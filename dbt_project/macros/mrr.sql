{#- What a subscription is worth per month at an instant: one definition for the month-end MRR
    (int_subscription_months_valued, measured at each month end) and the MRR movements (fct_mrr_movements,
    measured at the end of every day on which something it depends on changed).

    MRR "at" an instant means just before `measured_before`: a charge, a subscription or a discount counts when
    it started before that instant and had not ended before it. So a change at any moment of a day shows in the
    value at the end of that day (measured_before = the next midnight). -#}

{#- Subscriptions that can carry MRR, with their end and discount. -#}
{% macro mrr_subscription_terms(subscriptions) -%}
    select
        subscription_id,
        customer_id,
        status,
        started_at,
        coalesce(ended_at, case when status = 'canceled' then canceled_at end) as ended_at,
        discount_percent_off,
        discount_amount_off_minor,
        discount_currency,
        discount_start_at,
        discount_end_at
    from {{ subscriptions }}
    where status not in ('incomplete', 'incomplete_expired')
{%- endmacro %}

{#- The billing interval of each subscription (its recurring items'), for an amount_off discount, which Stripe
    takes off each invoice, i.e. once per billing interval. -#}
{% macro mrr_billing_intervals(items) -%}
    select
        subscription_id,
        min(recurring_interval) as recurring_interval,
        min(recurring_interval_count) as recurring_interval_count
    from {{ items }}
    where price_type = 'recurring'
    group by subscription_id
{%- endmacro %}

{#- A subscription (started_at, ended_at) or a charge (effective_from, effective_to) is in force at the instant. -#}
{% macro mrr_in_force(started, ended, measured_before) -%}
    ({{ started }} < {{ measured_before }} and ({{ ended }} is null or {{ ended }} >= {{ measured_before }}))
{%- endmacro %}

{#- The discount applies at the instant (an open start or end is unbounded). -#}
{% macro mrr_discount_in_force(terms, measured_before) -%}
    case
        when
            ({{ terms }}.discount_start_at is null or {{ terms }}.discount_start_at < {{ measured_before }})
            and ({{ terms }}.discount_end_at is null or {{ terms }}.discount_end_at >= {{ measured_before }})
            then true
        else false
    end
{%- endmacro %}

{#- amount_off per month, in the currency of the charges it is taken from. -#}
{% macro mrr_discount_amount_off_monthly(terms, currency, intervals) -%}
    {{ to_monthly(
        minor_to_major(terms ~ '.discount_amount_off_minor', currency),
        intervals ~ '.recurring_interval', intervals ~ '.recurring_interval_count'
    ) }}
{%- endmacro %}

{#- MRR after the discount: gross x (1 - percent_off / 100) - amount_off per month, never below 0. -#}
{% macro mrr_after_discount(gross, is_discount_active, percent_off, amount_off_monthly) -%}
    {{ money(
        "greatest(
            " ~ gross ~ "
            * (1 - case when " ~ is_discount_active ~ " then coalesce(" ~ percent_off ~ ", 0) else 0 end / 100)
            - case when " ~ is_discount_active ~ " then coalesce(" ~ amount_off_monthly ~ ", 0) else 0 end,
            0
        )"
    ) }}
{%- endmacro %}

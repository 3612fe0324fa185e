{#- Casting helpers shared by the staging models. -#}

{#- A timestamp with zone -> the naive UTC timestamp every *_at column carries. -#}
{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc', 'salesdw')(column)) }}
{%- endmacro %}
{% macro default__to_utc(column) -%}
    cast(({{ column }} at time zone 'UTC') as timestamp)
{%- endmacro %}
{#- Spark: `timestamp` is the naive type (spark.sql.timestampType=TIMESTAMP_NTZ) and the session zone is UTC, so
    the cast from an instant gives its UTC wall time. -#}
{% macro spark__to_utc(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{#- Unix seconds (Stripe's timestamps) -> the naive UTC timestamp. -#}
{% macro epoch_to_utc(seconds) -%}
    {{ return(adapter.dispatch('epoch_to_utc', 'salesdw')(seconds)) }}
{%- endmacro %}
{% macro default__epoch_to_utc(seconds) -%}
    {{ to_utc('to_timestamp(' ~ seconds ~ ')') }}
{%- endmacro %}
{#- to_timestamp(number) is null when `timestamp` means TIMESTAMP_NTZ; timestamp_seconds gives the instant. -#}
{% macro spark__epoch_to_utc(seconds) -%}
    cast(timestamp_seconds({{ seconds }}) as timestamp)
{%- endmacro %}

{#- Digits after the decimal point of a currency's major unit, as Stripe counts them.
    Zero-decimal: amounts are already whole units. Three-decimal: amounts are thousandths. -#}
{% macro currency_exponent(currency) -%}
    case
        when upper({{ currency }}) in (
            'BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF',
            'XOF', 'XPF'
        ) then 0
        when upper({{ currency }}) in ('BHD', 'JOD', 'KWD', 'OMR', 'TND') then 3
        else 2
    end
{%- endmacro %}

{#- Stripe integer minor units -> exact decimal major units (multiplying by an exact decimal keeps every cent). -#}
{% macro minor_to_major(amount, currency) -%}
    cast(
        cast({{ amount }} as decimal(38, 0))
        * case {{ currency_exponent(currency) }} when 0 then 1.000 when 3 then 0.001 else 0.010 end
        as decimal(38, 9)
    )
{%- endmacro %}

{#- The one money type of the marts. -#}
{% macro money(expression) -%}
    cast({{ expression }} as decimal(38, 6))
{%- endmacro %}

{#- Native amount -> corporate currency. rate = units of currency per 1 unit of corporate currency
    (Salesforce DatedConversionRate), so corporate = native / rate. The corporate currency converts at 1
    even without a rate row; any other currency without a rate stays null rather than being guessed. -#}
{% macro to_corporate(amount, currency, rate) -%}
    {{ money(
        "case when " ~ currency ~ " = " ~ corporate_currency() ~ " then " ~ amount
        ~ " else " ~ decimal_quotient(amount, "nullif(" ~ rate ~ ", 0)") ~ " end"
    ) }}
{%- endmacro %}

{#- a / b for decimals, computed as DuckDB computes it: in DOUBLE (Postgres' exact numeric quotient rounds to the
    same money). Spark divides decimals exactly to 6 places, which can round differently: cast first. -#}
{% macro decimal_quotient(a, b) -%}
    {{ return(adapter.dispatch('decimal_quotient', 'salesdw')(a, b)) }}
{%- endmacro %}
{% macro default__decimal_quotient(a, b) -%}
    {{ a }} / {{ b }}
{%- endmacro %}
{% macro spark__decimal_quotient(a, b) -%}
    cast({{ a }} as double) / cast({{ b }} as double)
{%- endmacro %}

{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- Lower-cased registrable part of a URL or e-mail domain: 'https://www.Acme.com/about' -> 'acme.com'. -#}
{% macro url_domain(url) -%}
    {{ return(adapter.dispatch('url_domain', 'salesdw')(url)) }}
{%- endmacro %}
{#- Spark: regexp_replace replaces every match (its 4th argument is a position, not flags), and string literals
    read backslash escapes, so the pattern's backslash is doubled. -#}
{% macro spark__url_domain(url) -%}
    nullif(
        regexp_replace(
            regexp_replace(lower(trim({{ url }})), '^[a-z]+://', ''),
            '^www\\.|[/:?#].*$', ''
        ),
        ''
    )
{%- endmacro %}
{% macro default__url_domain(url) -%}
    nullif(
        regexp_replace(
            regexp_replace(lower(trim({{ url }})), '^[a-z]+://', ''),
            '^www\.|[/:?#].*$', '', 'g'
        ),
        ''
    )
{%- endmacro %}

{#- OpportunityHistory.ForecastCategory carries API values (BestCase), Opportunity.ForecastCategoryName labels
    (Best Case): one spelling for the marts. -#}
{% macro forecast_category_label(column) -%}
    case replace(lower(trim({{ column }})), ' ', '')
        when 'pipeline' then 'Pipeline'
        when 'bestcase' then 'Best Case'
        when 'commit' then 'Commit'
        when 'closed' then 'Closed'
        when 'omitted' then 'Omitted'
        else nullif(trim({{ column }}), '')
    end
{%- endmacro %}

{#- A recurring amount per billing interval -> per month: week x 52/12, year / 12, day x 365/12, each divided
    by interval_count. Null for an unknown interval (never guessed). -#}
{#- DuckDB's `/` returns DOUBLE for decimals and integers alike; the cast gives Postgres the same arithmetic
    (a no-op on DuckDB), so both targets produce the same amounts. -#}
{% macro to_monthly(amount, interval, interval_count) -%}
    {%- set per_interval = "(" ~ amount ~ ") * case lower(" ~ interval ~ ") when 'day' then 365 when 'week' then 52"
        ~ " when 'month' then 1 when 'year' then 1 end" -%}
    {%- set months = "(case lower(" ~ interval ~ ") when 'day' then 12 when 'week' then 12 when 'month' then 1"
        ~ " when 'year' then 12 end * coalesce(nullif(" ~ interval_count ~ ", 0), 1))" -%}
    cast(({{ decimal_quotient(per_interval, months) }}) as {{ type_double() }})
{%- endmacro %}

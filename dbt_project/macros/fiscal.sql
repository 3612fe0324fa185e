{#- Fiscal calendar from var fiscal_year_start_month (m). A fiscal year is named by the calendar year
    in which it ends: with m = 2, 2024-02-01 .. 2025-01-31 is FY2025. -#}

{#- 0-based month index within the fiscal year. -#}
{% macro fiscal_month_index(date_expr) -%}
    ((cast(extract(month from {{ date_expr }}) as integer) - {{ fiscal_year_start_month() }} + 12) % 12)
{%- endmacro %}

{% macro fiscal_year(date_expr) -%}
    (cast(extract(year from {{ date_expr }}) as integer)
        + case
            when {{ fiscal_year_start_month() }} > 1
                and cast(extract(month from {{ date_expr }}) as integer) >= {{ fiscal_year_start_month() }}
            then 1 else 0
        end)
{%- endmacro %}

{% macro fiscal_quarter_number(date_expr) -%}
    (cast(({{ fiscal_month_index(date_expr) }} - {{ fiscal_month_index(date_expr) }} % 3) / 3 as integer) + 1)
{%- endmacro %}

{#- 'FY2025-Q1' -#}
{% macro fiscal_quarter_label(date_expr) -%}
    ('FY' || cast({{ fiscal_year(date_expr) }} as {{ dbt.type_string() }}) || '-Q' || cast({{ fiscal_quarter_number(date_expr) }} as {{ dbt.type_string() }}))
{%- endmacro %}

{% macro fiscal_quarter_start(date_expr) -%}
    cast({{ dbt.dateadd('month', '-1 * (' ~ fiscal_month_index(date_expr) ~ ' % 3)', dbt.date_trunc('month', date_expr)) }} as date)
{%- endmacro %}

{% macro fiscal_quarter_end(date_expr) -%}
    cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '3', fiscal_quarter_start(date_expr))) }} as date)
{%- endmacro %}

{% macro fiscal_year_start(date_expr) -%}
    cast({{ dbt.dateadd('month', '-1 * ' ~ fiscal_month_index(date_expr), dbt.date_trunc('month', date_expr)) }} as date)
{%- endmacro %}

{#- Project settings (dbt vars, each overridable from the environment; defaults in dbt_project.yml). -#}

{% macro fiscal_year_start_month() -%}
    {%- set m = var('fiscal_year_start_month', 1) | string | trim -%}
    {%- if not m.isdigit() or (m | int) < 1 or (m | int) > 12 -%}
        {{ exceptions.raise_compiler_error("fiscal_year_start_month must be an integer 1-12, got '" ~ m ~ "'") }}
    {%- endif -%}
    {{ m | int }}
{%- endmacro %}

{% macro corporate_currency() -%}
    '{{ var("corporate_currency", "USD") | string | trim | upper }}'
{%- endmacro %}

{#- The date the marts describe. Set: that literal date. Empty: the latest date in the data (int_as_of_date),
    so that re-running on the same data always yields the same marts - never the wall clock. -#}
{% macro as_of_date() -%}
    {%- set d = var('as_of_date', '') | string | trim -%}
    {%- if d -%}
        {%- if modules.re.match('^\d{4}-\d{2}-\d{2}$', d) is none -%}
            {{ exceptions.raise_compiler_error("as_of_date must be YYYY-MM-DD, got '" ~ d ~ "'") }}
        {%- endif -%}
        cast('{{ d }}' as date)
    {%- else -%}
        (select as_of_date from {{ ref('int_as_of_date') }})
    {%- endif -%}
{%- endmacro %}

{#- 'month_end' or 'events': the MRR movements rpt_mrr_movements_monthly (and so the MRR bridge metrics) carry. -#}
{% macro mrr_convention() -%}
    {%- set c = var('mrr_convention', 'month_end') | string | trim | lower -%}
    {%- if c not in ('month_end', 'events') -%}
        {{ exceptions.raise_compiler_error("mrr_convention must be 'month_end' or 'events', got '" ~ c ~ "'") }}
    {%- endif -%}
    {{ return(c) }}
{%- endmacro %}

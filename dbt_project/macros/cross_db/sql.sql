{#- SQL syntax that differs between the targets. -#}

{#- `with x as materialized (...)`: DuckDB and Postgres compute such a CTE once; Spark has no such hint (its
    optimizer decides; a CTE read twice may be computed twice). -#}
{% macro cte_materialized() -%}
    {{ return(adapter.dispatch('cte_materialized', 'salesdw')()) }}
{%- endmacro %}
{% macro default__cte_materialized() -%}
    materialized
{%- endmacro %}
{% macro spark__cte_materialized() -%}
{%- endmacro %}

{#- A string literal for `value`. Spark reads backslash escapes in literals (DuckDB and Postgres do not). -#}
{% macro string_literal(value) -%}
    {{ return(adapter.dispatch('string_literal', 'salesdw')(value)) }}
{%- endmacro %}
{% macro default__string_literal(value) -%}
    {{ return("'" ~ (value | replace("'", "''")) ~ "'") }}
{%- endmacro %}
{% macro spark__string_literal(value) -%}
    {{ return("'" ~ (value | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") }}
{%- endmacro %}

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

{#- String literals for `values`, comma-separated (`'a', 'b'`). Spark reads backslash escapes in literals (DuckDB and
    Postgres do not). One dispatch and one pass of filters for the whole list: a macro call per value cost about
    0.1 ms, 2 s for the 20,000 ids of a 1 % delta at scale 10 (ids_in). -#}
{% macro string_literals(values) -%}
    {{ return(adapter.dispatch('string_literals', 'salesdw')(values)) }}
{%- endmacro %}
{% macro default__string_literals(values) -%}
    {{ return("'" ~ (values | map('replace', "'", "''") | join("', '")) ~ "'") }}
{%- endmacro %}
{% macro spark__string_literals(values) -%}
    {{ return("'" ~ (values | map('replace', "\\", "\\\\") | map('replace', "'", "\\'") | join("', '")) ~ "'") }}
{%- endmacro %}

{#- dbt's own `string_literal`, overridden for every target (a root project's `<adapter>__string_literal` wins dbt's
    dispatch): dbt writes unit-test fixture values with it, and on Spark a fixture's backslashes (JSON escapes such
    as \" or \u2013) must reach the table as written, which dbt-spark's own literal does not do. -#}
{% macro default__string_literal(value) -%}
    {{ return(default__string_literals([value])) }}
{%- endmacro %}
{% macro spark__string_literal(value) -%}
    {{ return(spark__string_literals([value])) }}
{%- endmacro %}

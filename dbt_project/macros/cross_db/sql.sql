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

{#- dbt's own `string_literal`, for Spark (a root project's `spark__string_literal` wins dbt's dispatch). dbt writes
    unit-test fixture values with it, as string_literal(escape_single_quotes(value)), so on Spark the value arrives
    with each quote already escaped as \'. dbt-spark's literal keeps the value's own backslashes, and Spark would
    read a fixture's JSON escapes (\" or \u2013) as its own string escapes. So this undoes dbt's escaping (exactly:
    dbt put a backslash before every quote, and a backslash of the value's own is then never directly before one)
    and writes the value with string_literals. On the other targets dbt's literal is right as it is. -#}
{% macro spark__string_literal(value) -%}
    {{ return(spark__string_literals([value | replace("\\'", "'")])) }}
{%- endmacro %}

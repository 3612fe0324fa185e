{#- Type names that differ between DuckDB and Postgres. dbt.type_float() is FLOAT, a 4-byte REAL on DuckDB. -#}

{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'salesdw')()) }}
{%- endmacro %}
{% macro default__type_double() -%}
    double
{%- endmacro %}
{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}
{% macro spark__type_double() -%}
    double
{%- endmacro %}

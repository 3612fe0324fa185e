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

{#- Contract data_types are written once (DuckDB / Postgres spelling) and translated here for Spark: VARCHAR has no
    unbounded form there, DOUBLE PRECISION is DOUBLE. `timestamp` stays: with spark.sql.timestampType=TIMESTAMP_NTZ it
    is the naive timestamp, as in DuckDB and Postgres. -#}
{% macro spark_type_name(type) -%}
    {%- set t = type | trim | lower -%}
    {%- set names = {'varchar': 'string', 'text': 'string', 'double precision': 'double', 'float8': 'double',
        'timestamp without time zone': 'timestamp', 'timestamptz': 'timestamp_ltz',
        'timestamp with time zone': 'timestamp_ltz'} -%}
    {{ return(names.get(t, type)) }}
{%- endmacro %}

{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type_name(type) }})
{%- endmacro %}

{#- Unit-test fixtures are cast to the types Spark's catalog reports, where `timestamp` is the instant type
    (TIMESTAMP_LTZ; the naive one is reported as timestamp_ntz): keep it so, whatever spark.sql.timestampType says. -#}
{% macro spark__safe_cast(field, type) -%}
    {%- set t = 'timestamp_ltz' if (type | trim | lower) == 'timestamp' else spark_type_name(type) -%}
    {%- set field_clean = field.strip('"').strip("'") if (cast_from_string_unsupported_for(t) and field is string) else field -%}
    cast({{ field_clean }} as {{ t }})
{%- endmacro %}

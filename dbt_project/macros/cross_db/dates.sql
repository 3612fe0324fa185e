{#- Date functions whose spelling or numbering differs between DuckDB, Postgres and Spark. -#}

{#- 0 = Sunday ... 6 = Saturday (Spark's dow counts 1 = Sunday ... 7). -#}
{% macro day_of_week(date_expr) -%}
    {{ return(adapter.dispatch('day_of_week', 'salesdw')(date_expr)) }}
{%- endmacro %}
{% macro default__day_of_week(date_expr) -%}
    cast(extract(dow from {{ date_expr }}) as integer)
{%- endmacro %}
{% macro spark__day_of_week(date_expr) -%}
    (cast(extract(dow from {{ date_expr }}) as integer) - 1)
{%- endmacro %}

{#- A FROM-clause item joined to the relation before it: one row per timestamp from `start` to `stop` (inclusive)
    every `step` ('1 day', '1 month'), as column `series.generate_series`. The bounds may read the preceding
    relation's columns. -#}
{% macro series_join(start, stop, step) -%}
    {{ return(adapter.dispatch('series_join', 'salesdw')(start, stop, step)) }}
{%- endmacro %}
{% macro default__series_join(start, stop, step) -%}
    cross join generate_series({{ start }}, {{ stop }}, interval '{{ step }}') as series (generate_series)
{%- endmacro %}
{% macro spark__series_join(start, stop, step) -%}
    lateral view explode(sequence({{ start }}, {{ stop }}, interval '{{ step }}')) series as generate_series
{%- endmacro %}

{#- dbt-spark's dateadd goes through unix seconds and to_timestamp(), which is null when `timestamp` means
    TIMESTAMP_NTZ, and fails on a null date: timestampadd keeps the type and passes nulls. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, cast({{ interval }} as int), cast({{ from_date_or_timestamp }} as timestamp))
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- else -%}
        timestampdiff({{ datepart }}, cast({{ first_date }} as timestamp), cast({{ second_date }} as timestamp))
    {%- endif -%}
{%- endmacro %}

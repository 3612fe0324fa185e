{#- Row deletes, and the delete+insert incremental strategy, on every target.

    DuckDB and Postgres delete rows in place. Spark's Parquet tables have no row-level DELETE (Delta and Iceberg
    do; dbt-spark's `merge` needs them): there delete_from() rewrites the table without the rows - the kept rows
    go to <table>__dbt_keep, which then replaces the table (copy on write, what Delta does per file). The
    result is the same table; the cost is a rewrite of the table, and the two steps are not one transaction (a
    failure between them leaves the table missing, which the next build of an incremental model answers with a
    full build). On a cluster with Delta or Iceberg, set +file_format: delta (or iceberg) and the native DELETE runs.

    delete_from() returns the statement for a hook; on Spark it has done the work itself by then (a rewrite is
    several statements) and returns a no-op. -#}

{% macro delete_from(relation, predicate) -%}
    {{ return(adapter.dispatch('delete_from', 'salesdw')(relation, predicate)) }}
{%- endmacro %}

{% macro default__delete_from(relation, predicate) -%}
    {{ return('delete from ' ~ relation ~ ' where ' ~ predicate) }}
{%- endmacro %}

{% macro spark__delete_from(relation, predicate) -%}
    {%- if config.get('file_format', 'parquet') in ('delta', 'iceberg') -%}
        {{ return('delete from ' ~ relation ~ ' where ' ~ predicate) }}
    {%- endif -%}
    {%- if execute -%}
        {%- set keep = relation.incorporate(path={'identifier': relation.identifier ~ '__dbt_keep'}) -%}
        {%- do run_query('drop table if exists ' ~ keep) -%}
        {#- `not coalesce(p, false)`: a row the predicate leaves unknown (null) stays, as with DELETE -#}
        {%- do run_query('create table ' ~ keep ~ ' using parquet as select * from ' ~ relation
            ~ ' where not coalesce((' ~ predicate ~ '), false)') -%}
        {%- do run_query('drop table ' ~ relation) -%}
        {%- do run_query(rename_table_sql(keep, relation)) -%}
    {%- endif -%}
    {{ return('select 1') }}
{%- endmacro %}

{#- dbt-spark accepts append / merge / insert_overwrite / microbatch; delete+insert is added here (the models use it
    on every target). The new rows are first written to a table, because they may read the target itself, which
    the delete then replaces. -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch', 'delete+insert'] -%}
        {%- do exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy) -%}
    {%- endif -%}
    {%- if raw_strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] -%}
        {%- do exceptions.raise_compiler_error(
            "the merge strategy needs file_format delta, iceberg or hudi, not " ~ file_format) -%}
    {%- endif -%}
    {{ return(raw_strategy) }}
{%- endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy == 'delete+insert' -%}
        {{ spark_delete_insert_sql(source, target, unique_key) }}
    {%- elif strategy == 'append' -%}
        {{ get_insert_into_sql(source, target) }}
    {%- elif strategy in ('insert_overwrite', 'microbatch') -%}
        {{ get_insert_overwrite_sql(source, target, existing) }}
    {%- elif strategy == 'merge' -%}
        {{ get_merge_sql(target, source, unique_key, dest_columns=none, incremental_predicates=incremental_predicates) }}
    {%- else -%}
        {%- do exceptions.raise_compiler_error("No known SQL for the incremental strategy " ~ strategy) -%}
    {%- endif -%}
{%- endmacro %}

{% macro spark_delete_insert_sql(source, target, unique_key) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set rows = target.incorporate(path={'identifier': target.identifier ~ '__dbt_new'}) -%}
    {%- do run_query('drop table if exists ' ~ rows) -%}
    {%- do run_query('create table ' ~ rows ~ ' using parquet as select * from ' ~ source) -%}
    {%- do delete_from(target,
        '(' ~ keys | join(', ') ~ ') in (select ' ~ keys | join(', ') ~ ' from ' ~ rows ~ ')') -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- do run_query('insert into table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ rows) -%}
    drop table if exists {{ rows }}
{%- endmacro %}

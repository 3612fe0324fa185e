{#- Entity fingerprints: lets an incremental model rebuild only the entities (keys) whose inputs changed since
    its last build, and give exactly the rows a full rebuild would.

    The model keeps one fingerprint per key - a hash over every input row that determines the key's output -
    in a store table beside it (schema dbt_state, <model>__fingerprints). Hooks, in this order:
      pre:  changed_entities_prepare(fingerprints_sql, enabled)  computes the fingerprints afresh
            (<model>__fresh) and writes every key that is new, changed or gone to <model>__changed
            (entity_key, previous_fingerprint, fingerprint). Without a store every fresh key counts as new.
      ...   the model deletes and re-inserts the rows of those keys (reading changed_entities_relation('changed'))
      post: changed_entities_commit(fingerprints_sql, keep)  makes the fresh fingerprints the store (a first build
            or full refresh computes them), or with keep=false forgets the store, so that the next run treats
            everything as changed: for runs that leave the table in a state the fingerprints do not describe.
    fingerprints_sql selects (entity_key varchar, fingerprint varchar); entity_fingerprints() writes it for a
    relation. Keys outside the entities' own key space (e.g. '~settings') can carry run-wide context. -#}

{% macro changed_entities_relation(kind) -%}
    {{ return(api.Relation.create(
        database=this.database, schema='dbt_state', identifier=this.identifier ~ '__' ~ kind, type='table')) }}
{%- endmacro %}

{#- One row per key: a hash over its rows (order_by must be unique within a key). -#}
{% macro entity_fingerprints(relation, key, columns, order_by, where='true') -%}
    select
        cast({{ key }} as {{ dbt.type_string() }}) as entity_key,
        {{ entity_fingerprint_agg(columns, order_by) }} as fingerprint
    from {{ relation }}
    where {{ where }}
    group by {{ key }}
{%- endmacro %}

{% macro entity_fingerprint_agg(columns, order_by) -%}
    {{ return(adapter.dispatch('entity_fingerprint_agg')(columns, order_by)) }}
{%- endmacro %}

{#- md5 over the rows' text in order; each value length-prefixed, so no two different row sets give the same
    text whatever the values contain. -#}
{% macro default__entity_fingerprint_agg(columns, order_by) -%}
    md5(string_agg(
        {%- for c in columns %}
        coalesce(cast(length(cast({{ c }} as {{ dbt.type_string() }})) as {{ dbt.type_string() }}) || ':' || cast({{ c }} as {{ dbt.type_string() }}), '-')
        {{- " || ',' ||" if not loop.last else " || ';'" }}
        {%- endfor %},
        '' order by {{ order_by }}
    ))
{%- endmacro %}

{#- DuckDB: row count and the sum of the rows' 64-bit hashes (exact HUGEINT sum, so independent of order),
    ten times faster than md5 over text. A changed key is missed only if its new rows' hashes happen to sum to
    the old ones' (odds ~2^-64); a DuckDB upgrade that changes hash() makes every key look changed, which only
    costs one full rebuild. -#}
{% macro duckdb__entity_fingerprint_agg(columns, order_by) -%}
    cast(count(*) as {{ dbt.type_string() }}) || ':' || cast(sum({{ row_fingerprint(columns) }}) as {{ dbt.type_string() }})
{%- endmacro %}

{#- Spark: the row count and the exact sum of the rows' xxhash64 fingerprints, independent of order. -#}
{% macro spark__entity_fingerprint_agg(columns, order_by) -%}
    cast(count(*) as string) || ':' || cast(sum(cast({{ row_fingerprint(columns) }} as decimal(20, 0))) as string)
{%- endmacro %}

{% macro _changed_entities_exists(relation) -%}
    {{ return(adapter.dispatch('relation_exists', 'salesdw')(relation)) }}
{%- endmacro %}

{% macro spark__relation_exists(relation) -%}
    {%- set found = run_query("show tables in " ~ relation.schema ~ " like '" ~ relation.identifier ~ "'") -%}
    {{ return(found | length > 0) }}
{%- endmacro %}

{% macro default__relation_exists(relation) -%}
    {%- set found = run_query(
        "select count(*) from information_schema.tables where table_schema = '" ~ relation.schema
        ~ "' and table_name = '" ~ relation.identifier ~ "'") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro changed_entities_prepare(fingerprints_sql, enabled) -%}
    {%- if execute -%}
        {%- set fresh = changed_entities_relation('fresh') -%}
        {%- set changed = changed_entities_relation('changed') -%}
        {%- set store = changed_entities_relation('fingerprints') -%}
        {%- do run_query('create schema if not exists ' ~ adapter.quote(store.schema)) -%}
        {#- leftovers of a run that failed after its pre-hooks must never be taken for this run's -#}
        {%- do run_query('drop table if exists ' ~ fresh) -%}
        {%- do run_query('drop table if exists ' ~ changed) -%}
        {%- if enabled -%}
            {%- do run_query('create table ' ~ fresh ~ ' as ' ~ fingerprints_sql) -%}
            {%- if _changed_entities_exists(store) -%}
                {%- do run_query(
                    'create table ' ~ changed ~ ' as
                    select
                        coalesce(fresh.entity_key, store.entity_key) as entity_key,
                        store.fingerprint as previous_fingerprint,
                        fresh.fingerprint
                    from ' ~ fresh ~ ' as fresh
                    full outer join ' ~ store ~ ' as store on fresh.entity_key = store.entity_key
                    where fresh.fingerprint is distinct from store.fingerprint
                        or fresh.entity_key is null or store.entity_key is null') -%}
            {%- else -%}
                {%- do run_query(
                    'create table ' ~ changed ~ ' as
                    select entity_key, cast(null as ' ~ dbt.type_string() ~ ') as previous_fingerprint, fingerprint from ' ~ fresh) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro changed_entities_commit(fingerprints_sql, keep=true) -%}
    {%- if execute -%}
        {%- set fresh = changed_entities_relation('fresh') -%}
        {%- set changed = changed_entities_relation('changed') -%}
        {%- set store = changed_entities_relation('fingerprints') -%}
        {%- do run_query('create schema if not exists ' ~ adapter.quote(store.schema)) -%}
        {%- do run_query('drop table if exists ' ~ changed) -%}
        {%- do run_query('drop table if exists ' ~ store) -%}
        {%- if not keep -%}
            {%- do run_query('drop table if exists ' ~ fresh) -%}
        {%- elif _changed_entities_exists(fresh) -%}
            {%- do run_query(rename_table_sql(fresh, store)) -%}
        {%- else -%}
            {%- do run_query('create table ' ~ store ~ ' as ' ~ fingerprints_sql) -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- `alter table ... rename to`: Postgres and DuckDB take the bare new name, Spark the qualified one. -#}
{% macro rename_table_sql(relation, new_relation) -%}
    {{ return(adapter.dispatch('rename_table_sql', 'salesdw')(relation, new_relation)) }}
{%- endmacro %}
{% macro default__rename_table_sql(relation, new_relation) -%}
    {{ return('alter table ' ~ relation ~ ' rename to ' ~ adapter.quote(new_relation.identifier)) }}
{%- endmacro %}
{% macro spark__rename_table_sql(relation, new_relation) -%}
    {{ return('alter table ' ~ relation ~ ' rename to ' ~ new_relation) }}
{%- endmacro %}

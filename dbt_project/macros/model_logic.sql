{#- An incremental model keeps rows that earlier runs computed, and rewrites only what new data touches. When the
    code or settings that compute its rows change (a model or macro edited, a setting such as the fiscal year
    changed, a new dbt or DuckDB), the rows it holds were computed the old way and nothing in the data says so: the
    model is rebuilt from scratch instead.

    The Dagster dbt step sets SALESDW_DBT_LOGIC to a fingerprint of that code and those settings
    (orchestration/defs/dbt/project.py, logic_fingerprint). Each incremental model records the fingerprint it was
    built with (post-hook record_model_logic, in the model's own transaction: table dbt_state.<model>__logic;
    dbt_project.yml's on-run-start creates the schema), and
    should_full_refresh() below, which dbt's incremental materialisation and is_incremental() ask, answers yes when
    the record is missing or differs. A build for a partition window (a Dagster backfill) never rebuilds the whole
    table and records nothing, so the next build without a window rebuilds it. dbt run by hand, without
    SALESDW_DBT_LOGIC, behaves as plain dbt (--full-refresh as usual). -#}

{#- dbt's own should_full_refresh (the full_refresh config, else --full-refresh), and for an incremental model
    built with a fingerprint, a fingerprint other than the one its rows were computed with. -#}
{% macro should_full_refresh() -%}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is none -%}
        {%- set configured = flags.FULL_REFRESH -%}
    {%- endif -%}
    {{ return(configured or model_logic_changed()) }}
{%- endmacro %}

{% macro model_logic_checked() -%}
    {{ return(execute and this is not none and config.get('materialized') == 'incremental'
        and env_var('SALESDW_DBT_LOGIC', '') != '' and partition_window() is none) }}
{%- endmacro %}

{% macro model_logic_relation() -%}
    {{ return(api.Relation.create(
        database=this.database, schema='dbt_state', identifier=this.identifier ~ '__logic', type='table')) }}
{%- endmacro %}

{% macro model_logic_changed() -%}
    {%- if not model_logic_checked() -%}
        {{ return(false) }}
    {%- endif -%}
    {#- dbt asks several times a model (is_incremental() in its SQL and hooks, then the materialisation), and the
        answer holds for the whole invocation: it is kept in `graph`, the one dict every node of it shares -#}
    {%- set answers = graph.setdefault('salesdw_model_logic_changed', {}) -%}
    {%- if this.identifier not in answers -%}
        {%- set record = model_logic_relation() -%}
        {%- set held = run_query('select logic from ' ~ record).columns[0].values() | list
            if adapter.dispatch('relation_exists', 'salesdw')(record) else [] -%}
        {%- do answers.update({this.identifier: held != [env_var('SALESDW_DBT_LOGIC')]}) -%}
    {%- endif -%}
    {{ return(answers[this.identifier]) }}
{%- endmacro %}

{#- Post-hook of every model (dbt_project.yml): records the fingerprint of an incremental model built with one and
    without a partition window, unless the record holds it already, and renders no statement (dbt skips an empty
    hook). -#}
{% macro record_model_logic() -%}
    {%- if model_logic_changed() -%}
        {%- set record = model_logic_relation() -%}
        {%- do run_query('drop table if exists ' ~ record) -%}
        {%- do run_query('create table ' ~ record ~ ' as select cast(' ~ string_literals([env_var('SALESDW_DBT_LOGIC')])
            ~ ' as ' ~ dbt.type_string() ~ ') as logic') -%}
    {%- endif -%}
{%- endmacro %}

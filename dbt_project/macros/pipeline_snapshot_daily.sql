{#- fct_pipeline_snapshot_daily's incremental run (see macros/changed_entities.sql). An opportunity's snapshot
    rows are a function of its open state intervals, of the calendar (start, fiscal quarters) and of the as-of
    date, so those are what the fingerprints cover: one per opportunity over its open states, '~settings'
    (fiscal year start, calendar start: any change rebuilds everything) and '~as_of_date'. -#}

{#- The run that rebuilds only what changed: on an existing table, without a Dagster partition window (a
    partitioned run replaces its window exactly as before, and makes the next delta run rebuild everything). -#}
{% macro pipeline_snapshot_is_delta_run() -%}
    {#- a unit test has no `this` (and is_incremental() needs one): it tests the full or windowed build -#}
    {{ return(this is not none and is_incremental() and partition_window() is none) }}
{%- endmacro %}

{#- Pre-hook: the calendar, read once per run from int_dates_spined, into a small table
    the fingerprints and the delta run's SQL share. -#}
{% macro pipeline_snapshot_calendar() -%}
    {%- if execute and partition_window() is none -%}
        {%- set calendar = changed_entities_relation('calendar') -%}
        {%- do run_query('create schema if not exists ' ~ adapter.quote(calendar.schema)) -%}
        {%- do run_query('drop table if exists ' ~ calendar) -%}
        {%- do run_query('create table ' ~ calendar ~ ' as select date_day, fiscal_quarter, is_as_of_date from '
            ~ ref('int_dates_spined')) -%}
    {%- endif -%}
{%- endmacro %}

{% macro pipeline_snapshot_fingerprints() -%}
    {%- set calendar = changed_entities_relation('calendar') -%}
    {{ entity_fingerprints(
        ref('int_opportunity_states_historized'),
        'opportunity_id',
        ['valid_from', 'valid_to', 'owner_user_id', 'stage_name', 'stage_sort_order', 'forecast_category',
         'amount', 'amount_native', 'currency', 'probability', 'expected_amount', 'close_date',
         'close_fiscal_quarter'],
        order_by='valid_from',
        where='not is_closed') }}
    union all
    select
        '~settings',
        'fiscal_year_start_month={{ fiscal_year_start_month() }};calendar_start=' || cast(min(date_day) as {{ dbt.type_string() }})
    from {{ calendar }}
    union all
    select '~as_of_date', cast(max(case when is_as_of_date then date_day end) as {{ dbt.type_string() }})
    from {{ calendar }}
{%- endmacro %}

{#- Everything is rebuilt when there are no fingerprints yet (every key is then new), the settings changed, or
    the previous build had no as-of date within its calendar (so no rows to extend). -#}
{% macro pipeline_snapshot_rebuild_all() -%}
    exists (
        select 1 from {{ changed_entities_relation('changed') }}
        where entity_key = '~settings' or (entity_key = '~as_of_date' and previous_fingerprint is null)
    )
{%- endmacro %}

{#- Pre-hook of a delta run: the rows of changed or gone opportunities and of days after the new as-of date go. -#}
{% macro pipeline_snapshot_delete_changed() -%}
    {%- if pipeline_snapshot_is_delta_run() -%}
        {%- set predicate -%}
            {{ pipeline_snapshot_rebuild_all() }}
            or snapshot_date > coalesce(
                (select max(date_day) from {{ changed_entities_relation('calendar') }} where is_as_of_date),
                cast('0001-01-01' as date)
            )
            or opportunity_id in (select entity_key from {{ changed_entities_relation('changed') }})
        {%- endset -%}
        {{ delete_from(this, predicate) }}
    {%- endif -%}
{%- endmacro %}

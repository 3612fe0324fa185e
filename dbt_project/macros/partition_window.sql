{#- Partitioned history marts. Dagster sets vars partition_start / partition_end ('YYYY-MM-DD', end exclusive)
    for one partition or a backfill range; a run without them rebuilds the whole history (or, for a model
    with its own incremental logic, what changed: fct_pipeline_snapshot_daily). Each partitioned
    model filters its rows with in_partition_window() and clears the same window first with
    clear_partition_window() (a pre-hook, inside the model's transaction), so a backfill of a range replaces
    exactly that range: the same rows a full rebuild gives, never duplicates. -#}

{% macro partition_window() -%}
    {%- set start = var('partition_start', '') | string | trim -%}
    {%- set end = var('partition_end', '') | string | trim -%}
    {%- if not start and not end -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for d in [start, end] -%}
        {%- if modules.re.match('^\d{4}-\d{2}-\d{2}$', d) is none -%}
            {{ exceptions.raise_compiler_error(
                "partition_start and partition_end must both be YYYY-MM-DD (end exclusive), got '"
                ~ start ~ "' and '" ~ end ~ "'") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if end <= start -%}
        {{ exceptions.raise_compiler_error("partition_end '" ~ end ~ "' must be after partition_start '" ~ start ~ "'") }}
    {%- endif -%}
    {{ return((start, end)) }}
{%- endmacro %}

{% macro in_partition_window(column) -%}
    {%- set window = partition_window() -%}
    {%- if window is none -%}
        true
    {%- else -%}
        ({{ column }} >= cast('{{ window[0] }}' as date) and {{ column }} < cast('{{ window[1] }}' as date))
    {%- endif -%}
{%- endmacro %}

{#- without_window=false: a run without a window deletes nothing here (a model that rebuilds only what changed
    does its own deleting then). -#}
{% macro clear_partition_window(column, without_window=true) -%}
    {%- if is_incremental() and (without_window or partition_window() is not none) -%}
        {{ delete_from(this, in_partition_window(column)) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

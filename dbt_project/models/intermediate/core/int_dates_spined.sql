-- The calendar: one row per day from the start of the fiscal year of the earliest data (int_as_of_date's
-- first_data_date: an opportunity or invoice created, an event, a subscription start) to the end of the fiscal year
-- after the as-of date; fiscal attributes follow var fiscal_year_start_month. Published as dim_date; models that
-- must not depend on a mart (the partitioned history marts, built in their own step) read it here.
-- A table, not a view: a dozen models read it. It reads no staging view: its bounds are int_as_of_date's row,
-- so a delta that moves neither date does not rebuild it (orchestration/selection.py compares that row).
{{ config(materialized='table') }}

with bounds as (
    select
        {{ fiscal_year_start('first_data_date') }} as start_date,
        {{ fiscal_year_start(as_of_date()) }} as as_of_fiscal_year_start
    from {{ ref('int_as_of_date') }}
),

spine as (
    select cast(series.generate_series as date) as date_day
    from bounds
    {{ series_join(
        'cast(bounds.start_date as timestamp)',
        'cast(' ~ dbt.dateadd('day', '-1', dbt.dateadd('month', '24', 'bounds.as_of_fiscal_year_start')) ~ ' as timestamp)',
        '1 day'
    ) }}
),

final as (
    select
        date_day,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(month from date_day) as integer) as calendar_month,
        {{ day_of_week('date_day') }} as day_of_week,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start_date,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date,
        cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '1', dbt.date_trunc('month', 'date_day'))) }} as date)
            as month_end_date,
        {{ fiscal_year('date_day') }} as fiscal_year,
        {{ fiscal_quarter_label('date_day') }} as fiscal_quarter,
        {{ fiscal_quarter_number('date_day') }} as fiscal_quarter_number,
        {{ fiscal_quarter_start('date_day') }} as fiscal_quarter_start,
        {{ fiscal_quarter_end('date_day') }} as fiscal_quarter_end,
        {{ fiscal_year_start('date_day') }} as fiscal_year_start,
        {{ day_of_week('date_day') }} not in (0, 6) as is_business_day,
        date_day = {{ as_of_date() }} as is_as_of_date
    from spine
)

select * from final

-- MetricFlow's time spine: one row per day of the fiscal calendar, carrying the fiscal periods so that
-- metric_time__fiscal_quarter / metric_time__fiscal_year group any metric by the company's own calendar.
-- It covers every day a metric can be grouped by: dim_date's calendar, stretched to the earliest and latest
-- close date of an opportunity and activity date (an open deal may close after dim_date ends, a meeting may be
-- scheduled ahead, a deal may be back-dated). MetricFlow joins the spine for fiscal periods, so a day outside
-- it would be grouped under an empty fiscal quarter. Fiscal labels come from the same macros as dim_date's.
-- Built in schema marts (a table, not a view) so the publish step can carry it into the serving file
-- that metric queries read.
{{ config(materialized='table', schema='marts') }}

with calendar as (
    select * from {{ ref('dim_date') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

activities as (
    select * from {{ ref('fct_activities') }}
),

dates_used as (
    select
        min(date_day) as first_day,
        max(date_day) as last_day
    from calendar
    union all
    select
        min(close_date) as first_day,
        max(close_date) as last_day
    from opportunities
    union all
    select
        min(occurred_date) as first_day,
        max(occurred_date) as last_day
    from activities
),

bounds as (
    select
        min(first_day) as first_day,
        max(last_day) as last_day
    from dates_used
),

spine as (
    select cast(series.generate_series as date) as date_day
    from bounds
    {{ series_join('cast(bounds.first_day as timestamp)', 'cast(bounds.last_day as timestamp)', '1 day') }}
)

select
    date_day,
    {{ fiscal_quarter_label('date_day') }} as fiscal_quarter,
    {{ fiscal_year('date_day') }} as fiscal_year
from spine

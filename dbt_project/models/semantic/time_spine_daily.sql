-- MetricFlow's time spine: one row per day of the fiscal calendar, carrying the fiscal periods so that
-- metric_time__fiscal_quarter / metric_time__fiscal_year group any metric by the company's own calendar.
-- Built in schema marts (a table, not a view) so the publish step can carry it into the serving file
-- that metric queries read.
{{ config(materialized='table', schema='marts') }}

with calendar as (
    select * from {{ ref('dim_date') }}
)

select
    date_day,
    fiscal_quarter,
    fiscal_year
from calendar

-- The dates that bound the data. as_of_date, the default as-of date: the latest date found in the data (last
-- change to an opportunity, its history, an invoice or an engagement event), so the marts never depend on when
-- dbt happens to run. first_data_date: the earliest (an opportunity or invoice created, an engagement event, a
-- subscription start), where the calendar (int_dates_spined) begins.
-- A table, not a view: a dozen models read it, and as a view each of them re-derived it from the
-- deduplicating staging views (2-3 s a read at scale 10). One read of each view gives both dates, so the
-- calendar reads no view itself.
{{ config(materialized='table') }}

with opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}
),

histories as (
    select * from {{ ref('stg_crm__opportunity_histories') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

events as (
    select * from {{ ref('stg_activity__events') }}
),

data_dates as (
    select max(cast(modified_at as date)) as last_date, min(cast(created_at as date)) as first_date
    from opportunities
    union all
    select max(cast(created_at as date)), cast(null as date) from histories
    union all
    select max(cast(created_at as date)), min(cast(created_at as date)) from invoices
    union all
    -- MRR months start at the earliest subscription start
    select max(cast(created_at as date)), min(cast(started_at as date)) from subscriptions
    union all
    select max(cast(updated_at as date)), min(cast(occurred_at as date)) from events
),

final as (
    select
        max(last_date) as as_of_date,
        min(first_date) as first_data_date
    from data_dates
)

select * from final

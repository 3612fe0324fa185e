-- The default as-of date: the latest date found in the data (last change to an opportunity, its history,
-- an invoice or an engagement event), so the marts never depend on when dbt happens to run.
-- A table, not a view: a dozen models read it, and as a view each of them re-derived it from the
-- deduplicating staging views (2-3 s a read at scale 10).
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
    select max(cast(modified_at as date)) as data_date from opportunities
    union all
    select max(cast(created_at as date)) from histories
    union all
    select max(cast(created_at as date)) from invoices
    union all
    select max(cast(created_at as date)) from subscriptions
    union all
    select max(cast(updated_at as date)) from events
),

final as (
    select max(data_date) as as_of_date from data_dates
)

select * from final

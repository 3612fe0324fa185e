-- The pipeline rebuilt from OpportunityHistory, on the as-of date, is the set of currently open opportunities
-- in their current stage, close date and amount. A difference means the history export misses changes.
{{ config(severity='warn') }}

-- (the as-of date is read from dim_date so that this test depends on marts only)
with as_of as (
    select date_day from {{ ref('dim_date') }} where is_as_of_date
),

snapshot as (
    select * from {{ ref('fct_pipeline_snapshot_daily') }}
    where snapshot_date = (select date_day from as_of)
),

current_open as (
    select * from {{ ref('fct_opportunities') }}
    where not is_closed and created_date <= (select date_day from as_of)
)

select coalesce(snapshot.opportunity_id, current_open.opportunity_id) as opportunity_id
from snapshot
full outer join current_open on snapshot.opportunity_id = current_open.opportunity_id
where snapshot.opportunity_id is null
    or current_open.opportunity_id is null
    or snapshot.stage_name <> current_open.stage_name
    or snapshot.close_date <> current_open.close_date
    or coalesce(snapshot.amount_native, -1) <> coalesce(current_open.amount_native, -1)

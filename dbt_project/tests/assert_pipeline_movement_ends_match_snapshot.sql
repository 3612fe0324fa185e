-- Both ends of the pipeline waterfall are the daily pipeline snapshot: for every fiscal quarter up to the as-of
-- date and every owner, opening_pipeline (and its count) = the snapshot at the end of the day before the quarter,
-- per forecast category, and closing_pipeline = the snapshot at the end of the quarter's last day (the as-of date
-- while it runs), of the open opportunities with a close date in the quarter. The days are derived from dim_date
-- here, not read from the report. Lists every quarter, owner and category where they differ.
-- In a Dagster run it runs in the marts step (its other parent is upstream of that step's selection, dbt's
-- buildable indirect selection); a failure fails the step, so nothing is published.
with report as (
    select * from {{ ref('rpt_pipeline_movement') }}
),

snapshots as (
    select * from {{ ref('fct_pipeline_snapshot_daily') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

as_of as (
    select max(date_day) as as_of_date from calendar where is_as_of_date
),

quarters as (
    select
        calendar.fiscal_quarter,
        min(calendar.fiscal_quarter_start) - 1 as opening_date,
        least(min(calendar.fiscal_quarter_end), min(as_of.as_of_date)) as closing_date
    from calendar
    cross join as_of
    where calendar.fiscal_quarter_start <= as_of.as_of_date
    group by calendar.fiscal_quarter
),

snapshot_ends as (
    select
        quarters.fiscal_quarter,
        snapshots.owner_user_id,
        case when snapshots.snapshot_date = quarters.opening_date then snapshots.forecast_category end
            as opening_category,
        sum(case when snapshots.snapshot_date = quarters.opening_date then coalesce(snapshots.amount, 0) else 0 end) as opening,
        count(case when snapshots.snapshot_date = quarters.opening_date then 1 end) as opening_count,
        sum(case when snapshots.snapshot_date = quarters.closing_date then coalesce(snapshots.amount, 0) else 0 end) as closing,
        count(case when snapshots.snapshot_date = quarters.closing_date then 1 end) as closing_count
    from snapshots
    inner join quarters
        on snapshots.snapshot_date in (quarters.opening_date, quarters.closing_date)
        and snapshots.close_fiscal_quarter = quarters.fiscal_quarter
    group by 1, 2, 3
),

-- opening per category; closing per quarter and owner (the report keys it by the starting category)
snapshot_openings as (
    select
        fiscal_quarter,
        owner_user_id,
        opening_category as forecast_category,
        sum(opening) as opening,
        sum(opening_count) as opening_count
    from snapshot_ends
    where opening_count > 0
    group by 1, 2, 3
),

report_openings as (
    select
        fiscal_quarter,
        owner_user_id,
        forecast_category,
        sum(opening_pipeline) as opening,
        sum(opening_count) as opening_count
    from report
    group by 1, 2, 3
    having sum(opening_count) > 0
),

snapshot_closings as (
    select
        fiscal_quarter,
        owner_user_id,
        sum(closing) as closing,
        sum(closing_count) as closing_count
    from snapshot_ends
    group by 1, 2
    having sum(closing_count) > 0
),

report_closings as (
    select
        fiscal_quarter,
        owner_user_id,
        sum(closing_pipeline) as closing,
        sum(closing_count) as closing_count
    from report
    group by 1, 2
    having sum(closing_count) > 0
)

select
    'opening' as end_of_quarter,
    coalesce(s.fiscal_quarter, r.fiscal_quarter) as fiscal_quarter,
    coalesce(s.owner_user_id, r.owner_user_id) as owner_user_id,
    coalesce(s.forecast_category, r.forecast_category) as forecast_category,
    s.opening as snapshot_amount,
    r.opening as report_amount,
    s.opening_count as snapshot_count,
    r.opening_count as report_count
from snapshot_openings as s
full outer join report_openings as r
    on s.fiscal_quarter = r.fiscal_quarter
    and s.owner_user_id = r.owner_user_id
    and s.forecast_category is not distinct from r.forecast_category
where s.opening is distinct from r.opening or s.opening_count is distinct from r.opening_count
union all
select
    'closing' as end_of_quarter,
    coalesce(s.fiscal_quarter, r.fiscal_quarter) as fiscal_quarter,
    coalesce(s.owner_user_id, r.owner_user_id) as owner_user_id,
    null as forecast_category,
    s.closing as snapshot_amount,
    r.closing as report_amount,
    s.closing_count as snapshot_count,
    r.closing_count as report_count
from snapshot_closings as s
full outer join report_closings as r
    on s.fiscal_quarter = r.fiscal_quarter
    and s.owner_user_id = r.owner_user_id
where s.closing is distinct from r.closing or s.closing_count is distinct from r.closing_count

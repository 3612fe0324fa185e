-- Current state of each opportunity with closed/won from the stage definitions, the amount in corporate
-- currency at the rate valid on the close date, and close-date pushes counted from OpportunityHistory.
with opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}
),

stages as (
    select * from {{ ref('int_opportunity_stages_unioned') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

histories as (
    select * from {{ ref('stg_crm__opportunity_histories') }}
),

history_changes as (
    select
        histories.opportunity_id,
        histories.close_date,
        lag(histories.close_date) over (
            partition by histories.opportunity_id order by histories.created_at, histories.opportunity_history_id
        ) as previous_close_date,
        stages.is_closed,
        lag(stages.is_closed) over (
            partition by histories.opportunity_id order by histories.created_at, histories.opportunity_history_id
        ) as previous_is_closed
    from histories
    left join stages on histories.stage_name = stages.stage_name
),

history_counts as (
    select
        opportunity_id,
        -- a push = a change of close date to a later date
        sum(case when close_date > previous_close_date then 1 else 0 end) as times_close_date_pushed,
        sum(case when previous_is_closed and not is_closed then 1 else 0 end) as times_reopened
    from history_changes
    group by opportunity_id
),

joined as (
    select
        opportunities.opportunity_id,
        opportunities.opportunity_name,
        opportunities.account_id,
        opportunities.owner_user_id,
        opportunities.opportunity_type,
        opportunities.lead_source,
        opportunities.stage_name,
        stages.sort_order as stage_sort_order,
        coalesce(
            {{ forecast_category_label('opportunities.forecast_category') }}, stages.forecast_category
        ) as forecast_category,
        coalesce(stages.is_closed, opportunities.source_is_closed, false) as is_closed,
        coalesce(stages.is_won, opportunities.source_is_won, false) as is_won,
        {{ money('opportunities.amount') }} as amount_native,
        opportunities.currency,
        {{ to_corporate('opportunities.amount', 'opportunities.currency', 'rates.conversion_rate') }} as amount,
        opportunities.probability,
        cast(opportunities.created_at as date) as created_date,
        opportunities.created_at,
        opportunities.close_date,
        cast(coalesce(history_counts.times_close_date_pushed, 0) as integer) as times_close_date_pushed,
        cast(coalesce(history_counts.times_reopened, 0) as integer) as times_reopened
    from opportunities
    left join stages on opportunities.stage_name = stages.stage_name
    left join rates
        on opportunities.currency = rates.iso_code
        and opportunities.close_date >= rates.start_date
        and opportunities.close_date < rates.next_start_date
    left join history_counts on opportunities.opportunity_id = history_counts.opportunity_id
),

final as (
    select
        *,
        -- Probability is a percentage (0-100): the expected value divides it by 100.
        -- x 0.01, not / 100: DuckDB divides decimals in DOUBLE (12565.9280885 -> ...088), Postgres exactly
        -- (...089); a decimal product is exact on both, so half-way values round the same everywhere.
        {{ money('amount * probability * 0.01') }} as expected_amount,
        cast({{ dbt.datediff('created_date', 'close_date', 'day') }} as integer) as days_to_close,
        {{ fiscal_quarter_label('close_date') }} as fiscal_quarter_closed,
        {{ fiscal_quarter_label('created_date') }} as fiscal_quarter_created
    from joined
)

select * from final

with opportunities as (
    select * from {{ ref('int_opportunities_enriched') }}
),

final as (
    select
        opportunity_id,
        opportunity_name,
        account_id,
        owner_user_id,
        opportunity_type,
        lead_source,
        stage_name,
        stage_sort_order,
        forecast_category,
        is_closed,
        is_won,
        amount,
        amount_native,
        currency,
        probability,
        expected_amount,
        created_date,
        close_date,
        days_to_close,
        fiscal_quarter_created,
        fiscal_quarter_closed,
        times_close_date_pushed,
        times_reopened
    from opportunities
)

select * from final

with activities as (
    select * from {{ ref('int_activities_matched') }}
),

final as (
    select
        activity_id,
        activity_type,
        direction,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        user_id,
        rep_email,
        contact_id,
        lead_id,
        account_id,
        opportunity_id,
        match_method,
        duration_seconds,
        outcome,
        subject
    from activities
)

select * from final

with users as (
    select * from {{ ref('stg_crm__users') }}
),

roles as (
    select * from {{ ref('stg_crm__user_roles') }}
),

quotas as (
    select * from {{ ref('stg_crm__forecasting_quotas') }}
),

first_quotas as (
    select
        quota_owner_user_id as user_id,
        min(start_date) as first_quota_start_date
    from quotas
    group by quota_owner_user_id
),

final as (
    select
        users.user_id,
        users.user_name,
        users.email,
        users.manager_user_id,
        managers.user_name as manager_name,
        users.user_role_id,
        roles.role_name,
        users.title,
        users.department,
        users.is_active,
        {{ fiscal_quarter_label('first_quotas.first_quota_start_date') }} as first_quota_quarter,
        users.created_at
    from users
    left join users as managers on users.manager_user_id = managers.user_id
    left join roles on users.user_role_id = roles.user_role_id
    left join first_quotas on users.user_id = first_quotas.user_id
)

select * from final

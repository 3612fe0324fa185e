with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

customers as (
    select * from {{ ref('stg_billing__customers') }}
),

-- Stripe customer.metadata.salesforce_account_id is the link; when several customers point at one
-- account, the earliest created is the account's billing customer (the count shows the ambiguity).
ranked_customers as (
    select
        crm_account_id,
        customer_id,
        row_number() over (partition by crm_account_id order by created_at, customer_id) as customer_rank,
        count(*) over (partition by crm_account_id) as billing_customer_count
    from customers
    where crm_account_id is not null
),

final as (
    select
        accounts.account_id,
        accounts.account_name,
        accounts.account_type,
        accounts.industry,
        case
            when accounts.number_of_employees is null then 'Unknown'
            when accounts.number_of_employees < 200 then 'SMB'
            when accounts.number_of_employees < 2000 then 'Mid-Market'
            else 'Enterprise'
        end as segment,
        accounts.billing_country,
        accounts.number_of_employees,
        accounts.annual_revenue,
        accounts.website,
        accounts.website_domain,
        accounts.parent_account_id,
        accounts.owner_user_id,
        ranked_customers.customer_id as billing_customer_id,
        coalesce(ranked_customers.billing_customer_count, 0) as billing_customer_count,
        accounts.created_at
    from accounts
    left join ranked_customers
        on accounts.account_id = ranked_customers.crm_account_id
        and ranked_customers.customer_rank = 1
)

select * from final

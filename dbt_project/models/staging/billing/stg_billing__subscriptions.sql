with source as (
    select * from {{ source('billing', 'subscription') }}
),

-- Deleting a Stripe customer cancels its subscriptions at once, and all a file drop or a pull receives is
-- the customer's deletion stub: the subscriptions of a deleted customer leave with it.
deleted_customers as (
    select id from {{ source('billing', 'customer') }}
    where coalesce(deleted, false)
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as subscription_id,
        cast(customer as {{ dbt.type_string() }}) as customer_id,
        cast(status as {{ dbt.type_string() }}) as status,
        {{ to_utc('created') }} as created_at,
        {{ to_utc('start_date') }} as started_at,
        {{ to_utc('canceled_at') }} as canceled_at,
        {{ to_utc('ended_at') }} as ended_at,
        {{ to_utc('cancel_at') }} as cancel_at,
        {{ to_utc('trial_start') }} as trial_started_at,
        {{ to_utc('trial_end') }} as trial_ended_at,
        {{ stripe_subscription_current_period('start') }} as current_period_start_at,
        {{ stripe_subscription_current_period('end') }} as current_period_end_at,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        -- Stripe list {"object": "list", "data": [subscription items]}; unnested in int_subscription_items_unnested
        items,
        {{ stripe_subscription_discount('coupon.percent_off', 'decimal(38, 9)') }} as discount_percent_off,
        {{ stripe_subscription_discount('coupon.amount_off', 'bigint') }} as discount_amount_off_minor,
        upper({{ stripe_subscription_discount('coupon.currency', 'text') }}) as discount_currency,
        {{ epoch_to_utc(stripe_subscription_discount('start', 'bigint')) }} as discount_start_at,
        {{ epoch_to_utc(stripe_subscription_discount('end', 'bigint')) }} as discount_end_at,
        {{ stripe_subscription_discounts_unvalued() }} as discounts_unvalued,
        nullif(trim({{ json_text('metadata', '$.salesforce_opportunity_id') }}), '') as crm_opportunity_id,
        metadata
    from source
    where not exists (
        select 1 from deleted_customers
        where deleted_customers.id = source.customer
    )
)

select * from renamed

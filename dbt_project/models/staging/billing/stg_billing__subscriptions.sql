with source as (
    select * from {{ source('billing', 'subscription') }}
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
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        -- Stripe list {"object": "list", "data": [subscription items]}; unnested in int_subscription_items_unnested
        items,
        discount,
        nullif(trim({{ json_text('metadata', '$.salesforce_opportunity_id') }}), '') as crm_opportunity_id,
        metadata
    from source
)

select * from renamed

with source as (
    select * from {{ source('billing', 'customer') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as customer_id,
        {{ to_utc('created') }} as created_at,
        cast(email as {{ dbt.type_string() }}) as email,
        lower(trim(email)) as email_normalized,
        cast(name as {{ dbt.type_string() }}) as customer_name,
        upper(cast(currency as {{ dbt.type_string() }})) as currency,
        nullif(trim({{ json_text('metadata', '$.salesforce_account_id') }}), '') as crm_account_id,
        metadata
    from source
    where not coalesce(deleted, false)
)

select * from renamed

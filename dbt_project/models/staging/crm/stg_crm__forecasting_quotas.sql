with source as (
    select * from {{ source('crm', 'forecasting_quota') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as forecasting_quota_id,
        cast(QuotaOwnerId as {{ dbt.type_string() }}) as quota_owner_user_id,
        cast(StartDate as date) as start_date,
        cast(QuotaAmount as decimal(38, 9)) as quota_amount,
        coalesce(upper(nullif(trim(CurrencyIsoCode), '')), {{ corporate_currency() }}) as currency,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
)

select * from renamed

with source as (
    select * from {{ source('crm', 'dated_conversion_rate') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as dated_conversion_rate_id,
        upper(trim(IsoCode)) as iso_code,
        -- units of iso_code per 1 unit of corporate currency
        cast(ConversionRate as decimal(38, 9)) as conversion_rate,
        cast(StartDate as date) as start_date,
        cast(NextStartDate as date) as next_start_date
    from source
)

select * from renamed

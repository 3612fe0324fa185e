with source as (
    select * from {{ source('crm', 'opportunity_line_item') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as opportunity_line_item_id,
        cast(OpportunityId as {{ dbt.type_string() }}) as opportunity_id,
        cast(Product2Id as {{ dbt.type_string() }}) as product_id,
        cast(Quantity as decimal(38, 9)) as quantity,
        cast(UnitPrice as decimal(38, 9)) as unit_price,
        cast(TotalPrice as decimal(38, 9)) as total_price,
        cast(ListPrice as decimal(38, 9)) as list_price,
        cast(Discount as decimal(38, 9)) as discount_percent,
        cast(ServiceDate as date) as service_date,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

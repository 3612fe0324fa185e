with source as (
    select * from {{ source('crm', 'account') }}
),

renamed as (
    select
        cast(Id as {{ dbt.type_string() }}) as account_id,
        cast(Name as {{ dbt.type_string() }}) as account_name,
        cast(Type as {{ dbt.type_string() }}) as account_type,
        cast(Industry as {{ dbt.type_string() }}) as industry,
        cast(BillingCountry as {{ dbt.type_string() }}) as billing_country,
        cast(NumberOfEmployees as bigint) as number_of_employees,
        cast(AnnualRevenue as decimal(38, 9)) as annual_revenue,
        cast(OwnerId as {{ dbt.type_string() }}) as owner_user_id,
        cast(ParentId as {{ dbt.type_string() }}) as parent_account_id,
        cast(Website as {{ dbt.type_string() }}) as website,
        {{ url_domain('Website') }} as website_domain,
        {{ to_utc('CreatedDate') }} as created_at,
        {{ to_utc('SystemModstamp') }} as modified_at
    from source
    where not coalesce(IsDeleted, false)
)

select * from renamed

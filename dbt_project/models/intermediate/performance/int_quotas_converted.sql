-- ForecastingQuota in corporate currency (rate valid on the quota period's start date), summed per owner and
-- fiscal quarter, so monthly and quarterly quota periods both roll up to the quarter they start in.
with quotas as (
    select * from {{ ref('stg_crm__forecasting_quotas') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

converted as (
    select
        quotas.quota_owner_user_id as user_id,
        {{ fiscal_quarter_label('quotas.start_date') }} as fiscal_quarter,
        {{ to_corporate('quotas.quota_amount', 'quotas.currency', 'rates.conversion_rate') }} as quota
    from quotas
    left join rates
        on quotas.currency = rates.iso_code
        and quotas.start_date >= rates.start_date
        and quotas.start_date < rates.next_start_date
),

final as (
    select
        user_id,
        fiscal_quarter,
        {{ money('sum(quota)') }} as quota
    from converted
    group by user_id, fiscal_quarter
)

select * from final

with source as (
    select * from {{ source('activity', 'event') }}
),

renamed as (
    select
        cast(id as {{ dbt.type_string() }}) as activity_id,
        lower(cast(type as {{ dbt.type_string() }})) as activity_type,
        lower(cast(direction as {{ dbt.type_string() }})) as direction,
        {{ to_utc('occurred_at') }} as occurred_at,
        {{ to_utc('updated_at') }} as updated_at,
        lower(trim(rep_email)) as rep_email,
        -- JSON array of external participants' e-mails
        participant_emails,
        nullif(trim(crm_account_id), '') as crm_account_id,
        nullif(trim(crm_opportunity_id), '') as crm_opportunity_id,
        cast(duration_seconds as bigint) as duration_seconds,
        lower(cast(outcome as {{ dbt.type_string() }})) as outcome,
        cast(subject as {{ dbt.type_string() }}) as subject,
        -- the loader's hash of this version's content: any re-delivered change shows, even under the same updated_at
        _record_hash as record_hash
    from source
    where not coalesce(is_deleted, false)
)

select * from renamed

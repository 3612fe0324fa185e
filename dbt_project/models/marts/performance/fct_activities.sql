-- Incremental: rewrites the activities whose row in int_activities_matched differs from the one held here (compared
-- by fingerprint, so a re-match that changed nothing writes nothing) and removes those no longer there. Rows with a
-- null match_method are removal markers, deleted by the post-hook before the transaction commits.
{{ config(
    materialized='incremental',
    unique_key='activity_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_from(this, 'match_method is null') }}",
) }}

with activities as (
    select * from {{ ref('int_activities_matched') }}
),

{% if is_incremental() %}
compared as (
    select
        coalesce(activities.activity_id, held.activity_id) as activity_id,
        activities.activity_id is null as is_removed
    from activities
    full outer join (
        select
            activity_id,
            {{ row_fingerprint(fct_activities_fingerprint_columns()) }} as row_fingerprint
        from {{ this }}
    ) as held on activities.activity_id = held.activity_id
    where activities.row_fingerprint is distinct from held.row_fingerprint
),

changed as (
    select activities.*
    from activities
    inner join compared on activities.activity_id = compared.activity_id
    where not compared.is_removed
),
{% else %}
-- noqa: disable=LT02
changed as (
    select * from activities
),
-- noqa: enable=LT02
{% endif %}

final as (
    select
        activity_id,
        activity_type,
        direction,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        user_id,
        rep_email,
        contact_id,
        lead_id,
        account_id,
        opportunity_id,
        match_method,
        duration_seconds,
        outcome,
        subject
    from changed
    {% if is_incremental() %}
    union all
    select
        activity_id,
        cast(null as {{ dbt.type_string() }}) as activity_type,
        cast(null as {{ dbt.type_string() }}) as direction,
        cast(null as timestamp) as occurred_at,
        cast(null as date) as occurred_date,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_string() }}) as rep_email,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as opportunity_id,
        cast(null as {{ dbt.type_string() }}) as match_method,
        cast(null as bigint) as duration_seconds,
        cast(null as {{ dbt.type_string() }}) as outcome,
        cast(null as {{ dbt.type_string() }}) as subject
    from compared
    where is_removed
    {% endif %}
)

select * from final

-- One row per external participant of a live activity event (position 0 with no e-mail for an event without any, so
-- that every live event is listed with the version it was read at): the index that finds the events a changed
-- Contact/Lead e-mail or Account domain affects, and the list of live event versions int_activities_matched compares
-- itself with. Incremental: only events whose current version (record_hash, the loader's content hash) differs from
-- the one held are read and unnested again; events no longer live are removed. Rows with a null
-- participant_position are removal markers, deleted by the post-hook before the transaction commits. A column
-- added by a newer version of this model arrives empty in an older table: every event then looks changed.
{{ config(
    materialized='incremental',
    unique_key='activity_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_from(this, 'participant_position is null') }}",
) }}

{% if is_incremental() %}
    {#- Events new, changed or gone since the last run: only (id, version) is read from every event. -#}
    {% set changed_ids_query %}
        select coalesce(live.activity_id, held.activity_id)
        from (select activity_id, record_hash from {{ ref('stg_activity__events') }}) as live
        full outer join (
            select activity_id, event_record_hash from {{ this }} where participant_position <= 1
        ) as held on live.activity_id = held.activity_id
        where live.record_hash is distinct from held.event_record_hash
    {% endset %}
    {% set changed_filter = ids_in('activity_id', changed_ids_query) %}
{% endif %}

with events as {{ cte_materialized() }} (
    select
        activity_id,
        updated_at,
        record_hash,
        participant_emails
    from {{ ref('stg_activity__events') }}
    {% if is_incremental() %}
    where {{ changed_filter }}
    {% endif %}
),

elements as (
    {{ json_array_text_elements('events', 'activity_id', 'participant_emails',
        position='participant_position', element='participant_email_raw') }}
),

participants as (
    select
        elements.activity_id,
        cast(elements.participant_position as bigint) as participant_position,
        lower(trim(elements.participant_email_raw)) as participant_email
    from elements

    union all

    select
        activity_id,
        cast(0 as bigint) as participant_position,
        cast(null as {{ dbt.type_string() }}) as participant_email
    from events
    where events.activity_id not in (select elements.activity_id from elements)
),

final as (
    select
        participants.activity_id,
        participants.participant_position,
        participants.participant_email,
        {{ participant_email_domain('participants.participant_email') }} as participant_domain,
        events.updated_at as event_updated_at,
        events.record_hash as event_record_hash
    from participants
    inner join events on participants.activity_id = events.activity_id
    {% if is_incremental() %}
    union all
    -- held events no longer live
    select
        activity_id,
        cast(null as bigint) as participant_position,
        cast(null as {{ dbt.type_string() }}) as participant_email,
        cast(null as {{ dbt.type_string() }}) as participant_domain,
        cast(null as timestamp) as event_updated_at,
        cast(null as {{ dbt.type_string() }}) as event_record_hash
    from {{ this }}
    where {{ changed_filter }}
        and participant_position <= 1
        and activity_id not in (select activity_id from events)
    {% endif %}
)

select * from final

-- Engagement events tied to CRM records. The rep by e-mail (User.Email, case-insensitive). The account,
-- in order of trust: the CRM ids the tool sent (crm_id), a participant's e-mail matching a Contact or a
-- Lead (email), a participant's e-mail domain matching exactly one Account website (domain); else unmatched.
-- Among several participants the first one in the list that matches wins. The lookups come from
-- int_activity_match_keys.
--
-- Incremental: re-matches (a) the events whose live version (int_activity_participants.event_record_hash) differs
-- from the one held (new, changed or gone), and (b) the events that use a key (rep e-mail, participant e-mail or
-- domain, CRM account or opportunity id) that int_activity_match_keys saw change since this table last matched
-- anything (matched_at). Only those events are read from staging. Rows with a null row_fingerprint are removal
-- markers for events no longer live, deleted by the post-hook before the transaction commits.
{{ config(
    materialized='incremental',
    unique_key='activity_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook="{{ delete_from(this, 'row_fingerprint is null') }}",
) }}
-- depends_on: {{ ref('int_activity_participants') }}

{% if is_incremental() %}
    {% set rematch_ids_query %}
        with changed_keys as (
            select key_type, match_key
            from {{ ref('int_activity_match_keys') }}
            where changed_at > (select max(matched_at) from {{ this }})
        ),

        held as (
            select activity_id, event_record_hash, rep_email, sent_crm_account_id, sent_crm_opportunity_id
            from {{ this }}
        )

        -- new, changed or gone: one equi-join per key type below, as an OR of them would not hash-join
        select coalesce(live.activity_id, held.activity_id)
        from (
            select activity_id, event_record_hash
            from {{ ref('int_activity_participants') }}
            where participant_position <= 1
        ) as live
        full outer join held on live.activity_id = held.activity_id
        where live.event_record_hash is distinct from held.event_record_hash
        union
        select held.activity_id from held
        inner join changed_keys on changed_keys.key_type = 'rep_email' and held.rep_email = changed_keys.match_key
        union
        select held.activity_id from held
        inner join changed_keys
            on changed_keys.key_type = 'crm_account_id' and held.sent_crm_account_id = changed_keys.match_key
        union
        select held.activity_id from held
        inner join changed_keys
            on changed_keys.key_type = 'crm_opportunity_id' and held.sent_crm_opportunity_id = changed_keys.match_key
        union
        select participants.activity_id from {{ ref('int_activity_participants') }} as participants
        inner join changed_keys
            on changed_keys.key_type = 'participant_email' and participants.participant_email = changed_keys.match_key
        union
        select participants.activity_id from {{ ref('int_activity_participants') }} as participants
        inner join changed_keys
            on changed_keys.key_type = 'participant_domain' and participants.participant_domain = changed_keys.match_key
    {% endset %}
    {%- set held_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {#- int_activity_match_keys rebuilt from scratch since the last match (a full refresh of it alone, a dropped
        table): keys that stopped resolving are no longer listed as changed, so only a full re-match is safe -#}
    {%- set keys_rebuilt = false -%}
    {%- if execute and 'matched_at' in held_columns -%}
        {%- set keys_rebuilt = run_query(
            'select coalesce((select min(changed_at) from ' ~ ref('int_activity_match_keys')
            ~ ') > (select max(matched_at) from ' ~ this ~ '), false)').columns[0].values()[0] -%}
    {%- endif -%}
    {%- if 'row_fingerprint' in held_columns and not keys_rebuilt -%}
        {% set rematch_filter = ids_in('activity_id', rematch_ids_query) %}
    {%- else -%}
        {#- a table from before this model was incremental (its new columns are added), or keys rebuilt: re-match
            everything once -#}
        {% set rematch_filter = 'true' %}
    {%- endif -%}
{% endif %}

with events as {{ cte_materialized() }} (
    select *
    from {{ ref('stg_activity__events') }}
    {% if is_incremental() %}
    where {{ rematch_filter }}
    {% endif %}
),

match_keys as (
    select * from {{ ref('int_activity_match_keys') }}
    where is_current
),

users_by_email as (
    select
        match_key as email_normalized,
        user_id
    from match_keys
    where key_type = 'rep_email'
),

emails as (
    select
        match_key as email_normalized,
        contact_id,
        lead_id,
        account_id
    from match_keys
    where key_type = 'participant_email'
),

accounts_by_domain as (
    select
        match_key as website_domain,
        account_id
    from match_keys
    where key_type = 'participant_domain'
),

crm_accounts as (
    select account_id from match_keys
    where key_type = 'crm_account_id'
),

crm_opportunities as (
    select
        match_key as opportunity_id,
        account_id
    from match_keys
    where key_type = 'crm_opportunity_id'
),

participants as (
    select
        activity_id,
        participant_position,
        lower(trim(participant_email_raw)) as participant_email
    from (
        {{ json_array_text_elements('events', 'activity_id', 'participant_emails',
            position='participant_position', element='participant_email_raw') }}
    ) as participant_elements
),

participant_matches as {{ cte_materialized() }} (
    select
        participants.activity_id,
        participants.participant_position,
        emails.contact_id,
        emails.account_id as email_account_id,
        emails.lead_id,
        accounts_by_domain.account_id as domain_account_id
    from participants
    left join emails on participants.participant_email = emails.email_normalized
    left join accounts_by_domain
        on {{ participant_email_domain('participants.participant_email') }} = accounts_by_domain.website_domain
),

first_matches as (
    select
        activity_id,
        min(case when contact_id is not null then participant_position end) as contact_position,
        min(case when contact_id is not null or lead_id is not null then participant_position end)
            as email_position,
        min(case when domain_account_id is not null then participant_position end) as domain_position
    from participant_matches
    group by activity_id
),

resolved as (
    select
        events.activity_id,
        events.activity_type,
        events.direction,
        events.occurred_at,
        events.rep_email,
        users_by_email.user_id,
        contact_match.contact_id,
        email_match.lead_id,
        crm_opportunities.opportunity_id,
        coalesce(crm_accounts.account_id, crm_opportunities.account_id) as crm_account_id,
        email_match.email_account_id,
        domain_match.domain_account_id,
        (crm_accounts.account_id is not null or crm_opportunities.opportunity_id is not null) as has_crm_id,
        email_match.activity_id is not null as has_email_match,
        events.duration_seconds,
        events.outcome,
        events.subject,
        events.updated_at,
        events.record_hash,
        events.crm_account_id as sent_crm_account_id,
        events.crm_opportunity_id as sent_crm_opportunity_id
    from events
    left join users_by_email on events.rep_email = users_by_email.email_normalized
    left join crm_accounts on events.crm_account_id = crm_accounts.account_id
    left join crm_opportunities on events.crm_opportunity_id = crm_opportunities.opportunity_id
    left join first_matches on events.activity_id = first_matches.activity_id
    left join participant_matches as contact_match
        on first_matches.activity_id = contact_match.activity_id
        and first_matches.contact_position = contact_match.participant_position
    left join participant_matches as email_match
        on first_matches.activity_id = email_match.activity_id
        and first_matches.email_position = email_match.participant_position
    left join participant_matches as domain_match
        on first_matches.activity_id = domain_match.activity_id
        and first_matches.domain_position = domain_match.participant_position
),

matched as (
    select
        activity_id,
        activity_type,
        direction,
        occurred_at,
        rep_email,
        user_id,
        contact_id,
        lead_id,
        case
            when has_crm_id then crm_account_id
            when has_email_match then email_account_id
            else domain_account_id
        end as account_id,
        opportunity_id,
        case
            when has_crm_id then 'crm_id'
            when has_email_match then 'email'
            when domain_account_id is not null then 'domain'
            else 'unmatched'
        end as match_method,
        duration_seconds,
        outcome,
        subject,
        updated_at,
        record_hash,
        sent_crm_account_id,
        sent_crm_opportunity_id
    from resolved
),

final as (
    select
        activity_id,
        activity_type,
        direction,
        occurred_at,
        rep_email,
        user_id,
        contact_id,
        lead_id,
        account_id,
        opportunity_id,
        match_method,
        duration_seconds,
        outcome,
        subject,
        -- bookkeeping of the incremental runs (not in fct_activities)
        sent_crm_account_id,
        sent_crm_opportunity_id,
        updated_at as event_updated_at,
        record_hash as event_record_hash,
        {{ row_fingerprint(fct_activities_fingerprint_columns()) }} as row_fingerprint,
        {{ invocation_started_at() }} as matched_at
    from matched
    {% if is_incremental() %}
    union all
    -- held events no longer live
    select
        activity_id,
        cast(null as {{ dbt.type_string() }}) as activity_type,
        cast(null as {{ dbt.type_string() }}) as direction,
        cast(null as timestamp) as occurred_at,
        cast(null as {{ dbt.type_string() }}) as rep_email,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as opportunity_id,
        cast(null as {{ dbt.type_string() }}) as match_method,
        cast(null as bigint) as duration_seconds,
        cast(null as {{ dbt.type_string() }}) as outcome,
        cast(null as {{ dbt.type_string() }}) as subject,
        cast(null as {{ dbt.type_string() }}) as sent_crm_account_id,
        cast(null as {{ dbt.type_string() }}) as sent_crm_opportunity_id,
        cast(null as timestamp) as event_updated_at,
        cast(null as {{ dbt.type_string() }}) as event_record_hash,
        null as row_fingerprint,
        {{ invocation_started_at() }} as matched_at
    from {{ this }}
    where {{ rematch_filter }}
        and activity_id not in (select activity_id from events)
    {% endif %}
)

select * from final

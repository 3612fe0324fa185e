-- Every key an activity is matched by, with what it currently resolves to and when that last changed: a rep e-mail
-- (User), a participant e-mail (Contact / Lead), a participant e-mail domain (Account website, unique domains only),
-- a CRM Account id, a CRM Opportunity id (its Account). The lookups are small and recomputed in full on every run;
-- an incremental run writes a key again only when what it resolves to changed (changed_at = this dbt invocation's
-- start). A key that stops resolving (record deleted, e-mail changed, domain no longer unique) stays as a row with
-- is_current = false and no values, so that int_activities_matched re-matches the activities that used it.
{{ config(
    materialized='incremental',
    unique_key=['key_type', 'match_key'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with {{ activity_match_lookup_ctes() }},

resolved as (
    select
        'rep_email' as key_type,
        email_normalized as match_key,
        user_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        cast(null as {{ dbt.type_string() }}) as account_id
    from users_by_email

    union all

    select
        'participant_email' as key_type,
        coalesce(contacts_by_email.email_normalized, leads_by_email.email_normalized) as match_key,
        cast(null as {{ dbt.type_string() }}) as user_id,
        contacts_by_email.contact_id,
        leads_by_email.lead_id,
        -- a contact's account, else the account its lead was converted to
        coalesce(contacts_by_email.account_id, leads_by_email.converted_account_id) as account_id
    from contacts_by_email
    full outer join leads_by_email on contacts_by_email.email_normalized = leads_by_email.email_normalized

    union all

    select
        'participant_domain' as key_type,
        website_domain as match_key,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        account_id
    from accounts_by_domain

    union all

    select
        'crm_account_id' as key_type,
        account_id as match_key,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        account_id
    from crm_accounts
    where account_id is not null

    union all

    select
        'crm_opportunity_id' as key_type,
        opportunity_id as match_key,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        account_id
    from crm_opportunities
    where opportunity_id is not null
),

{% if is_incremental() %}
changed as (
    select
        coalesce(resolved.key_type, held.key_type) as key_type,
        coalesce(resolved.match_key, held.match_key) as match_key,
        resolved.match_key is not null as is_current,
        resolved.user_id,
        resolved.contact_id,
        resolved.lead_id,
        resolved.account_id
    from resolved
    full outer join {{ this }} as held
        on resolved.key_type = held.key_type
        and resolved.match_key = held.match_key
    where
        (resolved.match_key is null and held.is_current)
        or (
            resolved.match_key is not null
            and (
                held.match_key is null
                or not held.is_current
                or resolved.user_id is distinct from held.user_id
                or resolved.contact_id is distinct from held.contact_id
                or resolved.lead_id is distinct from held.lead_id
                or resolved.account_id is distinct from held.account_id
            )
        )
),
{% else %}
-- noqa: disable=LT02
changed as (
    select
        *,
        true as is_current
    from resolved
),
-- noqa: enable=LT02
{% endif %}

final as (
    select
        cast(key_type as {{ dbt.type_string() }}) as key_type,
        cast(match_key as {{ dbt.type_string() }}) as match_key,
        is_current,
        user_id,
        contact_id,
        lead_id,
        account_id,
        {{ invocation_started_at() }} as changed_at
    from changed
)

select * from final

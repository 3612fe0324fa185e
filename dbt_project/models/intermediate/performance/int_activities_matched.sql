-- Engagement events tied to CRM records. The rep by e-mail (User.Email, case-insensitive). The account,
-- in order of trust: the CRM ids the tool sent (crm_id), a participant's e-mail matching a Contact or a
-- Lead (email), a participant's e-mail domain matching exactly one Account website (domain); else unmatched.
-- Among several participants the first one in the list that matches wins.
with events as (
    select * from {{ ref('stg_activity__events') }}
),

users as (
    select * from {{ ref('stg_crm__users') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

leads as (
    select * from {{ ref('stg_crm__leads') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

opportunities as (
    select * from {{ ref('stg_crm__opportunities') }}
),

users_by_email as (
    select
        email_normalized,
        min(user_id) as user_id
    from users
    where email_normalized is not null
    group by email_normalized
),

contacts_by_email as (
    select
        email_normalized,
        contact_id,
        account_id
    from (
        select
            *,
            row_number() over (partition by email_normalized order by created_at, contact_id) as email_rank
        from contacts
        where email_normalized is not null
    ) as ranked
    where email_rank = 1
),

leads_by_email as (
    select
        email_normalized,
        lead_id,
        converted_account_id
    from (
        select
            *,
            row_number() over (partition by email_normalized order by created_at, lead_id) as email_rank
        from leads
        where email_normalized is not null
    ) as ranked
    where email_rank = 1
),

accounts_by_domain as (
    select
        website_domain,
        min(account_id) as account_id
    from accounts
    where website_domain is not null
    group by website_domain
    having count(*) = 1
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

participant_matches as (
    select
        participants.activity_id,
        participants.participant_position,
        contacts_by_email.contact_id,
        coalesce(contacts_by_email.account_id, leads_by_email.converted_account_id) as email_account_id,
        leads_by_email.lead_id,
        accounts_by_domain.account_id as domain_account_id
    from participants
    left join contacts_by_email on participants.participant_email = contacts_by_email.email_normalized
    left join leads_by_email on participants.participant_email = leads_by_email.email_normalized
    left join accounts_by_domain
        on {{ url_domain("split_part(participants.participant_email, '@', 2)") }} = accounts_by_domain.website_domain
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
        events.subject
    from events
    left join users_by_email on events.rep_email = users_by_email.email_normalized
    left join accounts as crm_accounts on events.crm_account_id = crm_accounts.account_id
    left join opportunities as crm_opportunities
        on events.crm_opportunity_id = crm_opportunities.opportunity_id
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
        subject
    from resolved
)

select * from final

{#- Shared pieces of the incremental activity matching (int_activity_participants, int_activity_match_keys,
    int_activities_matched, fct_activities). -#}

{#- The CRM lookups an activity is matched with, as CTEs (append after `with` or a comma); int_activity_match_keys
    persists them, with when each key last changed. -#}
{% macro activity_match_lookup_ctes() -%}
users_by_email as (
    select
        email_normalized,
        min(user_id) as user_id
    from {{ ref('stg_crm__users') }}
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
        from {{ ref('stg_crm__contacts') }}
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
        from {{ ref('stg_crm__leads') }}
        where email_normalized is not null
    ) as ranked
    where email_rank = 1
),

accounts_by_domain as (
    select
        website_domain,
        min(account_id) as account_id
    from {{ ref('stg_crm__accounts') }}
    where website_domain is not null
    group by website_domain
    having count(*) = 1
),

crm_accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

crm_opportunities as (
    select
        opportunity_id,
        account_id
    from {{ ref('stg_crm__opportunities') }}
)
{%- endmacro %}

{#- The domain a participant e-mail falls back to (matched against Account.Website domains). -#}
{% macro participant_email_domain(email) -%}
    {{ url_domain("split_part(" ~ email ~ ", '@', 2)") }}
{%- endmacro %}

{#- This dbt invocation's start as a timestamp: the same value in every model of one `dbt build`, later in
    every later invocation. Marks when a lookup key changed and when an activity was (re)matched. -#}
{% macro invocation_started_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The columns of fct_activities that come from int_activities_matched (occurred_date is derived), in one order:
    int_activities_matched stores their fingerprint, fct_activities recomputes it over its own rows. -#}
{% macro fct_activities_fingerprint_columns() -%}
    {{ return(['activity_id', 'activity_type', 'direction', 'occurred_at', 'user_id', 'rep_email', 'contact_id',
        'lead_id', 'account_id', 'opportunity_id', 'match_method', 'duration_seconds', 'outcome', 'subject']) }}
{%- endmacro %}

{#- A predicate `column in (...)` restricting an incremental run to the ids `ids_query` returns (one column).
    The ids are read at compile time and written into the SQL as constants, because only constants are pushed
    through the window of a current-version staging view: a join or subquery there would make DuckDB rank every
    version of every record first. Past `max_inline` ids the predicate is the subquery itself (a rebuild-sized
    change costs a full read anyway). -#}
{% macro ids_in(column, ids_query, max_inline=100000) -%}
    {%- if not execute -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set result = run_query('select cast(ids.id as ' ~ dbt.type_string() ~ ') from (' ~ ids_query ~ ') as ids(id) limit '
        ~ (max_inline + 1)) -%}
    {%- set ids = result.columns[0].values() -%}
    {%- if ids | length == 0 -%}
        {{ return('false') }}
    {%- elif ids | length > max_inline -%}
        {{ return(column ~ ' in (select ids.id from (' ~ ids_query ~ ') as ids(id))') }}
    {%- endif -%}
    {%- set present = ids | reject('none') | list -%}
    {%- if not present -%}
        {{ return('false') }}
    {%- endif -%}
    {{ return(column ~ ' in (' ~ string_literals(present) ~ ')') }}
{%- endmacro %}

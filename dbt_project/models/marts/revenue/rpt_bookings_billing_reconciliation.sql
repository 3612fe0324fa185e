-- Each won opportunity (closed on or before the as-of date) against what billing invoiced for it. The first
-- invoice is the first one billing money (not draft or void, total > 0) of the subscription created for the
-- opportunity (subscription.metadata.salesforce_opportunity_id) or, without such a subscription, of the
-- account's billing customer (customer.metadata.salesforce_account_id) dated on or after the close date, and
-- what its charges collected (linked to the invoice in either Stripe API shape: int_charges_linked).
-- Empty while no invoice has been delivered at all.
with opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

charges as (
    select * from {{ ref('int_recurring_charges_normalized') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

linked_charges as (
    select * from {{ ref('int_charges_linked') }}
),

opportunity_subscriptions as (
    select
        crm_opportunity_id as opportunity_id,
        min(subscription_id) as subscription_id,
        min(customer_id) as customer_id
    from subscriptions
    where crm_opportunity_id is not null
    group by crm_opportunity_id
),

won as (
    select
        opportunities.opportunity_id,
        opportunities.account_id,
        opportunities.opportunity_type,
        opportunities.owner_user_id,
        opportunities.close_date,
        opportunities.amount,
        opportunity_subscriptions.subscription_id as linked_subscription_id,
        coalesce(opportunity_subscriptions.customer_id, accounts.billing_customer_id) as billing_customer_id
    from opportunities
    left join accounts on opportunities.account_id = accounts.account_id
    left join opportunity_subscriptions on opportunities.opportunity_id = opportunity_subscriptions.opportunity_id
    where
        opportunities.is_won
        and opportunities.close_date <= {{ as_of_date() }}
        -- without any billing data delivered there is nothing to reconcile against (CRM-only installs)
        and exists (select 1 from invoices)
),

billable_invoices as (
    select
        invoice_id,
        customer_id,
        subscription_id,
        currency,
        cast(created_at as date) as invoice_date
    from invoices
    where
        status not in ('draft', 'void')
        and total > 0
        and cast(created_at as date) <= {{ as_of_date() }}
),

invoice_recurring as (
    select
        invoice_id,
        sum(monthly_amount) as monthly_recurring_native
    from charges
    where invoice_id is not null
    group by invoice_id
),

invoice_collected as (
    -- what the invoice's successful charges brought in, net of refunds (charge <-> invoice in either API shape)
    select
        invoice_id,
        sum(amount - amount_refunded) as collected_native
    from linked_charges
    where invoice_id is not null and status = 'succeeded'
    group by invoice_id
),

candidate_invoices as (
    -- the opportunity's own subscription
    select
        won.opportunity_id,
        billable_invoices.invoice_id,
        billable_invoices.invoice_date,
        billable_invoices.currency
    from won
    inner join billable_invoices on won.linked_subscription_id = billable_invoices.subscription_id
    union all
    -- else the account's billing customer, from the close date on
    select
        won.opportunity_id,
        billable_invoices.invoice_id,
        billable_invoices.invoice_date,
        billable_invoices.currency
    from won
    inner join billable_invoices
        on won.billing_customer_id = billable_invoices.customer_id
        and billable_invoices.invoice_date >= won.close_date
    where won.linked_subscription_id is null
),

first_invoices as (
    select
        *,
        row_number() over (partition by opportunity_id order by invoice_date, invoice_id) as invoice_rank
    from candidate_invoices
),

billed as (
    select
        first_invoices.opportunity_id,
        first_invoices.invoice_id as first_invoice_id,
        first_invoices.invoice_date as first_invoice_date,
        -- ARR = 12 x the recurring amount per month the invoice bills, at the rate valid on the invoice date
        12 * {{ to_corporate(
            'coalesce(invoice_recurring.monthly_recurring_native, 0)', 'first_invoices.currency', 'rates.conversion_rate'
        ) }} as billed_arr,
        {{ to_corporate(
            'coalesce(invoice_collected.collected_native, 0)', 'first_invoices.currency', 'rates.conversion_rate'
        ) }} as collected
    from first_invoices
    left join invoice_recurring on first_invoices.invoice_id = invoice_recurring.invoice_id
    left join invoice_collected on first_invoices.invoice_id = invoice_collected.invoice_id
    left join rates
        on first_invoices.currency = rates.iso_code
        and first_invoices.invoice_date >= rates.start_date
        and first_invoices.invoice_date < rates.next_start_date
    where first_invoices.invoice_rank = 1
),

joined as (
    select
        won.opportunity_id,
        won.account_id,
        won.billing_customer_id,
        won.opportunity_type,
        won.owner_user_id,
        won.close_date,
        billed.first_invoice_id,
        billed.first_invoice_date,
        cast({{ dbt.datediff('won.close_date', 'billed.first_invoice_date', 'day') }} as integer) as days_to_first_invoice,
        -- the opportunity amount is its annual contract value
        {{ money('won.amount') }} as booked_arr,
        {{ money('billed.billed_arr') }} as billed_arr,
        {{ money('billed.collected') }} as first_invoice_collected
    from won
    left join billed on won.opportunity_id = billed.opportunity_id
),

final as (
    select
        *,
        {{ money('billed_arr - coalesce(booked_arr, 0)') }} as variance,
        case
            when billing_customer_id is null then 'unmatched_customer'
            when first_invoice_id is null then 'unbilled'
            when
                abs(billed_arr - coalesce(booked_arr, 0))
                > {{ var('reconciliation_tolerance', 0.01) }} * abs(coalesce(booked_arr, 0)) then 'amount_mismatch'
            else 'matched'
        end as status
    from joined
)

select * from final

-- One row per Stripe charge and the invoice it paid (invoice_id null for a charge of no invoice; a payment intent
-- paying several invoices gives one row per invoice). The link is `charge.invoice` in Stripe API versions before
-- 2025-03-31.basil and the invoice's invoice_payments from it (stripe_invoice_charge_links), so either shape, or a
-- mix of both, links the same charges to the same invoices.
with charges as (
    select * from {{ ref('stg_billing__charges') }}
),

invoice_payments as (
    select * from {{ ref('stg_billing__invoice_payments') }}
),

links as (
    {{ stripe_invoice_charge_links('charges', 'invoice_payments') }}
),

final as (
    select
        charges.charge_id,
        links.invoice_id,
        charges.customer_id,
        charges.currency,
        charges.amount,
        charges.amount_refunded,
        charges.status,
        charges.is_paid,
        charges.created_at
    from charges
    left join links on charges.charge_id = links.charge_id
)

select * from final

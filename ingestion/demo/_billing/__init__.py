"""The Stripe side of the demo world: won CRM deals become customers with subscriptions that live, change and end.

Subscriptions are simulated as period grids (lifecycle), invoices are paid or not (payments), and every object
is written as the versions a Stripe list sync would have seen at each quarterly extraction, in the shape of
the requested Stripe API version (shape).

All draws of the main stream happen in the order `build_and_write` calls the steps; payment intents and
invoice payments draw from a stream of their own, so both API versions describe the same account.
"""

from __future__ import annotations

from ...sources import stripe_versions
from .._common import QUARTER_CUTS, Writer, rng_for, stripe_ids
from .._crm import Crm
from . import catalog, charges, customers, invoices, lifecycle, payments, subscriptions
from .catalog import CUR


def build_and_write(
    w: Writer, crm: Crm, seed: int, scale: float, stripe_api_version: str = stripe_versions.CURRENT
) -> None:
    """Write billing/<object>/ in the shape `stripe_api_version` answers in (the same account in every version)."""
    basil = stripe_versions.is_basil_or_later(stripe_api_version)
    rng = rng_for(seed, 2)
    cat, lookup = catalog.price_catalog(rng)
    cust = customers.from_first_wins(rng, crm)
    p1 = customers.first_plans(rng, crm, cust, lookup)
    s1 = lifecycle.simulate(rng, p1, cat, lookup)
    back, p2 = customers.reactivations(rng, p1, s1, lookup)
    s2 = lifecycle.simulate(rng, p2, cat, lookup)
    subs = lifecycle.merge(rng, p1, s1, p2, s2)
    pay = payments.settle(rng, subs)
    ch = payments.charges(rng, pay["inv"], pay)

    customers.write(w, rng, crm, cust, s1, back)
    prod_ids = catalog.write_products(w, rng)
    catalog.register_prices(w, cat, prod_ids)
    catalog.write_prices(w, cat)
    subscriptions.write(w, crm, cust, subs, QUARTER_CUTS, basil)
    invoices.write(w, rng, subs, pay, cust, QUARTER_CUTS, basil)
    # Every invoice billing money gets a payment intent at finalization; its charges are the attempts to pay it.
    pay_rng = rng_for(seed, 3)
    n_i = len(pay["ids"])
    pi_ids = stripe_ids("pi_", pay_rng, n_i, 24)
    inpay_ids = stripe_ids("inpay_", pay_rng, n_i, 24)
    currency = CUR[subs["P"]["cur"][pay["inv"]["sub"]]]
    charges.write(w, ch, pay, cust, currency, pi_ids, QUARTER_CUTS, basil)
    if basil:
        invoices.write_payments(w, pay, currency, pi_ids, inpay_ids, QUARTER_CUTS)
    charges.write_refunds(w, rng, ch, currency, QUARTER_CUTS)
    w.con.unregister("price_s")

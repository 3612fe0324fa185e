"""The Salesforce side of the demo world: sales org, accounts, pipeline with full history, all as versions.

Every object is produced as a table of *versions* (one row per state a record was in, stamped with the
instant it took that state). Writing then slices versions into extraction batches, so deltas carry
real updates and deletes rather than copies.

All draws come from one random stream, in the order `build` calls the steps: a step moved or a draw added
changes everything after it (the byte-identical output test says so at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._common import rng_for
from . import accounts, amounts, history, opportunities, org, people, reference
from .accounts import Accounts
from .amounts import FX_LIST
from .common import Emit
from .opportunities import STAGES, WON, Opportunities
from .org import Users
from .people import Contacts, Leads

__all__ = ["FX_LIST", "STAGES", "WON", "Crm", "build"]


@dataclass
class Crm:
    """What billing and activity build on."""

    users: Users
    accounts: Accounts
    contacts: Contacts
    leads: Leads
    opps: Opportunities


def build(scale: float, seed: int, emit: Emit) -> Crm:
    """Simulate the CRM; each object's version table goes to `emit(object, table)` as soon as it is built."""
    rng = rng_for(seed, 1)
    users = org.build(rng, scale, emit)
    acc, companies = accounts.build(rng, users, scale)
    deals = opportunities.draw(rng, users, acc, scale)
    o_type, won = opportunities.type_and_outcome(rng, deals, users.skill)
    acc.created = accounts.created_before_first_deal(rng, acc, deals.acc, deals.t0)
    course = opportunities.course(rng, deals, o_type, won)
    items = amounts.draw(rng, deals, o_type, course.tc)
    ev = history.events(rng, deals, course, items, won)
    stage, last_ts, n_events = history.current(ev, deals.n)
    opps = opportunities.settle(rng, deals, o_type, items.tier, items.seats, course, stage, last_ts, n_events)
    history.write_opportunities(emit, opps, ev, acc, users.ids, course.tc)
    history.write_history(emit, opps, ev, users.ids)
    amounts.write_line_items(emit, items, opps, course)
    acc.first_win = accounts.first_wins(acc, opps.acc, opps.win_ts)
    accounts.write(emit, acc, users.ids)

    contacts = people.build_contacts(rng, acc)
    leads = people.build_leads(rng, scale, users, acc, companies, contacts, opps)
    people.write_leads(emit, leads, users.ids, acc, contacts, opps)
    people.write_contacts(rng, emit, contacts, acc, users.ids)

    reference.write_products(emit)
    reference.write_stages(emit)
    reference.write_quotas(rng, emit, users)
    reference.write_rates(rng, emit)
    return Crm(users=users, accounts=acc, contacts=contacts, leads=leads, opps=opps)

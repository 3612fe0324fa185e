"""Which contract fields a Stripe object carries, and in what order, in the API version the demo writes.

The field names come from ingestion/contract.py; each writer gives the SQL expression of every field the
object has in its API version (the ones Stripe moved in ``2025-03-31.basil`` are in one shape only,
shared/contracts/sources.md "Stripe API versions"). Keys are written in the contract's order, with two
exceptions that keep Stripe's own layout: a field that replaces another from basil on stands where the one
it replaces stood, and an invoice payment (an object that only exists from basil on) lists its fields as
Stripe does, `id` and `object` first, then alphabetically.
"""

from __future__ import annotations

from ...contract import object_for
from .._common import json_select

# from basil on -> the field it replaces (and whose place it takes)
REPLACES = {"discounts": "discount", "parent": "subscription"}
_ALPHABETICAL = {"invoice_payments"}


def select(folder: str, fields: dict[str, str]) -> str:
    """The SELECT list of a billing object: `fields` maps each field it has to its SQL; `object` is added."""
    obj = object_for("billing", folder)
    fields = {"object": f"'{obj.table.removeprefix('billing__')}'", **fields}
    order = [f.name for f in obj.fields]
    if folder in _ALPHABETICAL:
        order = ["id", "object", *sorted(n for n in order if n not in ("id", "object"))]
    for new, old in REPLACES.items():
        if new in fields and old in order and old not in fields:
            order.remove(new)
            order[order.index(old)] = new
    return json_select(obj, fields, order)

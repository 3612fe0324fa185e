"""Stripe API versions: how a version is named, and which of the two billing shapes it answers in.

Stripe answers every request in the version its `Stripe-Version` header names (else the account's default)
and renders an event's object in the event's own `api_version`. For the objects salesdw reads, versions fall
into two shapes (shared/contracts/sources.md, "Stripe API versions"):

- before ``2025-03-31.basil``: invoice lines carry `price`, `proration`, `subscription_item`; an invoice its
  `subscription`; a subscription `current_period_*`; a charge its `invoice`;
- from basil on (basil, clover, dahlia): `pricing.price_details.price`, `parent.*`, periods on subscription
  items only, and `invoice_payment` objects between invoices and their payments.

Later versions within the second shape change nothing salesdw reads, except that from ``2025-09-30.clover``
a discount names its coupon under `source.coupon` (an id unless expanded) instead of `coupon`.
"""

from __future__ import annotations

import re

BASIL = "2025-03-31.basil"  # first version of the current shape
CLOVER = "2025-09-30.clover"  # discount.coupon -> discount.source.coupon
# The newest version Stripe had released when this was written (stripe/openapi "Update OpenAPI for
# 2026-07-29.dahlia"; the SDKs pinned to it): the connector's and the demo's default.
CURRENT = "2026-07-29.dahlia"
# The last version of the old shape, for accounts that have not upgraded and for tests of that shape.
LAST_BEFORE_BASIL = "2025-02-24.acacia"

# 2024-06-20 (before Stripe named its releases) or 2025-03-31.basil; previews (.preview) are not stable.
_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[a-z]+)?$")


def check(version: str) -> str:
    """The version, trimmed; ValueError naming the expected form when it is not a Stripe API version."""
    v = (version or "").strip()
    m = _VERSION.match(v)
    if not m or m.group(2) == ".preview":
        raise ValueError(
            f"{version!r} is not a Stripe API version: expected a date, or a date and a release name, "
            f"such as {CURRENT} or 2024-06-20 (see https://docs.stripe.com/changelog)"
        )
    return v


def _date(version: str) -> str:
    return check(version)[:10]


def is_basil_or_later(version: str) -> bool:
    """True when `version` answers in the current shape (invoice payments, pricing, parent)."""
    return _date(version) >= BASIL[:10]


def is_clover_or_later(version: str) -> bool:
    return _date(version) >= CLOVER[:10]

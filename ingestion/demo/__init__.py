"""Demo-data generator: a deterministic, internally consistent landing zone for a fictional SaaS company.

Why it exists
-------------
salesdw reads real Salesforce, Stripe and engagement-tool exports. To develop, test and demo the
warehouse without customer data, this package writes a landing zone in exactly the shapes of
``shared/contracts/sources.md`` -- the same files a real org would deliver -- so every loader, dbt model,
check and mart runs on data that behaves like production, including its awkward parts.

Usage::

    from ingestion.demo.generator import generate
    summary = generate(Path("data/landing"), scale=1.0, seed=7, dirty=False)  # {relative path: rows}
    generate(Path("/tmp/old"), scale=0.05, stripe_api_version="2025-02-24.acacia")  # before basil

What it generates (2024-01-01 .. 2025-12-31, never the wall clock)
----------------------------------------------------------------
``crm/<Object>/<batch>.csv`` (Salesforce Bulk API 2.0 CSV, 12 objects)
    A sales org "NorthPeak": CEO/VP role tree, ~1 manager per 10 users, teams by segment (SMB,
    Mid-Market, Enterprise = ``User.Department``) and region (AMER East/West, EMEA, APAC). Reps hired
    inside the window ramp up (less pipeline, a half quota in their first quota quarter, quotas starting
    ~6 weeks after hire); ~9 % leave (``IsActive=false``) and keep their accounts and opportunities.
    Accounts own contacts; inbound new-business deals come from converted leads whose
    ``Converted*Id`` point at the account, its primary contact and the opportunity. Each opportunity
    is simulated as an event stream -- creation, stage advances (some skipped), an amount change, close
    date slips, the close (pulled into quarter ends), occasionally a reopen -- and every event is an
    ``OpportunityHistory`` row, so the last history row always equals the current opportunity. Line
    items (``Quantity * UnitPrice * (1 - Discount/100)``, rounded per line) sum exactly to ``Amount``
    in every version. Win rates differ by segment, type and rep skill. Amounts are in the account's
    currency (USD, EUR, GBP, JPY); ``DatedConversionRate`` has one row per currency per month (units per
    USD, USD = 1) whose ranges tile the whole window. Quotas are USD, per rep per quarter.
``billing/<object>/<batch>.jsonl`` (Stripe list-API objects)
    The first won deal of an account creates a customer (``metadata.salesforce_account_id``; ~5 % were
    created by hand without it) and a subscription on the deal's plan and seat count: monthly, quarterly
    (month x 3), annual, or weekly (self-serve USD Starter only), with trials, mid-period upgrades
    (seat or plan, billed at once with two proration lines), downgrades at renewal, cancellations at
    period end, involuntary churn after failed payments (invoice ``uncollectible``), reactivations
    (a new subscription for a returning customer), void-and-reissue invoices, net-terms invoices that
    are ``open`` at the cut, failed and successful charges, and refunds. Amounts are integer minor units
    (yen have none). As in Stripe, ``invoice.period_start/end`` is the *previous* period; the service
    period is on the lines. USD monthly list prices rise in 2025 (old prices deactivated, grandfathered).
    Objects are shaped as the Stripe API version ``stripe_api_version`` answers (``salesdw demo-data
    --stripe-api-version``; default the connector's, ``ingestion.sources.stripe_versions.CURRENT``): from
    ``2025-03-31.basil`` on lines carry ``pricing``/``parent``, invoices ``parent``, charges their
    ``payment_intent`` and ``invoice_payments/`` links them to invoices; before it ``price``/``proration``,
    ``invoice.subscription`` and ``charge.invoice``. Either version describes the same account (same ids,
    amounts and dates), so the marts are the same.
``activity/events/<batch>.jsonl`` (engagement events)
    Calls, emails and meetings by reps (``rep_email`` sometimes in another letter case; a departed rep's
    accounts are worked by their manager), in the rep's local business hours with a real UTC offset.
    Opportunities that progress get more activity. Participants are mostly CRM contact/lead e-mails,
    some only match by domain (role mailboxes), some match nothing (personal mailboxes). About half the
    events carry the CRM account id and 40 % of deal events the opportunity id. Meetings are exported
    ``scheduled`` first and ``held``/``no_show``/``cancelled`` later; ~1 % of events are deleted later.

Batches and versions
--------------------
CRM and billing are extracted quarterly (an initial extract at 2024-04-01, then deltas to
2026-01-01), activity monthly. A batch holds the latest version, before its cut, of every record
created or changed since the previous cut -- so later batches carry real updates (stage changes,
conversions, deactivations, status changes) and soft deletes (``IsDeleted``/``deleted``/``is_deleted``),
never copies. Batch names (``2025-04-01T000000_0001``) sort chronologically, which is the version
order for objects without a version timestamp. Activity is produced in chunks of at most one million
events; each chunk writes its own files (suffix ``_0002`` ...), so memory stays flat at large scales.

Scale, speed, determinism
-------------------------
``scale=1``: ~100 users, 5k accounts, 20k opportunities, 200k events; counts scale linearly (with
small floors so ``scale=0.05`` still has every kind of record). Everything is vectorised with numpy
and written by DuckDB ``COPY``. Output depends only on (scale, seed, dirty): seeded independent random
streams, explicit ordering, integer money, fixed decimal rendering.

``dirty=True``
--------------
Injects each defect of the contract's "Tolerances and refusals" into real batch files as copies of
real records under fresh ids (clean rows stay byte-identical, every foreign key still resolves) plus a
few extra files, and lists each in ``<out>/dirty_manifest.jsonl``: ``{file, row, id, defect, expect,
field}``. Counts: unparseable_row 5, wrong_type 10, missing_required 4, duplicate_conflict 6 (3 pairs),
refuse_missing_key_column 1, refuse_invalid_file 2, and one each of bom, crlf, reordered_columns,
extra_column, quoted_newline, empty_file, header_only (expect ``load``).
"""

from .generator import generate

__all__ = ["generate"]

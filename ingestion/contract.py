"""The raw data contract (shared/contracts/sources.md) as data: objects, fields, types, keys, versions.

Everything that reads, validates or creates raw tables works from this one description, so a new
field or object is a one-line change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Field types. The raw layer stores them as:
#   str      VARCHAR
#   bool     BOOLEAN                       (CSV: true/false; JSON: true/false)
#   int      BIGINT                        (counts, sort orders, Stripe minor-unit amounts)
#   decimal  DECIMAL(18, 6)                (Salesforce currency, percent and quantity fields; 18 digits is
#                                          Salesforce's own limit and keeps DuckDB on its fast int64 path)
#   rate     DECIMAL(18, 9)                (conversion rates: up to 9 decimal places)
#   date     DATE                          (YYYY-MM-DD)
#   datetime TIMESTAMPTZ, UTC              (ISO 8601 with a zone: Z, +0000 or -07:00)
#   unix     TIMESTAMPTZ, UTC              (Stripe: integer seconds since the epoch)
#   object   JSON                          (a JSON object, e.g. Stripe metadata, recurring, discount)
#   list     JSON                          (a Stripe list: {"object": "list", "data": [...]} )
#   array    JSON                          (a JSON array, e.g. participant_emails)
SQL_TYPES = {
    "str": "VARCHAR",
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "decimal": "DECIMAL(18, 6)",
    "rate": "DECIMAL(18, 9)",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "unix": "TIMESTAMPTZ",
    "object": "JSON",
    "list": "JSON",
    "array": "JSON",
}

# Load metadata every raw table carries, in this order after the delivered columns.
META_COLUMNS = {
    "_load_id": "VARCHAR",
    "_loaded_at": "TIMESTAMPTZ",
    "_source_file": "VARCHAR",
    "_batch": "VARCHAR",
    "_row_number": "BIGINT",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "str"
    required: bool = False


@dataclass(frozen=True)
class SourceObject:
    source: str  # crm | billing | activity
    name: str  # folder name in the landing zone: the API name (Opportunity, invoices, events)
    table: str  # raw table name, e.g. crm__opportunity
    fields: tuple[Field, ...]
    key: str = "Id"
    version: str | None = None  # the field whose later value supersedes; None = later batch wins
    deleted: str | None = None  # soft-delete flag
    formats: tuple[str, ...] = field(default=(".csv", ".parquet"))

    @property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def deletes_are_final(self) -> bool:
        """Stripe never restores a deleted object, and answers for one with a stub (`{"id", "object",
        "deleted": true}`, nothing else): the stub loads without the required fields and supersedes every
        version of its id, whatever their stamps or delivery order (warehouse.version_order)."""
        return self.source == "billing" and self.deleted is not None

    @property
    def asset_name(self) -> str:
        return self.table

    @property
    def kind(self) -> str:
        """How rows arrive: 'csv' (flat columns) or 'json' (one object per record)."""
        return "csv" if self.source == "crm" else "json"


def _f(spec: str) -> tuple[Field, ...]:
    """Parse 'Name:type*' items; '*' marks a field required by the marts."""
    out = []
    for item in spec.split():
        name, _, typ = item.partition(":")
        required = typ.endswith("*") or name.endswith("*")
        name, typ = name.rstrip("*"), (typ.rstrip("*") or "str")
        out.append(Field(name, typ, required))
    return tuple(out)


def _crm(name: str, table: str, spec: str, *, version="SystemModstamp", deleted="IsDeleted") -> SourceObject:
    fields = _f(spec)
    names = {f.name for f in fields}
    return SourceObject(
        source="crm",
        name=name,
        table=f"crm__{table}",
        fields=fields,
        key="Id",
        version=version if version in names else None,
        deleted=deleted if deleted in names else None,
        formats=(".csv", ".parquet"),
    )


def _billing(name: str, table: str, spec: str, *, version: str | None = None) -> SourceObject:
    return SourceObject(
        source="billing",
        name=name,
        table=f"billing__{table}",
        fields=_f(spec),
        key="id",
        version=version,
        deleted="deleted" if any(f.name == "deleted" for f in _f(spec)) else None,
        formats=(".jsonl", ".parquet"),
    )


CRM_OBJECTS = (
    _crm(
        "User",
        "user",
        "Id* Name* Email* IsActive:bool* ManagerId UserRoleId Title Department "
        "CreatedDate:datetime* SystemModstamp:datetime*",
    ),
    _crm("UserRole", "user_role", "Id* Name* ParentRoleId"),
    _crm(
        "Account",
        "account",
        "Id* Name* Type Industry BillingCountry NumberOfEmployees:int AnnualRevenue:decimal OwnerId* "
        "ParentId Website CreatedDate:datetime* SystemModstamp:datetime* IsDeleted:bool*",
    ),
    _crm(
        "Contact",
        "contact",
        "Id* AccountId FirstName LastName* Email Title OwnerId* CreatedDate:datetime* "
        "SystemModstamp:datetime* IsDeleted:bool*",
    ),
    _crm(
        "Lead",
        "lead",
        "Id* Company Email Status* LeadSource OwnerId* IsConverted:bool* ConvertedDate:date "
        "ConvertedAccountId ConvertedContactId ConvertedOpportunityId CreatedDate:datetime* "
        "SystemModstamp:datetime* IsDeleted:bool*",
    ),
    _crm(
        "Opportunity",
        "opportunity",
        "Id* Name* AccountId OwnerId* StageName* Amount:decimal Probability:decimal CloseDate:date* "
        "IsClosed:bool* IsWon:bool* ForecastCategoryName* Type LeadSource CurrencyIsoCode "
        "CreatedDate:datetime* LastModifiedDate:datetime SystemModstamp:datetime* IsDeleted:bool*",
    ),
    _crm(
        "OpportunityHistory",
        "opportunity_history",
        "Id* OpportunityId* StageName* Amount:decimal Probability:decimal CloseDate:date ForecastCategory "
        "CreatedDate:datetime* CreatedById SystemModstamp:datetime* IsDeleted:bool*",
    ),
    _crm(
        "OpportunityLineItem",
        "opportunity_line_item",
        "Id* OpportunityId* Product2Id* Quantity:decimal* UnitPrice:decimal* TotalPrice:decimal* "
        "ListPrice:decimal Discount:decimal ServiceDate:date CreatedDate:datetime* "
        "SystemModstamp:datetime* IsDeleted:bool*",
    ),
    _crm(
        "Product2",
        "product2",
        "Id* Name* ProductCode Family IsActive:bool* CreatedDate:datetime* SystemModstamp:datetime*",
    ),
    _crm(
        "OpportunityStage",
        "opportunity_stage",
        "Id* MasterLabel* SortOrder:int* IsClosed:bool* IsWon:bool* DefaultProbability:decimal "
        "ForecastCategoryName IsActive:bool*",
    ),
    _crm(
        "ForecastingQuota",
        "forecasting_quota",
        "Id* QuotaOwnerId* StartDate:date* QuotaAmount:decimal* CurrencyIsoCode SystemModstamp:datetime*",
    ),
    _crm(
        "DatedConversionRate",
        "dated_conversion_rate",
        "Id* IsoCode* ConversionRate:rate* StartDate:date* NextStartDate:date*",
    ),
)

BILLING_OBJECTS = (
    _billing(
        "customers",
        "customer",
        "id* object created:unix* email name currency metadata:object* deleted:bool",
    ),
    _billing(
        "products",
        "product",
        "id* object name* active:bool* created:unix* updated:unix deleted:bool",
        version="updated",
    ),
    _billing(
        "prices",
        "price",
        "id* object product* currency* unit_amount:int* type* recurring:object active:bool* created:unix* "
        "deleted:bool",
    ),
    _billing(
        "subscriptions",
        "subscription",
        "id* object customer* status* created:unix* start_date:unix* canceled_at:unix ended_at:unix "
        "cancel_at:unix trial_start:unix trial_end:unix currency* items:list* discount:object metadata:object "
        # Stripe API versions from 2025-03-31.basil on: the period is on each item, `discount` became `discounts`
        "current_period_start:unix current_period_end:unix discounts:array",
    ),
    _billing(
        "invoices",
        "invoice",
        "id* object customer* subscription status* created:unix* period_start:unix* period_end:unix* "
        "currency* subtotal:int* total:int* amount_due:int* amount_paid:int* lines:list* "
        # from basil on `subscription` moved to parent.subscription_details.subscription
        "status_transitions:object parent:object",
    ),
    _billing(
        "charges",
        "charge",
        "id* object customer invoice amount:int* amount_refunded:int* currency* status* paid:bool* "
        # from basil on a charge names no invoice: invoice_payments link its payment intent (or itself)
        "refunded:bool* created:unix* payment_intent",
    ),
    _billing(
        "refunds",
        "refund",
        "id* object charge* amount:int* currency* status* reason created:unix*",
    ),
    # An invoice's payments, from Stripe API version 2025-03-31.basil on (before it: charge.invoice).
    _billing(
        "invoice_payments",
        "invoice_payment",
        "id* object invoice* status* amount_paid:int amount_requested:int currency* payment:object "
        "status_transitions:object created:unix*",
    ),
)

ACTIVITY_OBJECTS = (
    SourceObject(
        source="activity",
        name="events",
        table="activity__event",
        fields=_f(
            "id* type* direction* occurred_at:datetime* updated_at:datetime* rep_email* "
            "participant_emails:array* crm_account_id crm_opportunity_id duration_seconds:int outcome "
            "subject is_deleted:bool"
        ),
        key="id",
        version="updated_at",
        deleted="is_deleted",
        formats=(".jsonl", ".parquet"),
    ),
)

OBJECTS: tuple[SourceObject, ...] = CRM_OBJECTS + BILLING_OBJECTS + ACTIVITY_OBJECTS
BY_TABLE = {o.table: o for o in OBJECTS}
SOURCES = ("crm", "billing", "activity")


def object_for(source: str, name: str) -> SourceObject | None:
    for o in OBJECTS:
        if o.source == source and o.name == name:
            return o
    return None

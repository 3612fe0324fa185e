"""Data-quality suites as code: which Great Expectations rules each warehouse table must satisfy.

A suite is named ``<layer>.<table>`` (``raw.crm__opportunity__current``) and is a list of GE 1.x
expectations, each tagged with a severity in its ``meta`` (and GE's own ``severity`` field):

- ``critical``: the data is wrong in a way the marts cannot absorb; the stage downstream must not run;
- ``warning``: worth a look by sales ops, reported but not blocking.

Every expectation also carries a plain-words ``description`` (what a sales-ops reader sees) and a
``name`` unique within its suite (``meta["name"]``), e.g. ``StageName: not null``.

The raw-layer suites are generated from the contract (``ingestion.contract``): required fields not
null and keys unique (critical), plus the formats and accepted values the contract
(shared/contracts/sources.md) spells out. Adding a field or object to the contract adds its checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

from ingestion.contract import OBJECTS, SOURCES, SourceObject

Severity = Literal["critical", "warning"]
CRITICAL: Severity = "critical"
WARNING: Severity = "warning"
SEVERITIES: tuple[Severity, ...] = (CRITICAL, WARNING)


def tag(
    expectation: Expectation, severity: Severity, description: str, name: str | None = None
) -> Expectation:
    """Mark an expectation with its severity, a description for sales ops and an optional name."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
    meta = dict(expectation.meta or {})
    meta.update(severity=severity, description=description)
    if name:
        meta["name"] = name
    expectation.meta = meta
    expectation.severity = FailureSeverity(severity)
    expectation.description = description
    return expectation


def critical(expectation: Expectation, description: str, name: str | None = None) -> Expectation:
    return tag(expectation, CRITICAL, description, name)


def warning(expectation: Expectation, description: str, name: str | None = None) -> Expectation:
    return tag(expectation, WARNING, description, name)


def severity_of(expectation: Expectation) -> Severity:
    """The tagged severity; an untagged expectation blocks (a forgotten tag must not hide a failure)."""
    value = (expectation.meta or {}).get("severity", CRITICAL)
    if value not in SEVERITIES:
        raise ValueError(f"{expectation.expectation_type}: unknown severity {value!r} in meta")
    return value


def default_name(expectation: Expectation) -> str:
    """``<column>: <rule>``, e.g. ``StageName: not null``; the GE type when there is no column."""
    rule = re.sub(r"^expect_(column_values_to_|column_|table_)?", "", expectation.expectation_type)
    rule = rule.replace("_", " ")
    column = getattr(expectation, "column", None)
    return f"{column}: {rule}" if column else rule


@dataclass(frozen=True)
class Suite:
    """The rules for one table (or for the rows of ``query``, when given)."""

    name: str  # <layer>.<table>
    expectations: tuple[Expectation, ...]
    key: tuple[str, ...] = ()  # columns that identify a row; shown with every sampled bad row
    query: str | None = None  # validate this query's rows instead of the table called `name`
    description: str = ""
    # Sources (crm, billing, activity) every rule of the suite needs: when one of them is not in use, the
    # rules are skipped with that reason (expectations.sources_in_use). One rule can need more (`needs`).
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.name.count(".") != 1:
            raise ValueError(f"suite name {self.name!r} must be <layer>.<table>")
        names = [n for n in (self.expectation_name(e) for e in self.expectations)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"suite {self.name}: expectation names must be unique, repeated: {dupes}")
        for e in self.expectations:
            severity_of(e)

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]

    @staticmethod
    def expectation_name(expectation: Expectation) -> str:
        return (expectation.meta or {}).get("name") or default_name(expectation)

    def sources_needed(self, expectation: Expectation) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.needs, *((expectation.meta or {}).get("needs") or ()))))


def needs(expectation: Expectation, *sources: str) -> Expectation:
    """Mark a rule as meaningful only when ``sources`` are in use (e.g. a CRM rule about billing links)."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown sources {unknown}; sources are {SOURCES}")
    expectation.meta = {**(expectation.meta or {}), "needs": list(sources)}
    return expectation


# --------------------------------------------------------------------------- raw layer

# The contract's formats. GE's regex expectations *search*: anchor the patterns.
SALESFORCE_ID = r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Stripe object -> id prefix. A field named after an object (invoice.customer) holds that object's id.
STRIPE_PREFIX = {
    "customer": "cus_",
    "subscription": "sub_",
    "invoice": "in_",
    "charge": "ch_",
    "refund": "re_",
    "product": "prod_",
    "price": "price_",
    "invoice_payment": "inpay_",
    "payment_intent": "pi_",
}
ACCEPTED_VALUES: dict[tuple[str, str], tuple[tuple[str, ...], Severity]] = {
    ("billing__invoice", "status"): (("draft", "open", "paid", "uncollectible", "void"), CRITICAL),
    ("billing__price", "type"): (("one_time", "recurring"), CRITICAL),
    ("billing__invoice_payment", "status"): (("open", "paid", "canceled"), CRITICAL),
    ("activity__event", "type"): (("call", "email", "meeting"), CRITICAL),
    ("activity__event", "direction"): (("outbound", "inbound"), CRITICAL),
    ("crm__opportunity", "Type"): (("New Business", "Existing Business", "Renewal"), WARNING),
}

# {batch} is replaced by an aliased subquery: do not alias it again.
STAGE_QUERY = """
SELECT "Id", "Name", "StageName"
FROM {batch}
WHERE "StageName" IS NOT NULL
  AND "StageName" NOT IN (
    SELECT "MasterLabel" FROM raw.crm__opportunity_stage__current WHERE "MasterLabel" IS NOT NULL
  )
"""

# Cross-table rules for raw tables, by table: unexpected-rows queries over {batch}.
RAW_RECONCILIATIONS: dict[str, list[Expectation]] = {
    "crm__opportunity": [
        critical(
            gxe.UnexpectedRowsExpectation(unexpected_rows_query=STAGE_QUERY),
            "Every opportunity is in one of the stages defined in Salesforce (OpportunityStage); "
            "an unknown stage would drop the deal out of pipeline and forecast reports.",
            name="StageName: a known OpportunityStage",
        )
    ],
}


def _is_salesforce_id(obj: SourceObject, name: str) -> bool:
    if obj.source == "crm":
        return name == "Id" or name.endswith("Id")
    return obj.source == "activity" and name.startswith("crm_") and name.endswith("_id")


def _stripe_prefix(obj: SourceObject, name: str) -> tuple[str, str] | None:
    if obj.source != "billing":
        return None
    entity = obj.table.split("__", 1)[1] if name == obj.key else name
    return (entity, STRIPE_PREFIX[entity]) if entity in STRIPE_PREFIX else None


def _is_email(name: str) -> bool:
    return name.lower() == "email" or name.lower().endswith("_email")


def raw_expectations(obj: SourceObject) -> list[Expectation]:
    """The contract's rules for one object, in field order."""
    label = obj.name if obj.source == "crm" else obj.table.split("__", 1)[1].replace("_", " ")
    out: list[Expectation] = []
    for f in obj.fields:
        col = f.name
        if f.required:
            out.append(
                critical(
                    gxe.ExpectColumnValuesToNotBeNull(column=col),
                    f"Every {label} record has its {col} filled in (the marts need it).",
                )
            )
        if col == obj.key:
            out.append(
                critical(
                    gxe.ExpectColumnValuesToBeUnique(column=col),
                    f"Each {label} {col} appears once in the current state.",
                )
            )
        if f.type != "str":
            continue
        if _is_salesforce_id(obj, col):
            out.append(
                warning(
                    gxe.ExpectColumnValuesToMatchRegex(column=col, regex=SALESFORCE_ID),
                    f"{label}.{col} looks like a Salesforce id (15 or 18 letters and digits).",
                    name=f"{col}: Salesforce id format",
                )
            )
        if prefix := _stripe_prefix(obj, col):
            entity, p = prefix
            out.append(
                critical(
                    gxe.ExpectColumnValuesToMatchRegex(column=col, regex=f"^{p}[A-Za-z0-9]+$"),
                    f"{label}.{col} is a Stripe {entity} id (starts with {p}).",
                    name=f"{col}: Stripe {entity} id",
                )
            )
        if _is_email(col):
            out.append(
                warning(
                    gxe.ExpectColumnValuesToMatchRegex(column=col, regex=EMAIL),
                    f"{label}.{col} looks like an e-mail address (name@domain.tld).",
                    name=f"{col}: e-mail format",
                )
            )
        if accepted := ACCEPTED_VALUES.get((obj.table, col)):
            values, severity = accepted
            out.append(
                tag(
                    gxe.ExpectColumnValuesToBeInSet(column=col, value_set=list(values)),
                    severity,
                    f"{label}.{col} is one of: {', '.join(values)}.",
                    name=f"{col}: accepted values",
                )
            )
    out.extend(e.copy(deep=True) for e in RAW_RECONCILIATIONS.get(obj.table, []))
    return out


def raw_suite(obj: SourceObject) -> Suite:
    # A Stripe deletion stub ({"id", "object", "deleted": true}, nothing else) is the current version of a
    # deleted object: the contract's rules hold for the objects that are not deleted.
    live = f'SELECT * FROM raw."{obj.table}__current" WHERE NOT coalesce("{obj.deleted}", false)'
    return Suite(
        name=f"raw.{obj.table}__current",
        expectations=tuple(raw_expectations(obj)),
        key=(obj.key,),
        query=live if obj.deletes_are_final else None,
        description=f"The current state of {obj.source} {obj.name} records meets the source contract.",
        needs=(obj.source,),
    )


def raw_suites(objects: Iterable[SourceObject] = OBJECTS) -> dict[str, Suite]:
    """Every contract object's suite, by suite name."""
    suites = [raw_suite(o) for o in objects]
    return {s.name: s for s in suites}


def all_suites() -> dict[str, Suite]:
    """Every suite by name: raw (from the contract), then staging/intermediate and marts (dbt models)."""
    from expectations.suites_models import model_suites  # it builds on the helpers above

    return {**raw_suites(), **model_suites()}

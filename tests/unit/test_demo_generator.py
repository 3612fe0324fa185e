"""The demo generator writes the contract's shapes, consistently, reproducibly, and dirty exactly as documented."""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest

from ingestion.contract import ACTIVITY_OBJECTS, BILLING_OBJECTS, CRM_OBJECTS, object_for
from ingestion.demo._billing.shape import select as billing_select
from ingestion.demo._common import json_select
from ingestion.demo._crm import STAGES
from ingestion.demo._crm.common import versions
from ingestion.demo.generator import generate
from ingestion.sources import stripe_versions

SCALE = 0.05

# The fields of every object, from the contract (ingestion/contract.py, shared/contracts/sources.md).
CRM_FIELDS = {o.name: [f.name for f in o.fields] for o in CRM_OBJECTS}
JSON_OBJECTS = {f"{o.source}/{o.name}": o for o in BILLING_OBJECTS + ACTIVITY_OBJECTS}
# Top-level contract fields that only one Stripe shape has (sources.md, "Stripe API versions").
ONLY_BEFORE_BASIL = {
    "billing/subscriptions": {"discount"},
    "billing/invoices": {"subscription"},
    "billing/charges": {"invoice"},
}
ONLY_FROM_BASIL = {
    "billing/subscriptions": {"discounts"},
    "billing/invoices": {"parent"},
    "billing/charges": {"payment_intent"},
    "billing/invoice_payments": {f.name for f in object_for("billing", "invoice_payments").fields},
}
# Not written in either shape: the demo keeps a subscription's current period on its item (both shapes have
# it there), not also at the top level as versions before basil did; a live product or price carries no
# `deleted` (Stripe sends it only in a deletion stub, which the demo does not write for them).
NEVER_WRITTEN = {
    "billing/subscriptions": {"current_period_start", "current_period_end"},
    "billing/products": {"deleted"},
    "billing/prices": {"deleted"},
}
VERSIONS = (stripe_versions.LAST_BEFORE_BASIL, stripe_versions.CURRENT)


def json_fields(version: str) -> dict[str, set[str]]:
    """{folder: the contract's fields an object of that folder has in `version`'s shape}."""
    other = ONLY_BEFORE_BASIL if stripe_versions.is_basil_or_later(version) else ONLY_FROM_BASIL
    out = {}
    for folder, obj in JSON_OBJECTS.items():
        fields = {f.name for f in obj.fields} - other.get(folder, set()) - NEVER_WRITTEN.get(folder, set())
        if fields:
            out[folder] = fields
    return out


EXPECTED_DEFECTS = {
    "unparseable_row": 5,
    "wrong_type": 10,
    "missing_required": 4,
    "duplicate_conflict": 6,
    "refuse_missing_key_column": 1,
    "refuse_invalid_file": 2,
    "bom": 1,
    "crlf": 1,
    "reordered_columns": 1,
    "extra_column": 1,
    "quoted_newline": 1,
    "empty_file": 1,
    "header_only": 1,
    # semantic defects: they load, a quality gate catches them
    "unknown_stage": 2,
    "currency_without_rate": 1,
    "bad_id_prefix": 1,
    "bad_email_format": 2,
    "unknown_activity_type": 1,
}
# what makes each semantic defect's field wrong (the value as delivered)
_GATE_DEFECTS = {
    "unknown_stage": lambda v: bool(v) and v not in STAGES,
    "currency_without_rate": lambda v: bool(v) and v not in ("USD", "EUR", "GBP", "JPY"),
    "bad_id_prefix": lambda v: bool(v) and not v.startswith("in_"),
    "bad_email_format": lambda v: bool(v) and v != v.strip(),
    "unknown_activity_type": lambda v: v not in ("call", "email", "meeting"),
}


# Keep ISO strings as text: DuckDB's timestamp sniffing would drop the UTC offsets we want to check.
_KEEP_TEXT = "timestampformat='%d/%m/%Y !', dateformat='%d/%m/%Y !'"


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module", params=VERSIONS)
def stripe_api_version(request) -> str:
    """Every test runs on the billing objects as an account before basil and one on the current version see them."""
    return request.param


@pytest.fixture(scope="module")
def clean(tmp_path_factory, stripe_api_version) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, scale=SCALE, seed=7, stripe_api_version=stripe_api_version)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory, stripe_api_version) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("dirty")
    return out, generate(out, scale=SCALE, seed=7, dirty=True, stripe_api_version=stripe_api_version)


@pytest.fixture(scope="module")
def db(clean, stripe_api_version) -> duckdb.DuckDBPyConnection:
    """Every clean object as a raw table (all versions) and a current-state table (latest version)."""
    out, _ = clean
    con = duckdb.connect()
    for obj, fields in CRM_FIELDS.items():
        con.execute(
            f"CREATE TABLE raw_{obj} AS SELECT * FROM read_csv('{out}/crm/{obj}/*.csv', all_varchar=true, "
            f"header=true, filename=true)"
        )
        order = "SystemModstamp DESC, filename DESC" if "SystemModstamp" in fields else "filename DESC"
        con.execute(
            f"CREATE TABLE cur_{obj} AS SELECT * FROM raw_{obj} "
            f"QUALIFY row_number() OVER (PARTITION BY Id ORDER BY {order}) = 1"
        )
    for folder in json_fields(stripe_api_version):
        name = folder.split("/")[1]
        con.execute(
            f"CREATE TABLE raw_{name} AS SELECT * FROM read_json('{out}/{folder}/*.jsonl', "
            f"format='newline_delimited', filename=true, sample_size=-1, {_KEEP_TEXT})"
        )
        con.execute(
            f"CREATE TABLE cur_{name} AS SELECT * FROM raw_{name} "
            f"QUALIFY row_number() OVER (PARTITION BY id ORDER BY filename DESC) = 1"
        )
    return con


def _scalar(con, sql: str):
    return con.execute(sql).fetchone()[0]


# ------------------------------------------------------------------------------------------ determinism


def test_same_seed_is_byte_identical_and_other_seed_differs(clean, dirty, tmp_path, stripe_api_version):
    again = tmp_path / "again"
    assert generate(again, scale=SCALE, seed=7, stripe_api_version=stripe_api_version) == clean[1]
    assert _tree_hashes(again) == _tree_hashes(clean[0])
    again_dirty = tmp_path / "again_dirty"
    generate(again_dirty, scale=SCALE, seed=7, dirty=True, stripe_api_version=stripe_api_version)
    assert _tree_hashes(again_dirty) == _tree_hashes(dirty[0])
    other = tmp_path / "other"
    generate(other, scale=SCALE, seed=8, stripe_api_version=stripe_api_version)
    a, b = _tree_hashes(other), _tree_hashes(clean[0])
    shared = set(a) & set(b)
    assert any(a[k] != b[k] for k in shared)


def test_summary_counts_match_files(clean):
    out, summary = clean
    for rel, n in summary.items():
        lines = (out / rel).read_text(encoding="utf-8").count("\n")
        assert lines - (1 if rel.endswith(".csv") else 0) == n, rel


# ------------------------------------------------------------------------------------------ shapes


def test_every_crm_object_has_contract_header_and_rows(clean):
    out, _ = clean
    for obj, fields in CRM_FIELDS.items():
        files = sorted((out / "crm" / obj).glob("*.csv"))
        assert files, obj
        assert len(files) >= 2 or obj == "OpportunityStage", f"{obj} has no delta batch"
        for f in files:
            with f.open(encoding="utf-8", newline="") as fh:
                assert next(csv.reader(fh)) == fields, f
        assert sum(sum(1 for _ in csv.reader(f.open(encoding="utf-8", newline=""))) - 1 for f in files) > 0


def test_every_json_object_has_contract_keys_and_rows(clean, stripe_api_version):
    out, _ = clean
    con = duckdb.connect()
    written = {p.parent.relative_to(out).as_posix() for p in out.glob("*/*/*.jsonl")}
    assert written == set(json_fields(stripe_api_version))
    for folder, fields in json_fields(stripe_api_version).items():
        rows = con.execute(
            f"SELECT json_keys(json) AS k, count(*) FROM read_json_objects('{out}/{folder}/*.jsonl', "
            f"format='newline_delimited') GROUP BY k"
        ).fetchall()
        assert rows, folder
        assert len(rows) == 1 and set(rows[0][0]) == fields, folder  # one key list, the contract's fields
        assert sum(r[1] for r in rows) > 0


# What a delivered value of each contract type looks like (shared/contracts/sources.md).
_CSV_VALUE = {
    "str": lambda v: True,
    "bool": lambda v: v in ("true", "false"),
    "int": lambda v: re.fullmatch(r"-?\d+", v),
    "decimal": lambda v: re.fullmatch(r"-?\d+(\.\d+)?", v),
    "rate": lambda v: re.fullmatch(r"\d+\.\d+", v),
    "date": lambda v: re.fullmatch(r"\d{4}-\d\d-\d\d", v),
    "datetime": lambda v: re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", v),
}
_JSON_VALUE = {
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "unix": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1_500_000_000 < v < 1_800_000_000,
    "datetime": lambda v: (
        isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", v)
    ),
    "object": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, dict) and v.get("object") == "list" and isinstance(v.get("data"), list),
    "array": lambda v: isinstance(v, list),
}


def test_every_value_has_its_contract_type_and_required_fields_are_filled(clean):
    """Checked with Python's own csv and json readers against the field types of ingestion/contract.py."""
    out, _ = clean
    bad = collections.Counter()
    for obj in CRM_OBJECTS:
        for f in sorted((out / "crm" / obj.name).glob("*.csv")):
            with f.open(encoding="utf-8", newline="") as fh:
                for rec in csv.DictReader(fh):
                    for fld in obj.fields:
                        v = rec[fld.name]
                        if (v == "" and fld.required) or (v != "" and not _CSV_VALUE[fld.type](v)):
                            bad[f"{obj.name}.{fld.name}"] += 1
    for folder, obj in JSON_OBJECTS.items():
        for f in sorted((out / folder).glob("*.jsonl")):
            for line in f.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                for fld in obj.fields:
                    v = rec.get(fld.name)
                    if (v is None and fld.required) or (v is not None and not _JSON_VALUE[fld.type](v)):
                        bad[f"{folder}.{fld.name}"] += 1
    assert not bad, dict(bad)


def test_columns_outside_the_contract_or_missing_ones_are_refused():
    with pytest.raises(ValueError, match="ParentRoleId"):
        versions(
            "UserRole", {"Id": np.array(["a"]), "Name": np.array(["b"])}, np.zeros(1, int), np.zeros(1, int)
        )
    events = object_for("activity", "events")
    with pytest.raises(ValueError, match="rep_email"):  # required, missing
        json_select(events, {f.name: f.name for f in events.fields if f.name != "rep_email"})
    with pytest.raises(ValueError, match="repEmail"):  # not a contract field
        json_select(events, {**{f.name: f.name for f in events.fields}, "repEmail": "rep_email"})


def test_stripe_keys_in_contract_order_except_stripes_own_layouts():
    def keys(folder, names):
        return [
            part.rsplit(" AS ", 1)[1] for part in billing_select(folder, {n: n for n in names}).split(", ")
        ]

    contract = [f.name for f in object_for("billing", "invoices").fields]
    basil = [n for n in contract if n != "subscription"]  # with `parent`, which the contract lists last
    expected = [("parent" if n == "subscription" else n) for n in contract if n != "parent"]
    assert keys("invoices", reversed(basil)) == expected  # `parent` stands where `subscription` stood
    assert keys("invoices", [n for n in contract if n != "parent"]) == [n for n in contract if n != "parent"]
    # an invoice payment: id and object first, then alphabetically, as Stripe lists it
    inpay = [f.name for f in object_for("billing", "invoice_payments").fields if f.name != "object"]
    assert keys("invoice_payments", inpay) == ["id", "object", *sorted(set(inpay) - {"id"})]


def test_batch_names_sort_chronologically(clean):
    out, _ = clean
    pat = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}_\d{4}\.(csv|jsonl)$")
    for p in out.rglob("*.*"):
        assert pat.match(p.name), p


def test_formats(db):
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM raw_Opportunity WHERE NOT regexp_full_match(CreatedDate, "
            "'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.000Z')",
        )
        == 0
    )
    assert (
        _scalar(
            db, "SELECT count(*) FROM raw_Opportunity WHERE NOT regexp_full_match(Amount, '\\d+\\.\\d\\d')"
        )
        == 0
    )
    assert _scalar(db, "SELECT count(*) FROM raw_Opportunity WHERE IsWon NOT IN ('true', 'false')") == 0
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM raw_events WHERE NOT regexp_full_match(occurred_at, "
            "'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d\\d:\\d\\d')",
        )
        == 0
    )
    for table, prefix in (
        ("customers", "cus_"),
        ("subscriptions", "sub_"),
        ("invoices", "in_"),
        ("charges", "ch_"),
        ("refunds", "re_"),
        ("products", "prod_"),
        ("prices", "price_"),
    ):
        assert _scalar(db, f"SELECT count(*) FROM raw_{table} WHERE NOT starts_with(id, '{prefix}')") == 0
    # Stripe timestamps are unix seconds inside the window
    assert _scalar(db, "SELECT max(created) < 1767225600 AND min(created) > 1600000000 FROM raw_invoices")


# ------------------------------------------------------------------------------------------ consistency

FOREIGN_KEYS = [
    ("raw_Opportunity", "AccountId", "raw_Account", "Id"),
    ("raw_Opportunity", "OwnerId", "raw_User", "Id"),
    ("raw_OpportunityHistory", "OpportunityId", "raw_Opportunity", "Id"),
    ("raw_OpportunityHistory", "CreatedById", "raw_User", "Id"),
    ("raw_OpportunityLineItem", "OpportunityId", "raw_Opportunity", "Id"),
    ("raw_OpportunityLineItem", "Product2Id", "raw_Product2", "Id"),
    ("raw_Contact", "AccountId", "raw_Account", "Id"),
    ("raw_Contact", "OwnerId", "raw_User", "Id"),
    ("raw_Account", "OwnerId", "raw_User", "Id"),
    ("raw_Account", "ParentId", "raw_Account", "Id"),
    ("raw_Lead", "OwnerId", "raw_User", "Id"),
    ("raw_Lead", "ConvertedAccountId", "raw_Account", "Id"),
    ("raw_Lead", "ConvertedContactId", "raw_Contact", "Id"),
    ("raw_Lead", "ConvertedOpportunityId", "raw_Opportunity", "Id"),
    ("raw_ForecastingQuota", "QuotaOwnerId", "raw_User", "Id"),
    ("raw_User", "ManagerId", "raw_User", "Id"),
    ("raw_User", "UserRoleId", "raw_UserRole", "Id"),
    ("raw_UserRole", "ParentRoleId", "raw_UserRole", "Id"),
    ("raw_subscriptions", "customer", "raw_customers", "id"),
    ("raw_invoices", "customer", "raw_customers", "id"),
    ("raw_invoices", "<invoice subscription>", "raw_subscriptions", "id"),
    ("raw_charges", "<charge's invoice>", "raw_invoices", "id"),
    ("raw_invoice_payments", "<invoice payment's invoice>", "raw_invoices", "id"),
    ("raw_charges", "customer", "raw_customers", "id"),
    ("raw_refunds", "charge", "raw_charges", "id"),
    ("raw_prices", "product", "raw_products", "id"),
    ("raw_events", "crm_account_id", "raw_Account", "Id"),
    ("raw_events", "crm_opportunity_id", "raw_Opportunity", "Id"),
]


# The references that moved in basil, as (child table, expression over `c`) in each shape.
MOVED_REFERENCES = {
    "<invoice subscription>": {
        False: ("raw_invoices", "c.subscription"),
        True: ("raw_invoices", "c.parent.subscription_details.subscription"),
    },
    "<charge's invoice>": {
        False: ("raw_charges", "c.invoice"),
        # a charge's payment intent -> the invoice payment of that intent -> its invoice
        True: (
            "(SELECT c.*, p.invoice AS paid_invoice FROM raw_charges c "
            "LEFT JOIN raw_invoice_payments p ON p.payment.payment_intent = c.payment_intent)",
            "c.paid_invoice",
        ),
    },
    "<invoice payment's invoice>": {False: None, True: ("raw_invoice_payments", "c.invoice")},
}


@pytest.mark.parametrize(("child", "col", "parent", "key"), FOREIGN_KEYS)
def test_foreign_keys_resolve(db, child, col, parent, key, stripe_api_version):
    expr = f"c.{col}"
    if col in MOVED_REFERENCES:
        moved = MOVED_REFERENCES[col][stripe_versions.is_basil_or_later(stripe_api_version)]
        if moved is None:
            pytest.skip(f"no {col} before API version basil")
        child, expr = moved
    orphans = _scalar(
        db,
        f"SELECT count(*) FROM {child} c WHERE {expr} IS NOT NULL AND {expr} NOT IN (SELECT {key} FROM {parent})",
    )
    assert orphans == 0
    assert _scalar(db, f"SELECT count({expr}) FROM {child} c") > 0 or col in ("ParentId", "ManagerId")


def test_cross_source_links_resolve(db, stripe_api_version):
    linked = _scalar(
        db, "SELECT count(*) FROM raw_customers WHERE metadata.salesforce_account_id IS NOT NULL"
    )
    total = _scalar(db, "SELECT count(*) FROM raw_customers")
    assert 0.85 * total < linked < total  # ~5% were created without the CRM link
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM raw_customers WHERE metadata.salesforce_account_id IS NOT NULL "
            "AND metadata.salesforce_account_id NOT IN (SELECT Id FROM raw_Account)",
        )
        == 0
    )
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM raw_events WHERE lower(rep_email) NOT IN "
            "(SELECT lower(Email) FROM raw_User)",
        )
        == 0
    )
    assert _scalar(db, "SELECT count(*) FROM raw_events WHERE rep_email <> lower(rep_email)") > 0
    basil = stripe_versions.is_basil_or_later(stripe_api_version)
    for sub in ("invoices", "subscriptions"):
        col = "lines" if sub == "invoices" else "items"
        # from basil on a line names its price by id under pricing.price_details.price
        price_id = "d.pricing.price_details.price" if basil and sub == "invoices" else "d.price.id"
        assert (
            _scalar(
                db,
                f"SELECT count(*) FROM (SELECT unnest({col}.data) AS d FROM raw_{sub}) "
                f"WHERE {price_id} IS NULL OR {price_id} NOT IN (SELECT id FROM raw_prices)",
            )
            == 0
        )


def test_participants_mostly_resolve_to_crm_people(db):
    db.execute("""CREATE OR REPLACE TEMP TABLE parts AS
        SELECT lower(unnest(participant_emails)) AS e FROM raw_events""")
    db.execute("""CREATE OR REPLACE TEMP TABLE people AS
        SELECT lower(Email) AS e FROM raw_Contact WHERE Email IS NOT NULL
        UNION SELECT lower(Email) FROM raw_Lead WHERE Email IS NOT NULL""")
    db.execute("""CREATE OR REPLACE TEMP TABLE domains AS
        SELECT DISTINCT regexp_replace(regexp_replace(lower(Website), '^(https?://)?(www\\.)?', ''), '/$', '') AS d
        FROM raw_Account""")
    total, exact, domain_only = db.execute("""
        SELECT count(*), count(*) FILTER (WHERE e IN (SELECT e FROM people)),
               count(*) FILTER (WHERE e NOT IN (SELECT e FROM people) AND split_part(e, '@', 2) IN (SELECT d FROM domains))
        FROM parts""").fetchone()
    assert exact / total > 0.7
    assert 0 < domain_only < total - exact  # some only by domain, some not at all


def test_line_items_sum_to_amount_and_history_matches(db):
    mismatched = _scalar(
        db,
        """
        WITH li AS (SELECT OpportunityId, sum(TotalPrice::DECIMAL(18,2)) AS total FROM cur_OpportunityLineItem
                    WHERE IsDeleted = 'false' GROUP BY 1)
        SELECT count(*) FROM cur_Opportunity o LEFT JOIN li ON li.OpportunityId = o.Id
        WHERE o.IsDeleted = 'false' AND li.total IS DISTINCT FROM o.Amount::DECIMAL(18,2)""",
    )
    assert mismatched == 0
    bad_history = _scalar(
        db,
        """
        WITH h AS (SELECT * FROM cur_OpportunityHistory
                   QUALIFY row_number() OVER (PARTITION BY OpportunityId ORDER BY CreatedDate DESC) = 1)
        SELECT count(*) FROM cur_Opportunity o LEFT JOIN h ON h.OpportunityId = o.Id
        WHERE h.StageName IS DISTINCT FROM o.StageName OR h.Amount IS DISTINCT FROM o.Amount
           OR h.CloseDate IS DISTINCT FROM o.CloseDate""",
    )
    assert bad_history == 0
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM (SELECT OpportunityId, CreatedDate FROM cur_OpportunityHistory "
            "GROUP BY ALL HAVING count(*) > 1)",
        )
        == 0
    )


def test_stage_flags_and_probability(db):
    assert (
        _scalar(
            db,
            """SELECT count(*) FROM raw_Opportunity o JOIN cur_OpportunityStage s ON s.MasterLabel = o.StageName
        WHERE o.IsClosed <> s.IsClosed OR o.IsWon <> s.IsWon OR o.Probability <> s.DefaultProbability
           OR o.ForecastCategoryName <> s.ForecastCategoryName""",
        )
        == 0
    )
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM raw_Opportunity WHERE StageName NOT IN "
            "(SELECT MasterLabel FROM cur_OpportunityStage)",
        )
        == 0
    )
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM cur_Opportunity WHERE StageName = 'Closed Won' "
            "AND NOT (IsClosed = 'true' AND IsWon = 'true')",
        )
        == 0
    )


def test_realistic_mix(db, stripe_api_version):
    won, lost, open_ = db.execute("""SELECT count(*) FILTER (WHERE IsWon = 'true'),
        count(*) FILTER (WHERE IsClosed = 'true' AND IsWon = 'false'), count(*) FILTER (WHERE IsClosed = 'false')
        FROM cur_Opportunity WHERE IsDeleted = 'false'""").fetchone()
    assert won > 0 and lost > won and open_ > 0
    assert _scalar(db, "SELECT count(DISTINCT CurrencyIsoCode) FROM cur_Opportunity") == 4
    assert _scalar(db, "SELECT count(DISTINCT Type) FROM cur_Opportunity") == 3
    assert _scalar(db, "SELECT count(*) FROM cur_Opportunity WHERE IsDeleted = 'true'") > 0
    assert _scalar(db, "SELECT count(*) FROM cur_User WHERE IsActive = 'false'") > 0
    assert _scalar(db, "SELECT count(*) FROM cur_Lead WHERE IsConverted = 'true'") > 0
    # slipped close dates and reopened deals are visible in history
    assert (
        _scalar(
            db,
            """SELECT count(DISTINCT OpportunityId) FROM (SELECT OpportunityId, CloseDate,
        lag(CloseDate) OVER (PARTITION BY OpportunityId ORDER BY CreatedDate) AS prev FROM raw_OpportunityHistory)
        WHERE CloseDate > prev""",
        )
        > 0
    )
    assert (
        _scalar(
            db,
            """SELECT count(*) FROM (SELECT StageName, lag(StageName) OVER (PARTITION BY OpportunityId
        ORDER BY CreatedDate) AS prev FROM raw_OpportunityHistory) WHERE prev = 'Closed Lost'
        AND StageName NOT IN ('Closed Lost')""",
        )
        > 0
    )
    # later batches carry genuine updates of records delivered earlier
    assert (
        _scalar(db, "SELECT count(*) FROM (SELECT Id FROM raw_Opportunity GROUP BY Id HAVING count(*) > 1)")
        > 0
    )
    statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM cur_invoices").fetchall()}
    assert {"paid", "open", "void", "uncollectible"} <= statuses
    sub_statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM raw_subscriptions").fetchall()}
    assert {"active", "canceled"} <= sub_statuses
    assert _scalar(db, "SELECT count(*) FROM raw_charges WHERE status = 'failed' AND NOT paid") > 0
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM (SELECT unnest(lines.data) AS d FROM raw_invoices) WHERE "
            + (
                "d.parent.subscription_item_details.proration"
                if stripe_versions.is_basil_or_later(stripe_api_version)
                else "d.proration"
            ),
        )
        > 0
    )
    assert _scalar(db, "SELECT count(DISTINCT currency) FROM raw_customers") == 4
    assert (
        _scalar(
            db, "SELECT count(*) FROM (SELECT customer FROM cur_subscriptions GROUP BY 1 HAVING count(*) > 1)"
        )
        > 0
    )  # reactivations
    assert _scalar(db, "SELECT count(*) FROM (SELECT id FROM raw_events GROUP BY 1 HAVING count(*) > 1)") > 0
    assert _scalar(db, "SELECT count(*) FROM raw_events WHERE is_deleted") > 0


def test_conversion_rates_cover_every_currency_every_day(db):
    gaps = _scalar(
        db,
        """
        WITH days AS (SELECT unnest(range(DATE '2024-01-01', DATE '2026-01-01', INTERVAL 1 DAY))::DATE AS d),
             cur AS (SELECT DISTINCT IsoCode FROM cur_DatedConversionRate)
        SELECT count(*) FROM days, cur WHERE (SELECT count(*) FROM cur_DatedConversionRate r
            WHERE r.IsoCode = cur.IsoCode AND r.StartDate::DATE <= d AND d < r.NextStartDate::DATE) <> 1""",
    )
    assert gaps == 0
    assert {r[0] for r in db.execute("SELECT DISTINCT IsoCode FROM cur_DatedConversionRate").fetchall()} == {
        "USD",
        "EUR",
        "GBP",
        "JPY",
    }
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM cur_DatedConversionRate WHERE IsoCode = 'USD' "
            "AND ConversionRate <> '1.000000'",
        )
        == 0
    )


def test_quotas_only_while_employed(db):
    assert (
        _scalar(
            db,
            """SELECT count(*) FROM cur_ForecastingQuota q JOIN cur_User u ON u.Id = q.QuotaOwnerId
        WHERE q.StartDate::DATE < u.CreatedDate::TIMESTAMPTZ::DATE
           OR (u.IsActive = 'false' AND q.StartDate::DATE > u.SystemModstamp::TIMESTAMPTZ::DATE)""",
        )
        == 0
    )
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM cur_ForecastingQuota WHERE date_part('day', StartDate::DATE) <> 1 "
            "OR date_part('month', StartDate::DATE) NOT IN (1, 4, 7, 10)",
        )
        == 0
    )


# ------------------------------------------------------------------------------------------ dirty


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "dirty_manifest.jsonl").read_text().splitlines()]


def test_manifest_counts(dirty):
    out, summary = dirty
    m = _manifest(out)
    assert collections.Counter(e["defect"] for e in m) == EXPECTED_DEFECTS
    assert summary["dirty_manifest.jsonl"] == len(m)
    by_source = collections.defaultdict(set)
    for e in m:
        if e["expect"] == "quarantine":
            by_source[e["defect"]].add(e["file"].split("/")[0])
    assert all(v == {"crm", "billing", "activity"} for v in by_source.values())
    # one defect per row
    rows = [(e["file"], e["row"]) for e in m if e["row"] is not None]
    assert len(rows) == len(set(rows))
    # every semantic defect names the gate that catches it
    for e in m:
        if e["expect"] == "gate":
            assert (
                e["suite"].count(".") == 1 and e["expectation"] and e["severity"] in ("critical", "warning")
            ), e
            assert e["id"] and e["row"] is not None and e["field"], e
        else:
            assert not {"suite", "expectation", "severity"} & set(e), e


_ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)")
_ISO_OFF = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")
_VALID_CRM = {
    "Amount": lambda v: re.fullmatch(r"-?\d+(\.\d+)?", v),
    "CloseDate": lambda v: re.fullmatch(r"\d{4}-\d\d-\d\d", v),
    "IsWon": lambda v: v in ("true", "false"),
    "CreatedDate": lambda v: _ISO_Z.fullmatch(v),
}


def _record(out: Path, rel: str, row: int) -> str:
    return (out / rel).read_text(encoding="utf-8").split("\n")[row if rel.endswith(".csv") else row - 1]


def test_each_manifest_row_has_its_defect(dirty):
    out, _ = dirty
    m = _manifest(out)
    for e in m:
        path, kind, rel = out / e["file"], e["defect"], e["file"]
        if e["row"] is not None and kind != "quoted_newline":
            line = _record(out, rel, e["row"])
        if rel.endswith(".csv") and e["row"] is not None and kind != "quoted_newline":
            header = path.read_text(encoding="utf-8").split("\n")[0].split(",")
            if kind == "unparseable_row":
                last = path.read_text(encoding="utf-8").rstrip("\n").split("\n")[-1]
                fields = next(csv.reader([line]))
                assert len(fields) != len(header) or (line == last and line.count('"') % 2 == 1), e
                continue
            rec = dict(zip(header, next(csv.reader([line])), strict=True))
            assert rec["Id"] == e["id"], e
            if e["expect"] == "gate":
                assert _GATE_DEFECTS[kind](rec[e["field"]]), e
            elif kind == "wrong_type":
                assert rec[e["field"]] and not _VALID_CRM[e["field"]](rec[e["field"]]), e
            elif kind == "missing_required":
                assert rec[e["field"]] == "", e
            elif kind == "duplicate_conflict":
                twins = [x for x in m if x["file"] == rel and x["id"] == e["id"]]
                assert len(twins) == 2
                a, b = (
                    dict(zip(header, next(csv.reader([_record(out, rel, t["row"])])), strict=True))
                    for t in twins
                )
                assert a["SystemModstamp"] == b["SystemModstamp"] and a != b
        elif rel.endswith(".jsonl") and e["row"] is not None:
            if kind == "unparseable_row":
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                assert not isinstance(obj, dict), e
                continue
            rec = json.loads(line)
            assert rec["id"] == e["id"]
            value = rec.get(e["field"])
            if e["expect"] == "gate":
                assert _GATE_DEFECTS[kind](value), e
            elif kind == "wrong_type":
                if e["field"] == "occurred_at":
                    assert not _ISO_OFF.fullmatch(value), e
                else:
                    assert not (isinstance(value, int) and not isinstance(value, bool)), e
            elif kind == "missing_required":
                assert value is None, e
            elif kind == "duplicate_conflict":
                twins = [x for x in m if x["file"] == rel and x["id"] == e["id"]]
                a, b = (json.loads(_record(out, rel, t["row"])) for t in twins)
                assert a != b and a.get("updated_at") == b.get("updated_at")
        elif kind == "refuse_missing_key_column":
            assert "Id" not in path.read_text().split("\n")[0].split(",")
        elif kind == "refuse_invalid_file":
            if rel.endswith(".parquet"):
                with pytest.raises(duckdb.Error):
                    duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
            else:
                with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
                    [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
        elif kind == "bom":
            assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        elif kind == "crlf":
            assert b"\r\n" in path.read_bytes()
        elif kind in ("reordered_columns", "extra_column", "quoted_newline"):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.reader(fh))
            obj = rel.split("/")[1]
            if kind == "reordered_columns":
                assert (
                    rows[0] != [c for c in rows[0] if c in CRM_FIELDS[obj]]
                    or [c for c in rows[0] if c in CRM_FIELDS[obj]] != CRM_FIELDS[obj]
                )
            elif kind == "extra_column":
                assert e["field"] in rows[0] and e["field"] not in CRM_FIELDS[obj]
            else:
                rec = dict(zip(rows[0], rows[e["row"]], strict=True))
                assert "\n" in rec[e["field"]] and rec["Id"] == e["id"]
        elif kind == "empty_file":
            assert path.stat().st_size == 0
        elif kind == "header_only":
            assert path.read_text().count("\n") == 1
        else:
            pytest.fail(f"unchecked manifest entry {e}")


def test_tolerated_file_loads_fully(dirty):
    out, _ = dirty
    rel = next(e["file"] for e in _manifest(out) if e["defect"] == "bom")
    rows = duckdb.sql(f"SELECT * FROM read_csv('{out / rel}', all_varchar=true, header=true)").fetchall()
    assert len(rows) == 4


def test_dirty_keeps_clean_rows_identical(clean, dirty):
    c_out, d_out = clean[0], dirty[0]
    m = _manifest(d_out)
    injected = collections.defaultdict(set)
    for e in m:
        if e["row"] is not None:
            injected[e["file"]].add(e["row"])
    clean_files = _tree_hashes(c_out)
    dirty_files = _tree_hashes(d_out)
    assert set(clean_files) <= set(dirty_files)
    for rel, h in clean_files.items():
        if rel not in injected:
            assert dirty_files[rel] == h, rel
            continue
        d_lines = (d_out / rel).read_text(encoding="utf-8").split("\n")
        offset = 1 if rel.endswith(".csv") else 0
        kept = [x for i, x in enumerate(d_lines) if (i + 1 - offset) not in injected[rel]]
        assert kept == (c_out / rel).read_text(encoding="utf-8").split("\n"), rel

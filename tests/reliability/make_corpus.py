"""Writes the bad-input corpus: one small landing zone per defect, with its expected outcome in a manifest.

    .venv/bin/python tests/reliability/make_corpus.py            # (re)writes tests/reliability/corpus/

Every case is a landing zone (`<case>/landing/<source>/<object>/<file>`) holding one delivered file
whose outcome is known by construction: refused (nothing of it loads, the message names the file and
the problem), or loaded with an exact number of rows loaded, quarantined (by reason) and unchanged.
The counts in the manifest are written here by hand from the rows each case writes, never read back
from the loader. Cases too big to commit (a 10 MB field) or that cannot be committed (a link pointing
out of the landing zone) are listed in the manifest with `"runtime": true` and written by
`write_runtime_cases` when the test runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
MANIFEST = "manifest.json"
BIG_FIELD = 10_000_000  # characters in the "10 MB single field" cases

OPP = (
    "Id,Name,AccountId,OwnerId,StageName,Amount,Probability,CloseDate,IsClosed,IsWon,ForecastCategoryName,"
    "CurrencyIsoCode,CreatedDate,SystemModstamp,IsDeleted"
).split(",")
ACCOUNT = (
    "Id,Name,Type,Industry,BillingCountry,NumberOfEmployees,AnnualRevenue,OwnerId,Website,CreatedDate,"
    "SystemModstamp,IsDeleted"
).split(",")


def opp(n: int, **over: str) -> dict[str, str]:
    rec = {
        "Id": f"0060000000000{n:02d}AAA",
        "Name": f"Deal {n}",
        "AccountId": "001000000000001AAA",
        "OwnerId": "005000000000001AAA",
        "StageName": "Prospecting",
        "Amount": f"{1000 + n}.50",
        "Probability": "10",
        "CloseDate": "2025-03-31",
        "IsClosed": "false",
        "IsWon": "false",
        "ForecastCategoryName": "Pipeline",
        "CurrencyIsoCode": "USD",
        "CreatedDate": "2025-01-05T10:00:00.000Z",
        "SystemModstamp": "2025-01-05T10:00:00.000Z",
        "IsDeleted": "false",
    }
    rec.update(over)
    return rec


def account(n: int, **over: str) -> dict[str, str]:
    rec = {
        "Id": f"0010000000000{n:02d}AAA",
        "Name": f"Account {n}",
        "Type": "Customer",
        "Industry": "Software",
        "BillingCountry": "DE",
        "NumberOfEmployees": "120",
        "AnnualRevenue": "5000000",
        "OwnerId": "005000000000001AAA",
        "Website": f"acct{n}.example.com",
        "CreatedDate": "2025-01-05T10:00:00.000Z",
        "SystemModstamp": "2025-01-05T10:00:00.000Z",
        "IsDeleted": "false",
    }
    rec.update(over)
    return rec


def invoice(n: int, **over) -> dict:
    rec = {
        "id": f"in_{n:04d}",
        "object": "invoice",
        "customer": "cus_0001",
        "subscription": "sub_0001",
        "status": "paid",
        "created": 1735689600,
        "period_start": 1735689600,
        "period_end": 1738368000,
        "currency": "usd",
        "subtotal": 12000,
        "total": 12000,
        "amount_due": 12000,
        "amount_paid": 12000,
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": f"il_{n:04d}",
                    "amount": 12000,
                    "currency": "usd",
                    "period": {"start": 1735689600, "end": 1738368000},
                    "quantity": 1,
                    "proration": False,
                    "description": "Pro plan",
                }
            ],
            "has_more": False,
        },
        "status_transitions": {"paid_at": 1735693200},
    }
    rec.update(over)
    return rec


def price(n: int, **over) -> dict:
    rec = {
        "id": f"price_{n:04d}",
        "object": "price",
        "product": "prod_0001",
        "currency": "usd",
        "unit_amount": 5000,
        "type": "recurring",
        "recurring": {"interval": "month", "interval_count": 1},
        "active": True,
        "created": 1735689600,
    }
    rec.update(over)
    return rec


def charge(n: int, **over) -> dict:
    rec = {
        "id": f"ch_{n:04d}",
        "object": "charge",
        "customer": "cus_0001",
        "invoice": f"in_{n:04d}",
        "amount": 12000,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "succeeded",
        "paid": True,
        "refunded": False,
        "created": 1735693200,
    }
    rec.update(over)
    return rec


def subscription(n: int, **over) -> dict:
    rec = {
        "id": f"sub_{n:04d}",
        "object": "subscription",
        "customer": "cus_0001",
        "status": "active",
        "created": 1735689600,
        "start_date": 1735689600,
        "currency": "usd",
        "items": {
            "object": "list",
            "data": [{"id": f"si_{n:04d}", "price": price(1), "quantity": 2}],
            "has_more": False,
        },
        "metadata": {"salesforce_opportunity_id": "006000000000001AAA"},
    }
    rec.update(over)
    return rec


def event(n: int, **over) -> dict:
    rec = {
        "id": f"ev_{n:05d}",
        "type": "call",
        "direction": "outbound",
        "occurred_at": "2025-03-31T09:05:00-07:00",
        "updated_at": "2025-03-31T09:06:00-07:00",
        "rep_email": "ada.rep@example.com",
        "participant_emails": ["buyer@customer.example"],
        "crm_account_id": "001000000000001AAA",
        "duration_seconds": 300,
        "outcome": "connected",
        "subject": f"Call {n}",
    }
    rec.update(over)
    return rec


def csv_text(header: list[str], rows: list[dict[str, str]], newline: str = "\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    return buf.getvalue()


def jsonl(records: list) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


def loaded(rows_in, loaded_, quarantined=0, unchanged=0, reasons=None, checks=None) -> dict:
    return {
        "status": "loaded",
        "rows_in": rows_in,
        "rows_loaded": loaded_,
        "rows_quarantined": quarantined,
        "rows_unchanged": unchanged,
        "reasons": reasons or {},
        "checks": checks or [],
    }


def refused(message: str) -> dict:
    return {"status": "refused", "message": message}


def _cases() -> list[dict]:
    """(id, source, object, file, content bytes, expected outcome, what it is) for every committed case."""
    c: list[dict] = []

    def add(id_, rel, content, expect, about, **extra):
        if isinstance(content, str):
            content = content.encode("utf-8")
        source = rel.split("/")[0]
        c.append(
            {"id": id_, "source": source, "file": rel, "about": about, "expect": expect, **extra}
            | {"_content": content}
        )

    opps = [opp(i) for i in range(1, 6)]
    good5 = csv_text(OPP, opps)

    # --- CRM (Salesforce Bulk API CSV) -------------------------------------------------------------
    add(
        "crm_truncated_mid_row",
        "crm/Opportunity/b.csv",
        good5 + ",".join(opp(6).values())[:40],
        loaded(6, 5, 1, reasons={"unparseable_row": 1}),
        "the transfer stopped in the middle of the last row",
    )
    add(
        "crm_truncated_in_quoted_field",
        "crm/Opportunity/b.csv",
        good5 + '0060000000000099AAA,"Deal that never ends',
        loaded(6, 5, 1, reasons={"unparseable_row": 1}),
        "the file ends inside an open quote",
    )
    add(
        "crm_wrong_delimiter",
        "crm/Opportunity/b.csv",
        good5.replace(",", ";"),
        refused("the header has no 'Id' column"),
        "semicolon-separated export (European Excel)",
    )
    add(
        "crm_tab_delimiter",
        "crm/Account/b.csv",
        csv_text(ACCOUNT, [account(1)]).replace(",", "\t"),
        refused("the header has no 'Id' column"),
        "tab-separated export",
    )
    add(
        "crm_header_only",
        "crm/Opportunity/b.csv",
        csv_text(OPP, []),
        loaded(0, 0),
        "a header and no rows: a query that matched nothing",
    )
    add(
        "crm_zero_bytes",
        "crm/Opportunity/b.csv",
        b"",
        loaded(0, 0),
        "a 0-byte file",
    )
    extra_hdr = [*OPP, "Legacy_Code__c", "Region__c"]
    add(
        "crm_unknown_extra_columns",
        "crm/Opportunity/b.csv",
        csv_text(extra_hdr, [opp(1, Legacy_Code__c="L-1", Region__c="EMEA"), opp(2)]),
        loaded(
            2,
            2,
            checks=[
                [
                    'SELECT "Legacy_Code__c", "Region__c" FROM raw.crm__opportunity WHERE "Id" = '
                    "'006000000000001AAA'",
                    [["L-1", "EMEA"]],
                ]
            ],
        ),
        "custom fields the contract does not know: kept as text columns",
    )
    add(
        "crm_missing_required_column",
        "crm/Account/b.csv",
        csv_text([h for h in ACCOUNT if h != "OwnerId"], [account(1), account(2), account(3)]),
        loaded(3, 0, 3, reasons={"missing_required": 3}),
        "the export lacks the required OwnerId field: every row is quarantined, none silently loses it",
    )
    add(
        "crm_quoted_newlines",
        "crm/Opportunity/b.csv",
        csv_text(OPP, [opp(1, Name="Line one\nLine two, with a comma"), opp(2, Name='He said "yes"\r\nok')]),
        loaded(
            2,
            2,
            checks=[
                [
                    'SELECT "Name" FROM raw.crm__opportunity ORDER BY "Id"',
                    [["Line one\nLine two, with a comma"], ['He said "yes"\r\nok']],
                ]
            ],
        ),
        "quoted fields holding newlines, commas and quotes",
    )
    bad_utf8 = (
        csv_text(OPP, [opp(1), opp(2, Name="MARKER"), opp(3)]).encode().replace(b"MARKER", b"Caf\xe9 \xff")
    )
    add(
        "crm_invalid_utf8",
        "crm/Opportunity/b.csv",
        bad_utf8,
        loaded(3, 2, 1, reasons={"unparseable_row": 1}),
        "one row in Latin-1, not UTF-8: quarantined, the others load",
    )
    add(
        "crm_utf8_bom",
        "crm/Opportunity/b.csv",
        b"\xef\xbb\xbf" + good5.encode(),
        loaded(5, 5, checks=[["SELECT count(*) FROM raw.crm__opportunity WHERE \"Id\" LIKE '006%'", [[5]]]]),
        "Excel's UTF-8 byte order mark before the header",
    )
    add(
        "crm_crlf",
        "crm/Opportunity/b.csv",
        csv_text(OPP, opps, newline="\r\n"),
        loaded(
            5,
            5,
            checks=[
                [
                    'SELECT count(*) FROM raw.crm__opportunity WHERE "IsDeleted" = false '
                    "AND \"Name\" NOT LIKE '%' || chr(13)",
                    [[5]],
                ]
            ],
        ),
        "Windows line endings",
    )
    add(
        "crm_non_numeric_amount",
        "crm/Opportunity/b.csv",
        csv_text(OPP, [opp(1), opp(2, Amount="TBD"), opp(3, Amount="12.5k"), opp(4)]),
        loaded(4, 2, 2, reasons={"wrong_type": 2}),
        "Amount 'TBD' and '12.5k'",
    )
    add(
        "crm_amount_thousands_separators",
        "crm/Opportunity/b.csv",
        csv_text(OPP, [opp(1), opp(2, Amount="12,500.00"), opp(3, Amount="1.250.000,00"), opp(4)]),
        loaded(4, 2, 2, reasons={"wrong_type": 2}),
        "Amount with thousands separators (US and German): never guessed",
    )
    add(
        "crm_other_date_formats",
        "crm/Opportunity/b.csv",
        csv_text(
            OPP,
            [
                opp(1),
                opp(2, CloseDate="12/31/2025"),
                opp(3, CloseDate="31.12.2025"),
                opp(4, CloseDate="2025/12/31"),
                opp(5, CloseDate="2025-02-30"),
            ],
        ),
        loaded(5, 1, 4, reasons={"wrong_type": 4}),
        "CloseDate as MM/DD/YYYY, DD.MM.YYYY, YYYY/MM/DD and an impossible date",
    )
    add(
        "crm_timestamp_without_zone",
        "crm/Opportunity/b.csv",
        csv_text(
            OPP,
            [
                opp(1, SystemModstamp="2025-01-05T10:00:00.000+0000"),
                opp(2, SystemModstamp="2025-01-05 10:00:00"),
                opp(3, CreatedDate="2025-01-05T10:00:00"),
            ],
        ),
        loaded(
            3,
            1,
            2,
            reasons={"wrong_type": 2},
            checks=[
                [
                    'SELECT CAST("SystemModstamp" AS VARCHAR) FROM raw.crm__opportunity',
                    [["2025-01-05 10:00:00+00"]],
                ]
            ],
        ),
        "timestamps without a zone are ambiguous: quarantined; +0000 is accepted",
    )
    add(
        "crm_duplicate_ids_conflicting",
        "crm/Opportunity/b.csv",
        csv_text(OPP, [opp(1), opp(2, Amount="500.00"), opp(2, Amount="900.00"), opp(3), opp(3)]),
        loaded(5, 2, 2, unchanged=1, reasons={"duplicate_conflict": 2}),
        "same Id and SystemModstamp twice with different Amount (both quarantined); an exact repeat loads once",
    )
    add(
        "crm_negative_and_huge_amounts",
        "crm/Opportunity/b.csv",
        csv_text(
            OPP, [opp(1, Amount="-2500.00"), opp(2, Amount="999999999999.999999"), opp(3, Amount="1e15")]
        )
        + ",".join(opp(4, Amount="1234567890123456789").values())
        + "\n",
        loaded(
            4,
            2,
            2,
            reasons={"wrong_type": 2},
            checks=[
                [
                    'SELECT CAST("Amount" AS VARCHAR) FROM raw.crm__opportunity ORDER BY "Id"',
                    [["-2500.000000"], ["999999999999.999999"]],
                ]
            ],
        ),
        "a credit (-2500) and the largest Amount DECIMAL(18,6) holds load; 1e15 and 19 digits do not fit",
    )
    add(
        "crm_unknown_currency",
        "crm/Opportunity/b.csv",
        csv_text(OPP, [opp(1, CurrencyIsoCode="XYZ"), opp(2)]),
        loaded(2, 2),
        "currency code no conversion rate exists for: raw keeps it, the dbt/GE gates flag it",
    )
    add(
        "crm_future_dates",
        "crm/Opportunity/b.csv",
        csv_text(OPP, [opp(1, CloseDate="2099-12-31"), opp(2, CreatedDate="2099-01-01T00:00:00Z")]),
        loaded(2, 2),
        "a close date in 2099 is a valid forecast; the raw layer does not judge business plausibility",
    )
    add(
        "crm_binary_garbage",
        "crm/Opportunity/b.csv",
        bytes(range(256)) * 40,
        refused("the header is not UTF-8 text"),
        "not text at all",
    )
    add(
        "crm_latin1_header",
        "crm/Account/b.csv",
        csv_text([*ACCOUNT, "Région__c"], [account(1)]).encode("latin-1"),
        refused("export the file as UTF-8 CSV"),
        "a Windows-1252/Latin-1 export: its header is not UTF-8",
    )
    add(
        "crm_empty_column_name",
        "crm/Opportunity/b.csv",
        csv_text([*OPP, ""], [opp(1)]),
        refused("empty column name"),
        "a header with an unnamed column",
    )
    hostile = "x; drop table raw.crm__account; --"
    add(
        "crm_hostile_column_name",
        "crm/Opportunity/b.csv",
        csv_text([*OPP, hostile], [opp(1, **{hostile: "boom"})]),
        loaded(
            1,
            1,
            checks=[
                [f'SELECT "{hostile}" FROM raw.crm__opportunity', [["boom"]]],
                ["SELECT count(*) FROM information_schema.tables WHERE table_name = 'crm__account'", [[1]]],
            ],
        ),
        "a column name that is an SQL injection attempt: loaded as a column, drops nothing",
    )
    add(
        "crm_blank_lines_and_short_rows",
        "crm/Opportunity/b.csv",
        good5 + "\n" + "0060000000000077AAA,Deal 77\n",
        loaded(6, 5, 1, reasons={"unparseable_row": 1}),
        "a blank line (ignored: carries no record) and a row with 2 of 15 fields (quarantined)",
    )

    # --- billing (Stripe JSON lines) -----------------------------------------------------------------
    inv3 = [invoice(i) for i in range(1, 4)]
    add(
        "billing_truncated_last_line",
        "billing/invoices/b.jsonl",
        jsonl(inv3) + jsonl([invoice(4)])[:60],
        loaded(4, 3, 1, reasons={"unparseable_row": 1}),
        "the last object is cut off",
    )
    add(
        "billing_json_not_an_object",
        "billing/invoices/b.jsonl",
        jsonl(inv3) + '[1, 2]\n"in_0005"\n42\nnull\n',
        loaded(7, 3, 4, reasons={"unparseable_row": 4}),
        "lines that are JSON but not objects (array, string, number, null)",
    )
    add(
        "billing_no_line_is_an_object",
        "billing/invoices/b.jsonl",
        "id,object,customer\nin_1,invoice,cus_1\n",
        refused("not JSON lines"),
        "a CSV file delivered as .jsonl",
    )
    add(
        "billing_whole_file_is_one_json_array",
        "billing/invoices/b.jsonl",
        json.dumps(inv3) + "\n",
        refused("not JSON lines"),
        "the API response's data[] array instead of one object per line",
    )
    nested = [
        invoice(1),
        invoice(2, lines=[{"id": "il_x", "amount": 100}]),  # list as a bare array
        invoice(3, customer={"id": "cus_0001", "object": "customer"}),  # expanded where an id belongs
        invoice(4, status_transitions="paid"),  # object as a string
        invoice(5, lines={"object": "list", "data": {"id": "il_y"}, "has_more": False}),  # data not an array
    ]
    add(
        "billing_unexpected_nested_shape",
        "billing/invoices/b.jsonl",
        jsonl(nested),
        loaded(5, 1, 4, reasons={"wrong_type": 4}),
        "Stripe objects with an unexpected nested shape (array for a list, expanded customer, ...)",
    )
    add(
        "billing_amount_not_integer",
        "billing/charges/b.jsonl",
        jsonl([charge(1), charge(2, amount="120.00"), charge(3, amount=120.5), charge(4, amount=True)]),
        loaded(4, 1, 3, reasons={"wrong_type": 3}),
        "amounts as a string, a float and a boolean where Stripe sends integer minor units",
    )
    add(
        "billing_negative_and_huge_amounts",
        "billing/invoices/b.jsonl",
        jsonl([invoice(1, total=-5000, subtotal=-5000), invoice(2, total=10**18 - 1)])
        + jsonl([invoice(3, total=10**19)])
        + jsonl([invoice(4, total=-(10**20))]),
        loaded(
            4,
            2,
            2,
            reasons={"wrong_type": 2},
            checks=[["SELECT total FROM raw.billing__invoice ORDER BY id", [[-5000], [10**18 - 1]]]],
        ),
        "a credit (-5000) and 18 digits load; amounts beyond BIGINT are quarantined, never wrapped",
    )
    add(
        "billing_unknown_currency",
        "billing/charges/b.jsonl",
        jsonl([charge(1, currency="xyz"), charge(2)]),
        loaded(2, 2),
        "an ISO code nobody uses: raw keeps it as delivered",
    )
    add(
        "billing_zero_decimal_currency",
        "billing/invoices/b.jsonl",
        jsonl(
            [invoice(1, currency="jpy", subtotal=120000, total=120000, amount_due=120000, amount_paid=120000)]
        ),
        loaded(
            1,
            1,
            checks=[["SELECT currency, total FROM raw.billing__invoice", [["jpy", 120000]]]],
        ),
        "JPY has no minor unit: 120000 is ¥120,000 and stays the integer 120000",
    )
    add(
        "billing_timestamp_formats",
        "billing/charges/b.jsonl",
        jsonl(
            [
                charge(1),
                charge(2, created="2025-01-01T00:00:00Z"),
                charge(3, created=1735693200.5),
                charge(4, created=10**12 * 300),
            ]
        ),
        loaded(4, 1, 3, reasons={"wrong_type": 3}),
        "created as an ISO string, a float, and past year 9999 where Stripe sends unix seconds",
    )
    add(
        "billing_future_dates",
        "billing/charges/b.jsonl",
        jsonl([charge(1, created=4102444800)]),
        loaded(
            1,
            1,
            checks=[
                ["SELECT CAST(created AS VARCHAR) FROM raw.billing__charge", [["2100-01-01 00:00:00+00"]]]
            ],
        ),
        "a charge created in 2100 loads as delivered (the freshness/business gates judge it)",
    )
    add(
        "billing_duplicate_ids_conflicting",
        "billing/prices/b.jsonl",
        jsonl([price(1), price(2, unit_amount=5000), price(2, unit_amount=7000), price(3), price(3)]),
        loaded(5, 2, 2, unchanged=1, reasons={"duplicate_conflict": 2}),
        "the same price id twice with different content (no version stamp to decide)",
    )
    add(
        "billing_invalid_utf8",
        "billing/invoices/b.jsonl",
        jsonl(inv3).encode().replace(b'"Pro plan"', b'"Pro \xff plan"', 1),
        loaded(3, 2, 1, reasons={"unparseable_row": 1}),
        "one line with a byte that is not UTF-8",
    )
    add(
        "billing_bom_and_crlf",
        "billing/invoices/b.jsonl",
        b"\xef\xbb\xbf" + jsonl(inv3).replace("\n", "\r\n").encode(),
        loaded(3, 3),
        "a byte order mark and Windows line endings",
    )
    add(
        "billing_zero_bytes",
        "billing/subscriptions/b.jsonl",
        b"",
        loaded(0, 0),
        "a 0-byte file",
    )
    add(
        "billing_missing_required_key",
        "billing/subscriptions/b.jsonl",
        jsonl([subscription(1), {k: v for k, v in subscription(2).items() if k != "customer"}]),
        loaded(2, 1, 1, reasons={"missing_required": 1}),
        "a subscription without its customer",
    )
    add(
        "billing_hostile_key",
        "billing/charges/b.jsonl",
        jsonl([charge(1) | {'x"; drop table raw.billing__invoice; --': 1}]),
        loaded(
            1,
            1,
            checks=[
                [
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'billing__invoice'",
                    [[1]],
                ],
                [
                    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'billing__charge' "
                    "AND column_name = 'x\"; drop table raw.billing__invoice; --'",
                    [[1]],
                ],
            ],
        ),
        "a JSON key that is an SQL injection attempt",
    )

    # --- activity (engagement events, JSON lines) -----------------------------------------------------
    add(
        "activity_unknown_rep",
        "activity/events/b.jsonl",
        jsonl([event(1), event(2, rep_email="nobody@unknown.example")]),
        loaded(2, 2),
        "an event by a rep no CRM user has: raw keeps it, the marts' rep join reports it",
    )
    add(
        "activity_timestamp_without_zone",
        "activity/events/b.jsonl",
        jsonl(
            [event(1), event(2, occurred_at="2025-03-31T09:05:00"), event(3, updated_at="03/31/2025 09:06")]
        ),
        loaded(3, 1, 2, reasons={"wrong_type": 2}),
        "occurred_at without an offset, updated_at in US format",
    )
    add(
        "activity_duplicate_ids_conflicting",
        "activity/events/b.jsonl",
        jsonl([event(1), event(2, outcome="busy"), event(2, outcome="connected")]),
        loaded(3, 1, 2, reasons={"duplicate_conflict": 2}),
        "same id and updated_at, different outcome",
    )
    add(
        "activity_shape_errors",
        "activity/events/b.jsonl",
        jsonl(
            [
                event(1),
                event(2, participant_emails="buyer@customer.example"),
                event(3, duration_seconds="300"),
                {k: v for k, v in event(4).items() if k != "rep_email"},
            ]
        ),
        loaded(4, 1, 3, reasons={"wrong_type": 2, "missing_required": 1}),
        "participants as a string, duration as a string, no rep_email",
    )
    add(
        "activity_json_not_an_object",
        "activity/events/b.jsonl",
        jsonl([event(1)]) + '["call"]\n{"id": "ev_9", \n',
        loaded(3, 1, 2, reasons={"unparseable_row": 2}),
        "an array line and a broken line between events",
    )
    add(
        "activity_future_dates",
        "activity/events/b.jsonl",
        jsonl([event(1, occurred_at="2099-01-01T00:00:00Z", updated_at="2099-01-01T00:00:00Z")]),
        loaded(1, 1),
        "an event dated 2099 loads as delivered",
    )
    return c


RUNTIME_CASES = [
    {
        "id": "crm_10mb_single_field",
        "source": "crm",
        "file": "crm/Opportunity/b.csv",
        "about": "one Name of 10,000,000 characters: legitimate data, loaded whole",
        "runtime": True,
        "expect": loaded(
            2, 2, checks=[['SELECT max(length("Name")) FROM raw.crm__opportunity', [[BIG_FIELD]]]]
        ),
    },
    {
        "id": "billing_10mb_single_field",
        "source": "billing",
        "file": "billing/invoices/b.jsonl",
        "about": "an invoice line description of 10,000,000 characters",
        "runtime": True,
        "expect": loaded(
            2,
            2,
            checks=[
                [
                    "SELECT max(length(lines->'$.data[0]'->>'$.description')) FROM raw.billing__invoice",
                    [[BIG_FIELD]],
                ]
            ],
        ),
    },
    {
        "id": "activity_10mb_single_field",
        "source": "activity",
        "file": "activity/events/b.jsonl",
        "about": "an e-mail subject of 10,000,000 characters",
        "runtime": True,
        "expect": loaded(1, 1, checks=[["SELECT length(subject) FROM raw.activity__event", [[BIG_FIELD]]]]),
    },
    {
        "id": "crm_symlink_out_of_landing_zone",
        "source": "crm",
        "file": "crm/Opportunity/evil.csv",
        "about": "a link in the landing zone to a file outside it: not read, reported",
        "runtime": True,
        "expect": refused("links outside the landing zone"),
    },
    {
        "id": "crm_folder_symlink_out_of_landing_zone",
        "source": "crm",
        "file": "crm/Account/evil.csv",
        "about": "the object folder itself is a link to a folder outside the landing zone",
        "runtime": True,
        "expect": refused("links outside the landing zone"),
    },
    {
        "id": "crm_path_traversal_name",
        "source": "crm",
        "file": "crm/Opportunity/../../../outside/secret.csv",
        "about": "a file name with ../ handed to the loader (e.g. from a sensor or API): never read",
        "runtime": True,
        "direct": True,
        "expect": refused("outside the landing zone"),
    },
]


def write_runtime_cases(root: Path) -> None:
    """Write the cases that are not committed: 10 MB fields, links and files outside the landing zone."""
    big = "x" * BIG_FIELD
    files = {
        "crm_10mb_single_field": csv_text(OPP, [opp(1, Name=big), opp(2)]),
        "billing_10mb_single_field": jsonl(
            [
                invoice(
                    1,
                    lines={
                        "object": "list",
                        "data": [invoice(1)["lines"]["data"][0] | {"description": big}],
                        "has_more": False,
                    },
                ),
                invoice(2),
            ]
        ),
        "activity_10mb_single_field": jsonl([event(1, subject=big)]),
    }
    by_id = {c["id"]: c for c in RUNTIME_CASES}
    for case_id, text in files.items():
        p = root / case_id / "landing" / by_id[case_id]["file"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    secret = csv_text(OPP, [opp(66, Name="outside the landing zone")])
    for case_id in ("crm_symlink_out_of_landing_zone", "crm_path_traversal_name"):
        outside = root / case_id / "outside" / "secret.csv"
        outside.parent.mkdir(parents=True, exist_ok=True)
        outside.write_text(secret)
        (root / case_id / "landing").mkdir(parents=True, exist_ok=True)
    link = root / "crm_symlink_out_of_landing_zone" / "landing" / "crm/Opportunity/evil.csv"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(root / "crm_symlink_out_of_landing_zone" / "outside" / "secret.csv")
    case = root / "crm_folder_symlink_out_of_landing_zone"
    (case / "outside").mkdir(parents=True, exist_ok=True)
    (case / "outside" / "evil.csv").write_text(csv_text(ACCOUNT, [account(66)]))
    (case / "landing" / "crm").mkdir(parents=True, exist_ok=True)
    (case / "landing" / "crm" / "Account").symlink_to(case / "outside", target_is_directory=True)


def write_corpus(out: Path = CORPUS) -> list[dict]:
    """(Re)write the committed corpus and its manifest; returns the manifest (committed + runtime cases)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest = []
    for case in _cases():
        content = case.pop("_content")
        p = out / case["id"] / "landing" / case["file"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        manifest.append(case)
    manifest += RUNTIME_CASES
    ids = [c["id"] for c in manifest]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def load_manifest(corpus: Path = CORPUS) -> list[dict]:
    return json.loads((corpus / MANIFEST).read_text())


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    m = write_corpus(target)
    by_source = {s: sum(c["source"] == s for c in m) for s in ("crm", "billing", "activity")}
    print(
        f"wrote {len(m)} cases to {os.path.relpath(target)} ({by_source}; {len(RUNTIME_CASES)} written at test time)"
    )

"""The raw loaders on small hand-written deliveries: typing, quarantine, supersede, idempotency, refusal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from ingestion.contract import BY_TABLE
from ingestion.loader import Loader, load_landing
from tests.conftest import table_checksum, write

OPP_HEADER = (
    "Id,Name,AccountId,OwnerId,StageName,Amount,Probability,CloseDate,IsClosed,IsWon,ForecastCategoryName,"
    "CurrencyIsoCode,CreatedDate,SystemModstamp,IsDeleted"
)


def opp(
    id_, stage="Prospecting", amount="1000.00", modstamp="2024-01-05T10:00:00.000Z", deleted="false", **kw
):
    vals = {
        "Id": id_,
        "Name": kw.get("name", f"Deal {id_}"),
        "AccountId": "001000000000001AAA",
        "OwnerId": kw.get("owner", "005000000000001AAA"),
        "StageName": stage,
        "Amount": amount,
        "Probability": "10",
        "CloseDate": kw.get("close", "2024-03-31"),
        "IsClosed": "false",
        "IsWon": "false",
        "ForecastCategoryName": "Pipeline",
        "CurrencyIsoCode": "USD",
        "CreatedDate": kw.get("created", "2024-01-05T10:00:00.000Z"),
        "SystemModstamp": modstamp,
        "IsDeleted": deleted,
    }
    return ",".join(vals[h] for h in OPP_HEADER.split(","))


def csv(*rows: str, header: str = OPP_HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def test_types_are_exact(landing, con):
    write(
        landing,
        "crm/Opportunity/b1.csv",
        csv(opp("006A", amount="1234567.89", created="2024-03-31T17:05:09.000+0000", close="2024-06-30")),
    )
    write(
        landing,
        "activity/events/b1.jsonl",
        '{"id":"ev1","type":"call","direction":"outbound","occurred_at":"2024-03-31T09:05:00-07:00",'
        '"updated_at":"2024-03-31T09:06:00-07:00","rep_email":"a@x.com","participant_emails":["p@y.com"],'
        '"duration_seconds":300}\n',
    )
    write(
        landing,
        "billing/invoices/b1.jsonl",
        '{"id":"in_1","object":"invoice","customer":"cus_1","status":"paid","created":1711904709,'
        '"period_start":1711904709,"period_end":1714496709,"currency":"jpy","subtotal":120000,"total":120000,'
        '"amount_due":120000,"amount_paid":120000,"lines":{"object":"list","data":[],"has_more":false}}\n',
    )
    load_landing(con, landing)
    amount, created, close = con.execute(
        "SELECT Amount, CreatedDate, CloseDate FROM raw.crm__opportunity"
    ).fetchone()
    assert amount == Decimal("1234567.89")
    assert created == dt.datetime(2024, 3, 31, 17, 5, 9, tzinfo=dt.UTC)
    assert close == dt.date(2024, 6, 30)
    occurred, emails = con.execute(
        "SELECT occurred_at, participant_emails FROM raw.activity__event"
    ).fetchone()
    assert occurred == dt.datetime(2024, 3, 31, 16, 5, tzinfo=dt.UTC)  # -07:00 normalised to UTC
    assert emails == '["p@y.com"]'
    total, created = con.execute("SELECT total, created FROM raw.billing__invoice").fetchone()
    assert total == 120000  # minor units stay integers in raw
    assert created == dt.datetime(2024, 3, 31, 17, 5, 9, tzinfo=dt.UTC)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'crm__opportunity'"
        ).fetchall()
    )
    assert types["Amount"] == "DECIMAL(18,6)"
    assert types["CreatedDate"] == "TIMESTAMP WITH TIME ZONE"
    assert types["CloseDate"] == "DATE"
    assert types["IsWon"] == "BOOLEAN"


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_loads(landing, con):
    write(
        landing,
        "crm/Opportunity/b1.csv",
        csv(
            opp("006A"),  # good
            opp("006B", amount="12,500.00").replace("12,500.00", '"12,500.00"'),  # thousands separator
            opp("006C", stage=""),  # required field empty
            opp("006D", close="12/31/2024"),  # date in another format
            opp("006E", created="2024-03-31 17:05:09"),  # timestamp without zone
            opp("006F") + ",extra,fields",  # does not parse: too many fields
            opp("006G", amount="5"),  # conflicting duplicate (same Id and SystemModstamp) ...
            opp("006G", amount="6"),  # ... both quarantined
            opp("006H"),  # exact duplicate: loaded once, not quarantined
            opp("006H"),
        ),
    )
    report = load_landing(con, landing)
    fr = report.objects["crm__opportunity"].files[0]
    assert (fr.rows_in, fr.rows_loaded, fr.rows_quarantined, fr.rows_unchanged) == (10, 2, 7, 1)
    assert sorted(r[0] for r in con.execute("SELECT Id FROM raw.crm__opportunity").fetchall()) == [
        "006A",
        "006H",
    ]
    got = con.execute(
        "SELECT coalesce(record_id, '?'), reason_code, reason FROM audit.quarantine ORDER BY 1, 2"
    ).fetchall()
    codes = [(r[0], r[1]) for r in got]
    assert codes == [
        ("006B", "wrong_type"),
        ("006C", "missing_required"),
        ("006D", "wrong_type"),
        ("006E", "wrong_type"),
        ("006G", "duplicate_conflict"),
        ("006G", "duplicate_conflict"),
        ("?", "unparseable_row"),
    ]
    reasons = {r[0]: r[2] for r in got}
    assert reasons["006B"].startswith("Amount: 12,500.00 is not a plain decimal")
    assert reasons["006C"] == "StageName: required field is empty"
    assert "CloseDate: 12/31/2024" in reasons["006D"]
    assert "CreatedDate: 2024-03-31 17:05:09 is not an ISO 8601" not in reasons["006E"]  # message says 'a'
    assert "CreatedDate" in reasons["006E"] and "zone" in reasons["006E"]
    raw = con.execute(
        "SELECT raw_record FROM audit.quarantine WHERE reason_code = 'unparseable_row'"
    ).fetchone()[0]
    assert raw.startswith("006F,") and raw.endswith(",extra,fields")
    log = con.execute("SELECT status, rows_in, rows_loaded, rows_quarantined FROM audit.load_log").fetchall()
    assert log == [("loaded", 10, 2, 7)]


def test_json_defects(landing, con):
    good = (
        '{"id":"sub_1","object":"subscription","customer":"cus_1","status":"active","created":1704067200,'
        '"start_date":1704067200,"currency":"usd","items":{"object":"list","data":[],"has_more":false}}'
    )
    write(
        landing,
        "billing/subscriptions/b1.jsonl",
        "\n".join(
            [
                good,
                good.replace('"sub_1"', '"sub_2"').replace('"customer":"cus_1",', ""),  # required missing
                good.replace('"sub_1"', '"sub_3"').replace("1704067200,", '"2024-01-01",', 1),  # wrong type
                good.replace('"sub_1"', '"sub_4"').replace(
                    '{"object":"list","data":[],"has_more":false}', "[]"
                ),
                "[1, 2]",  # JSON, not an object
                '{"id": "sub_5", "object": ',  # truncated
                good.replace('"sub_1"', '"sub_6"')[:-1] + ',"plan_nickname":"gold"}',  # extra key
            ]
        )
        + "\n",
    )
    load_landing(con, landing)
    assert con.execute("SELECT id, plan_nickname FROM raw.billing__subscription ORDER BY id").fetchall() == [
        ("sub_1", None),
        ("sub_6", '"gold"'),
    ]
    codes = con.execute("SELECT row_number, reason_code FROM audit.quarantine ORDER BY row_number").fetchall()
    assert codes == [
        (2, "missing_required"),
        (3, "wrong_type"),
        (4, "wrong_type"),
        (5, "unparseable_row"),
        (6, "unparseable_row"),
    ]


def test_loading_twice_is_a_no_op_and_redelivery_under_new_name_is_detected(landing, con):
    write(landing, "crm/Opportunity/b1.csv", csv(opp("006A"), opp("006B", amount="x")))
    load_landing(con, landing)
    before = {t: table_checksum(con, t) for t in ("raw.crm__opportunity", "audit.quarantine")}
    second = load_landing(con, landing)
    assert second.totals()["rows_loaded"] == 0
    assert [f.status for f in second.files] == ["already_loaded"]
    write(landing, "crm/Opportunity/b1_copy.csv", (landing / "crm/Opportunity/b1.csv").read_bytes())
    third = load_landing(con, landing)
    assert [f.status for f in third.files] == ["already_loaded", "duplicate_file"]
    after = {t: table_checksum(con, t) for t in before}
    assert after == before


def test_newer_versions_supersede_and_soft_deletes_are_flagged(landing, con):
    write(landing, "crm/Opportunity/2024-01-01_b1.csv", csv(opp("006A"), opp("006B")))
    write(
        landing,
        "crm/Opportunity/2024-02-01_b2.csv",
        csv(
            opp("006A", stage="Negotiation", modstamp="2024-02-01T00:00:00.000Z"),
            opp("006B", modstamp="2024-02-01T00:00:00.000Z", deleted="true"),
        ),
    )
    # delivered late, but older than what is loaded: kept in history, never current
    write(
        landing,
        "crm/Opportunity/2024-03-01_late.csv",
        csv(opp("006A", stage="Qualification", modstamp="2024-01-20T00:00:00.000Z")),
    )
    load_landing(con, landing)
    current = con.execute(
        "SELECT Id, StageName, IsDeleted FROM raw.crm__opportunity__current ORDER BY Id"
    ).fetchall()
    assert current == [("006A", "Negotiation", False), ("006B", "Prospecting", True)]
    assert con.execute("SELECT count(*) FROM raw.crm__opportunity").fetchone()[0] == 5


def test_out_of_order_delivery_gives_the_same_current_state(tmp_path):
    from ingestion.warehouse import connect

    files = {
        "crm/Opportunity/2024-01-01_b1.csv": csv(opp("006A"), opp("006B")),
        "crm/Opportunity/2024-02-01_b2.csv": csv(
            opp("006A", stage="Closed Won", modstamp="2024-02-01T00:00:00.000Z")
        ),
    }
    results = []
    for order in (list(files), list(reversed(files))):
        run = tmp_path / f"run{len(results)}"
        c = connect(run / "w.duckdb")
        for rel in order:  # deliver one file per load, in this order
            write(run / "landing", rel, files[rel])
            load_landing(c, run / "landing")
        results.append(
            c.execute("SELECT Id, StageName FROM raw.crm__opportunity__current ORDER BY Id").fetchall()
        )
        c.close()
    assert results[0] == results[1] == [("006A", "Closed Won"), ("006B", "Prospecting")]


@pytest.mark.parametrize(
    "rel, content, expected",
    [
        ("crm/Opportunity/nokey.csv", "Name,StageName\nDeal,Prospecting\n", "the header has no 'Id' column"),
        (
            "crm/Opportunity/semicolon.csv",
            "Id;Name;StageName\n006A;Deal;Prospecting\n",
            "the header has no 'Id'",
        ),
        ("billing/invoices/garbage.jsonl", bytes(range(256)) * 20, "not a readable JSON lines file"),
        ("billing/invoices/csv.jsonl", "id,object\nin_1,invoice\n", "not JSON lines"),
        ("billing/invoices/bad.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
    ],
)
def test_refused_file_leaves_the_warehouse_unchanged(landing, con, rel, content, expected):
    write(landing, "crm/Opportunity/good.csv", csv(opp("006A")))
    load_landing(con, landing)
    before = {
        t: table_checksum(con, t)
        for t in ("raw.crm__opportunity", "raw.billing__invoice", "audit.quarantine")
    }
    write(landing, rel, content)
    report = load_landing(con, landing)
    refused = [f for f in report.files if f.status == "refused"]
    assert len(refused) == 1 and refused[0].file == rel
    assert rel in refused[0].message and expected in refused[0].message
    after = {t: table_checksum(con, t) for t in before}
    assert after == before
    assert con.execute("SELECT status FROM audit.load_log WHERE file = ?", [rel]).fetchall() == [("refused",)]


def test_a_crash_mid_load_leaves_nothing_half_written(landing, con, monkeypatch):
    write(landing, "crm/Opportunity/b1.csv", csv(opp("006A"), opp("006B", amount="bad")))
    loader = Loader(con, landing)

    def boom(*a, **k):
        raise RuntimeError("simulated crash after the rows were inserted")

    monkeypatch.setattr(loader, "_log", boom)
    with pytest.raises(RuntimeError):
        loader.load_object(BY_TABLE["crm__opportunity"])
    assert con.execute("SELECT count(*) FROM raw.crm__opportunity").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM audit.quarantine").fetchone()[0] == 0
    monkeypatch.undo()
    report = load_landing(con, landing)  # a plain re-run converges
    assert report.totals()["rows_loaded"] == 1 and report.totals()["rows_quarantined"] == 1


def test_tolerances_bom_crlf_reordered_extra_quoted_newline_empty(landing, con):
    cols = OPP_HEADER.split(",")
    reordered = list(reversed(cols)) + ["Legacy_Code__c"]
    row = dict(zip(cols, opp("006A").split(","), strict=True))
    row["Name"] = '"Deal with\r\na newline, and a comma"'
    body = ",".join(row.get(c, "L-1") for c in reordered)
    write(
        landing,
        "crm/Opportunity/b1.csv",
        b"\xef\xbb\xbf" + (",".join(reordered) + "\r\n" + body + "\r\n").encode(),
    )
    write(landing, "crm/Opportunity/b2.csv", b"")
    write(landing, "crm/Opportunity/b3.csv", OPP_HEADER + "\n")
    write(landing, "activity/events/b1.jsonl", b"")
    report = load_landing(con, landing)
    assert {f.file: f.status for f in report.files if f.status != "already_loaded"} == {
        "crm/Opportunity/b1.csv": "loaded",
        "crm/Opportunity/b2.csv": "loaded",
        "crm/Opportunity/b3.csv": "loaded",
        "activity/events/b1.jsonl": "loaded",
    }
    name, legacy, stage = con.execute(
        'SELECT Name, "Legacy_Code__c", StageName FROM raw.crm__opportunity'
    ).fetchone()
    assert name == "Deal with\r\na newline, and a comma"
    assert legacy == "L-1" and stage == "Prospecting"
    assert con.execute("SELECT count(*) FROM audit.quarantine").fetchone()[0] == 0


def test_hostile_column_name_is_loaded_as_a_column_and_drops_nothing(landing, con):
    hostile = "x; drop table raw.crm__account; --"
    write(
        landing, "crm/Opportunity/b1.csv", csv(opp("006A") + ',"boom"', header=OPP_HEADER + f',"{hostile}"')
    )
    load_landing(con, landing)
    assert con.execute(f'SELECT "{hostile}" FROM raw.crm__opportunity').fetchone()[0] == "boom"
    assert con.execute("SELECT count(*) FROM raw.crm__account").fetchone()[0] == 0  # still exists


def test_parquet_delivery(landing, con, tmp_path):
    src = duckdb.connect()
    path = landing / "crm/Opportunity/b1.parquet"
    path.parent.mkdir(parents=True)
    src.execute(
        "COPY (SELECT '006P' AS Id, 'Deal' AS Name, '005U' AS OwnerId, 'Prospecting' AS StageName, "
        "12.5::DECIMAL(10,2) AS Amount, DATE '2024-05-01' AS CloseDate, false AS IsClosed, false AS IsWon, "
        "'Pipeline' AS ForecastCategoryName, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS CreatedDate, "
        f"TIMESTAMPTZ '2024-01-01 00:00:00+00' AS SystemModstamp, false AS IsDeleted) TO '{path}' (FORMAT parquet)"
    )
    write(
        landing,
        "billing/charges/b1.jsonl",
        "",
    )
    src.execute(
        "COPY (SELECT 'ch_1' AS id, 'charge' AS object, 500 AS amount, 0 AS amount_refunded, 'usd' AS currency, "
        f"'succeeded' AS status, true AS paid, false AS refunded, 1704067200 AS created) "
        f"TO '{landing / 'billing/charges/b2.parquet'}' (FORMAT parquet)"
    )
    load_landing(con, landing)
    assert con.execute("SELECT Id, Amount, CloseDate FROM raw.crm__opportunity").fetchone() == (
        "006P",
        Decimal("12.5"),
        dt.date(2024, 5, 1),
    )
    assert con.execute("SELECT id, amount, paid FROM raw.billing__charge").fetchone() == ("ch_1", 500, True)


def test_links_out_of_the_landing_zone_are_not_followed(landing, con, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text(csv(opp("006X")))
    (landing / "crm/Opportunity").mkdir(parents=True)
    (landing / "crm/Opportunity/evil.csv").symlink_to(outside)
    write(landing, "crm/Opportunity/ok.csv", csv(opp("006A")))
    load_landing(con, landing)
    assert con.execute("SELECT Id FROM raw.crm__opportunity").fetchall() == [("006A",)]


def test_every_contract_object_has_a_raw_table_and_view_even_when_nothing_arrived(landing, con):
    load_landing(con, landing)
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
    }
    for t in BY_TABLE:
        assert t in tables and f"{t}__current" in tables

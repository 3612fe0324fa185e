"""--dirty: inject every defect the raw contract tolerates or refuses, at known rows, and list them in a manifest.

Defective rows are *copies* of real records under fresh ids, inserted into real batch files, so the
clean records (and every foreign key between them) survive untouched and the loader's quarantine
counts can be checked exactly against dirty_manifest.jsonl.

Two kinds of defects:
- loader-level (``expect``: ``quarantine`` / ``refuse`` / ``load``): rows or files the loader must
  quarantine, refuse or tolerate;
- semantic (``expect``: ``gate``): rows that load fine but break a rule a quality gate enforces. Each
  names the ``suite`` and the ``expectation`` (as SuiteResult reports it) that must catch it, and its
  ``severity``; the expectation must report exactly as many rows as the manifest lists for it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ..contract import object_for
from ._common import rng_for, sf_ids, stripe_ids

EXTRA_BATCH = "2026-01-01T000000_09"  # sorts after every real batch of the final extraction


def _csv_line(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()[:-1]


def _csv_field(value: str) -> str:
    return _csv_line([value]) if value else ""


def _json_line(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class _Edit:
    """Inserts lines into one batch file and reports their final 1-based record ordinals."""

    def __init__(self, out: Path, rel: str, rng: np.random.Generator):
        self.out, self.rel, self.rng = out, rel, rng
        text = (out / rel).read_text(encoding="utf-8")
        lines = text.split("\n")[:-1]
        self.csv = rel.endswith(".csv")
        self.header = lines[0] if self.csv else None
        self.records = lines[1:] if self.csv else lines
        self.columns = next(csv.reader([self.header])) if self.csv else None
        self.inserts: dict[int, list[tuple[str, dict | None]]] = {}

    def source(self, pred=None) -> int:
        """A random real record (optionally satisfying `pred` on its parsed form) to copy."""
        order = self.rng.permutation(len(self.records))
        for i in order:
            if pred is None or pred(self.parse(i)):
                return int(i)
        raise ValueError(f"no suitable source record in {self.rel}")

    def parse(self, i: int):
        if self.csv:
            return dict(zip(self.columns, next(csv.reader([self.records[i]])), strict=True))
        return json.loads(self.records[i])

    def add(self, line: str, meta: dict | list[dict] | None, at: int | None = None) -> None:
        pos = int(self.rng.integers(0, len(self.records))) if at is None else at
        self.inserts.setdefault(pos, []).append((line, meta))

    def row(self, rec: dict) -> str:
        return _csv_line([rec[c] for c in self.columns]) if self.csv else _json_line(rec)

    def finish(self, manifest: list[dict]) -> int:
        final: list[str] = []
        for i in range(len(self.records)):
            final.append(self.records[i])
            for line, meta in self.inserts.get(i, []):
                final.append(line)
                if meta is not None:
                    manifest.append({"file": self.rel, "row": len(final), **meta})
        body = "\n".join(([self.header] if self.csv else []) + final) + "\n"
        (self.out / self.rel).write_text(body, encoding="utf-8")
        return len(final)


def _entry(id_, defect, expect="quarantine", field=None) -> dict:
    return {"id": id_, "defect": defect, "expect": expect, "field": field}


def _gate(id_, defect, field, suite, expectation, severity) -> dict:
    """A semantic defect: loads, and must be caught by `expectation` of `suite` at `severity`."""
    return {
        **_entry(id_, defect, "gate", field),
        "suite": suite,
        "expectation": expectation,
        "severity": severity,
    }


UNKNOWN_STAGE = "Legal Review"  # not an OpportunityStage of the demo org
CURRENCY_WITHOUT_RATE = "CHF"  # no DatedConversionRate in the demo org
UNKNOWN_ACTIVITY_TYPE = "sms"


def _last_file(summary: dict, prefix: str, minimum: int = 5) -> str:
    cands = sorted(k for k, v in summary.items() if k.startswith(prefix) and v >= minimum)
    if not cands:
        raise ValueError(f"no batch under {prefix} has {minimum} records to inject defects into")
    return cands[-1]


class _FreshIds:
    """Ids for the injected copies, never those of a real record."""

    def __init__(self, rng: np.random.Generator):
        self.opp = iter(sf_ids("006", np.arange(20) + 90_000_000))
        self.contact = iter(sf_ids("003", np.arange(20) + 90_000_000))
        self.stripe = {p: iter(stripe_ids(p, rng, 10)) for p in ("in_", "ch_", "sub_", "evt_")}


def inject(out: Path, summary: dict, seed: int) -> dict:
    """Inject the defects into the landing zone under `out`; returns `summary` with the changed and added files."""
    rng = rng_for(seed, 9)
    manifest: list[dict] = []
    summary = dict(summary)
    ids = _FreshIds(rng)
    opp_cols, opp_sample = _opportunity_defects(out, summary, rng, ids, manifest)
    contact_cols, contact_src = _contact_defects(out, summary, rng, ids, manifest)
    _invoice_defects(out, summary, rng, ids, manifest)
    _charge_and_subscription_defects(out, summary, rng, ids, manifest)
    _event_defects(out, summary, rng, ids, manifest)
    _refused_files(out, summary, rng, opp_cols, opp_sample, manifest)
    _tolerated_files(out, summary, contact_cols, contact_src, ids, manifest)
    keys = ("file", "row", "id", "defect", "expect", "field", "suite", "expectation", "severity")
    lines = [_json_line({k: m[k] for k in keys if k in m}) for m in manifest]
    (out / "dirty_manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary["dirty_manifest.jsonl"] = len(manifest)
    return dict(sorted(summary.items()))


def _opportunity_defects(out: Path, summary: dict, rng, ids: _FreshIds, manifest: list) -> tuple[list, list]:
    """Row defects and gate-caught values in the last Opportunity batch; returns its header and first records."""
    rel = _last_file(summary, "crm/Opportunity/")
    e = _Edit(out, rel, rng)

    def opp_copy(**changes):
        rec = e.parse(e.source(lambda r: r["Amount"] != "" and r["IsDeleted"] == "false"))
        rec["Id"] = next(ids.opp)
        rec.update(changes)
        return rec

    rec = opp_copy()
    cols = e.columns
    raw = [_csv_field(rec[c]) for c in cols]
    raw[cols.index("Name")] = "Harbor Analytics Expansion, Phase 2"  # the unquoted comma adds a field
    e.add(",".join(raw), _entry(rec["Id"], "unparseable_row"))
    for fld, bad in (
        ("Amount", "abc"),
        ("Amount", "12,500.00"),
        ("CloseDate", "12/31/2024"),
        ("IsWon", "yes"),
        ("CreatedDate", "2024-03-31 17:05:09"),
    ):
        rec = opp_copy(**{fld: bad})
        e.add(e.row(rec), _entry(rec["Id"], "wrong_type", field=fld))
    rec = opp_copy(StageName="")
    e.add(e.row(rec), _entry(rec["Id"], "missing_required", field="StageName"))
    a = opp_copy()
    b = dict(a, Amount=f"{float(a['Amount']) + 1000:.2f}")
    e.add(e.row(a), _entry(a["Id"], "duplicate_conflict", field="Amount"))
    e.add(e.row(b), _entry(b["Id"], "duplicate_conflict", field="Amount"))
    # semantic: they load, the gates catch them
    for _ in range(2):
        rec = opp_copy(StageName=UNKNOWN_STAGE)
        e.add(
            e.row(rec),
            _gate(
                rec["Id"], "unknown_stage", "StageName", "raw.crm__opportunity__current",
                "StageName: a known OpportunityStage", "critical",
            ),
        )  # fmt: skip
    rec = opp_copy(CurrencyIsoCode=CURRENCY_WITHOUT_RATE)
    e.add(
        e.row(rec),
        _gate(
            rec["Id"], "currency_without_rate", "CurrencyIsoCode", "intermediate.int_opportunities_enriched",
            "amount: converted at a DatedConversionRate", "critical",
        ),
    )  # fmt: skip
    summary[rel] = e.finish(manifest)
    return e.columns, [e.parse(i) for i in range(min(5, len(e.records)))]


def _contact_defects(out: Path, summary: dict, rng, ids: _FreshIds, manifest: list) -> tuple[list, list]:
    """A missing LastName, and a quote opened and never closed; returns the header and up to four live contacts."""
    rel = _last_file(summary, "crm/Contact/")
    e = _Edit(out, rel, rng)
    rec = e.parse(e.source())
    rec["Id"], rec["LastName"] = next(ids.contact), ""
    e.add(e.row(rec), _entry(rec["Id"], "missing_required", field="LastName"))
    rec = e.parse(e.source(lambda r: r["LastName"] != ""))
    rec["Id"] = next(ids.contact)
    fields = [_csv_field(rec[c]) for c in e.columns]
    fields[e.columns.index("LastName")] = '"' + rec["LastName"]  # opened, never closed: swallows the file end
    e.add(",".join(fields), _entry(rec["Id"], "unparseable_row"), at=len(e.records) - 1)
    summary[rel] = e.finish(manifest)
    contact_src = [e.parse(i) for i in range(len(e.records))]
    return e.columns, [r for r in contact_src if r["IsDeleted"] == "false" and r["Email"]][:4] or contact_src[
        :4
    ]


def _invoice_defects(out: Path, summary: dict, rng, ids: _FreshIds, manifest: list) -> None:
    rel = _last_file(summary, "billing/invoices/")
    e = _Edit(out, rel, rng)
    new_id = ids.stripe["in_"]
    rec = dict(e.parse(e.source()), id=next(new_id))
    line = e.row(rec)
    e.add(line[: len(line) // 2], _entry(rec["id"], "unparseable_row"))
    rec = dict(e.parse(e.source()), id=next(new_id))
    rec["amount_paid"] = str(rec["amount_paid"])
    e.add(e.row(rec), _entry(rec["id"], "wrong_type", field="amount_paid"))
    a = dict(e.parse(e.source()), id=next(new_id))
    b = dict(a, total=a["total"] + 100)
    e.add(e.row(a), _entry(a["id"], "duplicate_conflict", field="total"))
    e.add(e.row(b), _entry(b["id"], "duplicate_conflict", field="total"))
    rec = dict(e.parse(e.source()), id=next(new_id).removeprefix("in_"))  # the prefix dropped
    e.add(
        e.row(rec),
        _gate(
            rec["id"],
            "bad_id_prefix",
            "id",
            "raw.billing__invoice__current",
            "id: Stripe invoice id",
            "critical",
        ),
    )
    summary[rel] = e.finish(manifest)


def _charge_and_subscription_defects(out: Path, summary: dict, rng, ids: _FreshIds, manifest: list) -> None:
    rel = _last_file(summary, "billing/charges/")
    e = _Edit(out, rel, rng)
    e.add("[1,2]", _entry(None, "unparseable_row"))
    rec = dict(e.parse(e.source()), id=next(ids.stripe["ch_"]))
    rec["amount"] = rec["amount"] + 0.5
    e.add(e.row(rec), _entry(rec["id"], "wrong_type", field="amount"))
    summary[rel] = e.finish(manifest)

    rel = _last_file(summary, "billing/subscriptions/")
    e = _Edit(out, rel, rng)
    rec = dict(e.parse(e.source()), id=next(ids.stripe["sub_"]))
    del rec["customer"]
    e.add(e.row(rec), _entry(rec["id"], "missing_required", field="customer"))
    rec = dict(e.parse(e.source()), id=next(ids.stripe["sub_"]))
    rec["created"] = str(np.datetime64(int(rec["created"]), "s")) + "Z"
    e.add(e.row(rec), _entry(rec["id"], "wrong_type", field="created"))
    summary[rel] = e.finish(manifest)


def _event_defects(out: Path, summary: dict, rng, ids: _FreshIds, manifest: list) -> None:
    rel = _last_file(summary, "activity/events/")
    e = _Edit(out, rel, rng)
    new_id = ids.stripe["evt_"]
    rec = dict(e.parse(e.source()), id=next(new_id))
    line = e.row(rec)
    e.add(line[: len(line) // 2], _entry(rec["id"], "unparseable_row"))
    rec = dict(e.parse(e.source()), id=next(new_id))
    rec["occurred_at"] = rec["occurred_at"][:19]
    e.add(e.row(rec), _entry(rec["id"], "wrong_type", field="occurred_at"))
    rec = dict(e.parse(e.source()), id=next(new_id))
    rec["occurred_at"] = "yesterday afternoon"
    e.add(e.row(rec), _entry(rec["id"], "wrong_type", field="occurred_at"))
    rec = dict(e.parse(e.source()), id=next(new_id))
    rec["rep_email"] = None
    e.add(e.row(rec), _entry(rec["id"], "missing_required", field="rep_email"))
    a = dict(e.parse(e.source()), id=next(new_id))
    b = dict(a, subject=(a["subject"] or "") + " (edited)")
    e.add(e.row(a), _entry(a["id"], "duplicate_conflict", field="subject"))
    e.add(e.row(b), _entry(b["id"], "duplicate_conflict", field="subject"))
    for _ in range(2):
        # stray whitespace: not an e-mail address as delivered (staging trims it, so the rep still resolves)
        rec = dict(e.parse(e.source()), id=next(new_id))
        rec["rep_email"] = f" {rec['rep_email']} "
        e.add(
            e.row(rec),
            _gate(
                rec["id"], "bad_email_format", "rep_email", "raw.activity__event__current",
                "rep_email: e-mail format", "warning",
            ),
        )  # fmt: skip
    rec = dict(e.parse(e.source()), id=next(new_id), type=UNKNOWN_ACTIVITY_TYPE)
    e.add(
        e.row(rec),
        _gate(
            rec["id"], "unknown_activity_type", "type", "raw.activity__event__current",
            "type: accepted values", "critical",
        ),
    )  # fmt: skip
    summary[rel] = e.finish(manifest)


def _refused_files(out: Path, summary: dict, rng, opp_cols: list, opp_sample: list, manifest: list) -> None:
    """Whole files the loader must refuse: a CSV without its key column, and two that are not what they claim."""
    rel = f"crm/Opportunity/{EXTRA_BATCH}01.csv"
    keep = [c for c in opp_cols if c != "Id"]
    body = _csv_line(keep) + "\n" + "".join(_csv_line([r[c] for c in keep]) + "\n" for r in opp_sample)
    (out / rel).write_text(body, encoding="utf-8")
    summary[rel] = len(opp_sample)
    manifest.append({"file": rel, "row": None, **_entry(None, "refuse_missing_key_column", "refuse", "Id")})

    rel = f"billing/charges/{EXTRA_BATCH}02.jsonl"
    garbage = bytes(rng.integers(0, 256, 512, dtype=np.uint8)) + b"\xff\xfe\x00"
    (out / rel).write_bytes(b"\x89PNG\r\n\x1a\n" + garbage)
    summary[rel] = 0
    manifest.append({"file": rel, "row": None, **_entry(None, "refuse_invalid_file", "refuse")})

    rel = f"crm/Account/{EXTRA_BATCH}03.parquet"
    (out / rel).write_text("Id,Name\n001000000000001AAA,Not really parquet\n", encoding="utf-8")
    summary[rel] = 0
    manifest.append({"file": rel, "row": None, **_entry(None, "refuse_invalid_file", "refuse")})


def _tolerated_files(
    out: Path, summary: dict, contact_cols: list, contact_src: list, ids: _FreshIds, manifest: list
) -> None:
    """Files that load in full: BOM, CRLF, reordered and extra columns and a quoted newline; empty; header only."""
    rel = f"crm/Contact/{EXTRA_BATCH}04.csv"
    cols = list(reversed(contact_cols))
    cols.insert(3, "Legacy_Code__c")
    rows = []
    for k, src in enumerate(contact_src):
        r = dict(src, Id=next(ids.contact), Legacy_Code__c=f"LC-{k + 1:04d}")
        if r["Email"]:
            r["Email"] = "legacy." + r["Email"]
        rows.append(r)
    nl = len(rows) - 1
    rows[nl]["Title"] = "Head of Procurement\nEMEA"
    text = "\r\n".join([_csv_line(cols)] + [_csv_line([r[c] for c in cols]) for r in rows]) + "\r\n"
    (out / rel).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    summary[rel] = len(rows)
    for kind, field in (
        ("bom", None),
        ("crlf", None),
        ("reordered_columns", None),
        ("extra_column", "Legacy_Code__c"),
    ):
        manifest.append({"file": rel, "row": None, **_entry(None, kind, "load", field)})
    manifest.append({"file": rel, "row": nl + 1, **_entry(rows[nl]["Id"], "quoted_newline", "load", "Title")})

    rel = f"crm/Lead/{EXTRA_BATCH}05.csv"
    (out / rel).write_bytes(b"")
    summary[rel] = 0
    manifest.append({"file": rel, "row": None, **_entry(None, "empty_file", "load")})

    rel = f"crm/Product2/{EXTRA_BATCH}06.csv"
    (out / rel).write_text(
        _csv_line([f.name for f in object_for("crm", "Product2").fields]) + "\n", encoding="utf-8"
    )
    summary[rel] = 0
    manifest.append({"file": rel, "row": None, **_entry(None, "header_only", "load")})

"""A local Salesforce REST API (query / queryAll) serving demo CRM data in Salesforce's wire format.

Records are JSON with typed values (booleans, numbers, `2024-03-31T17:05:09.000+0000` datetimes) and an
`attributes` object; queries page through `nextRecordsUrl` (a server-side cursor over a snapshot taken at
query time, as Salesforce does); `Sforce-Query-Options: batchSize=N` sets the page size. The SOQL it
understands is what the connector sends: SELECT fields FROM Object [WHERE SystemModstamp >= dt]
[ORDER BY SystemModstamp, Id | ORDER BY Id].
"""

from __future__ import annotations

import csv
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingestion.contract import CRM_OBJECTS, SourceObject
from tests.servers._base import ApiServer, Faults

SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)"
    r"(?: WHERE SystemModstamp >= (?P<since>\S+))?"
    r"(?: ORDER BY (?P<order>.+))?$"
)


def _dt(v: str) -> datetime:
    v = v.replace("Z", "+00:00")
    v = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", v)
    return datetime.fromisoformat(v).astimezone(UTC)


def wire_value(typ: str, text: str) -> Any:
    """A Bulk API CSV value as the REST API sends it."""
    if text == "":
        return None
    if typ == "bool":
        return text == "true"
    if typ == "int":
        return int(text)
    if typ in ("decimal", "rate"):
        return float(text)
    if typ == "datetime":
        return _dt(text).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_dt(text).microsecond // 1000:03d}+0000"
    return text


class SalesforceServer(ApiServer):
    def __init__(
        self, token: str, *, api_version: str = "62.0", page_size: int = 2000, faults: Faults | None = None
    ):
        super().__init__(token, faults)
        self.api_version = api_version
        self.page_size = page_size
        self.objects: dict[str, SourceObject] = {o.name: o for o in CRM_OBJECTS}
        self.records: dict[str, dict[str, dict]] = {o.name: {} for o in CRM_OBJECTS}
        self.cursors: dict[str, tuple[list[dict], int]] = {}
        self._ids = itertools.count(1)
        self.queries: list[str] = []

    # -- data -------------------------------------------------------------------------------------
    def upsert_csv(self, obj: SourceObject, path: Path) -> int:
        types = {f.name: f.type for f in obj.fields}
        n = 0
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rec = {k: wire_value(types.get(k, "str"), v) for k, v in row.items()}
                with self.lock:
                    self.records[obj.name][rec["Id"]] = rec
                n += 1
        return n

    def unauthorized(self):
        return 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], {}

    def fault_body(self, status: int):
        if status == 429 or status == 503:
            return [{"message": "Server is busy", "errorCode": "SERVER_UNAVAILABLE"}]
        return [{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}]

    # -- API --------------------------------------------------------------------------------------
    def route(self, method, path, query, headers):
        base = f"/services/data/v{self.api_version}"
        size = self.page_size
        m = re.search(r"batchSize=(\d+)", headers.get("Sforce-Query-Options") or "")
        if m:
            size = min(size, int(m.group(1)))
        if path in (f"{base}/query", f"{base}/queryAll"):
            return self._start_query(query.get("q", [""])[0], path.endswith("queryAll"), size)
        if path.startswith(f"{base}/query/"):
            locator = path.rsplit("/", 1)[1]
            if locator not in self.cursors:
                return 400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}], {}
            return self._page(locator, size)
        return 404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], {}

    def _start_query(self, soql: str, all_rows: bool, size: int):
        self.queries.append(soql)
        m = SOQL.match(soql.strip())
        if not m:
            return 400, [{"message": f"unexpected token: {soql[:40]}", "errorCode": "MALFORMED_QUERY"}], {}
        obj = self.objects.get(m["obj"])
        if obj is None:
            msg = f"sObject type '{m['obj']}' is not supported."
            return 400, [{"message": msg, "errorCode": "INVALID_TYPE"}], {}
        fields = [f.strip() for f in m["fields"].split(",")]
        known = {f.name for f in obj.fields}
        for f in fields:
            if f not in known:
                msg = f"\nERROR at Row:1:Column:8\nNo such column '{f}' on entity '{obj.name}'."
                return 400, [{"message": msg, "errorCode": "INVALID_FIELD"}], {}
        rows = list(self.records[obj.name].values())
        if not all_rows:
            rows = [r for r in rows if not r.get("IsDeleted")]
        if m["since"]:
            since = _dt(m["since"])
            rows = [r for r in rows if r.get("SystemModstamp") and _dt(r["SystemModstamp"]) >= since]
        if (m["order"] or "").startswith("SystemModstamp"):
            rows.sort(key=lambda r: (_dt(r["SystemModstamp"]), r["Id"]))
        else:
            rows.sort(key=lambda r: r["Id"])
        snapshot = [
            {
                "attributes": {
                    "type": obj.name,
                    "url": f"/services/data/v{self.api_version}/sobjects/{obj.name}/{r['Id']}",
                },
                **{f: r.get(f) for f in fields},
            }
            for r in rows
        ]
        locator = f"01g{next(self._ids):015d}"
        self.cursors[locator] = (snapshot, 0)
        return self._page(locator, size)

    def _page(self, locator: str, size: int):
        # A locator names a position in a snapshot, so a retried request gets the same page again.
        rows, offset = self.cursors[locator]
        chunk = rows[offset : offset + size]
        end = offset + len(chunk)
        body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows), "records": chunk}
        if end < len(rows):
            nxt = f"{locator.split('-')[0]}-{end}"
            self.cursors[nxt] = (rows, end)
            body["nextRecordsUrl"] = f"/services/data/v{self.api_version}/query/{nxt}"
        return 200, body, {}

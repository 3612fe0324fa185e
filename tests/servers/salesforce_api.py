"""A local Salesforce API serving demo CRM data in Salesforce's wire formats: REST query and Bulk API 2.0.

REST (`/query`, `/queryAll`): records are JSON with typed values (booleans, numbers,
`2024-03-31T17:05:09.000+0000` datetimes) and an `attributes` object; queries page through `nextRecordsUrl`
(a server-side cursor over a snapshot taken at query time, as Salesforce does); `Sforce-Query-Options:
batchSize=N` sets the page size.

Bulk API 2.0 query jobs (`/jobs/query`): POST creates a job (state UploadComplete), each GET of the job moves
it on (InProgress, then JobComplete or Failed with an errorMessage), `/results?locator=&maxRecords=` answers
CSV with a header row, every value quoted, `Sforce-Locator` (an opaque base64 string; the text `null` on the
last set) and `Sforce-NumberOfRecords`. Rows come in no particular order (Bulk SOQL has no ORDER BY). A
locator names a position in the job's snapshot, so a result set can be fetched again as long as the job
exists; DELETE removes the job, PATCH aborts it.

Also `/limits/recordCount?sObjects=...` (records not in the recycle bin; objects without records are
omitted, as Salesforce does) and `/services/data/` (the versions the server offers; any other version's
resources are 404).

The SOQL it understands is what the connector sends: SELECT fields FROM Object [WHERE SystemModstamp >= dt]
[ORDER BY SystemModstamp, Id | ORDER BY Id].
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ingestion.contract import CRM_OBJECTS, SourceObject
from ingestion.settings import CONNECTOR_VARIABLES
from tests.servers._base import ApiServer, Faults, Raw

DEFAULT_API_VERSION = CONNECTOR_VARIABLES["SALESDW_SALESFORCE_API_VERSION"][0]

SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)"
    r"(?: WHERE SystemModstamp >= (?P<since>\S+))?"
    r"(?: ORDER BY (?P<order>.+))?$"
)
NOT_FOUND = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


class QueryRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


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


def bulk_text(typ: str, value: Any) -> str:
    """A REST wire value as Bulk API 2.0 CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")  # never an exponent
    if typ == "datetime":
        d = _dt(value)
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
    return str(value)


def release_label(version: str) -> str:
    """Winter '26 is 65.0; three releases a year, each one version up."""
    n = int(float(version)) - 65
    return f"{('Winter', 'Spring', 'Summer')[n % 3]} '{26 + n // 3}"


def _locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str) -> int | None:
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        return None


class SalesforceServer(ApiServer):
    def __init__(
        self,
        token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        page_size: int = 2000,
        bulk_page_size: int = 1000,
        job_polls: int = 2,
        faults: Faults | None = None,
    ):
        super().__init__(token, faults)
        self.api_version = api_version
        self.page_size = page_size
        self.bulk_page_size = bulk_page_size  # result-set size when the client sends no maxRecords
        self.job_polls = job_polls  # state checks before a job completes
        self.objects: dict[str, SourceObject] = {o.name: o for o in CRM_OBJECTS}
        self.records: dict[str, dict[str, dict]] = {o.name: {} for o in CRM_OBJECTS}
        self.cursors: dict[str, tuple[list[dict], int]] = {}
        self._ids = itertools.count(1)
        self.queries: list[str] = []  # REST queries
        self.jobs: dict[str, dict] = {}  # Bulk API 2.0 query jobs by id (their info, as GET answers it)
        self.job_rows: dict[str, tuple[list[str], list[list[str]]]] = {}
        self.job_polls_left: dict[str, int] = {}
        self.fail_jobs: dict[str, str] = {}  # object name -> errorMessage its next job fails with
        self.deleted_jobs: list[str] = []
        self.job_queries: list[str] = []
        self.job_ids: list[str] = []  # every job created, in order

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
        if path.rstrip("/") == "/services/data":
            return 200, self._versions(), {}
        base = f"/services/data/v{self.api_version}"
        if not path.startswith(base + "/"):
            return 404, NOT_FOUND, {}
        rest = path[len(base) :]
        if rest == "/limits/recordCount":
            return self._record_count(query.get("sObjects", [""])[0])
        if rest.rstrip("/") == "/jobs/query" and method == "POST":
            return self._create_job()
        m = re.fullmatch(r"/jobs/query/(\w+)(/results)?", rest)
        if m:
            return self._job(method, m[1], bool(m[2]), query)
        size = self.page_size
        m = re.search(r"batchSize=(\d+)", headers.get("Sforce-Query-Options") or "")
        if m:
            size = min(size, int(m.group(1)))
        if rest in ("/query", "/queryAll"):
            self.queries.append(query.get("q", [""])[0])
            return self._start_query(query.get("q", [""])[0], rest == "/queryAll", size)
        if rest.startswith("/query/"):
            locator = rest.rsplit("/", 1)[1]
            if locator not in self.cursors:
                return 400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}], {}
            return self._page(locator, size)
        return 404, NOT_FOUND, {}

    def _versions(self) -> list[dict]:
        top = int(float(self.api_version))
        return [
            {"label": release_label(f"{v}.0"), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(31, top + 1)
        ]

    def _record_count(self, names: str):
        wanted = [n for n in names.split(",") if n] or list(self.objects)
        counts = []
        for name in wanted:
            if name in self.objects:
                n = sum(1 for r in self.records[name].values() if not r.get("IsDeleted"))
                if n:
                    counts.append({"count": n, "name": name})
        return 200, {"sObjects": counts}, {}

    def _select(self, soql: str, all_rows: bool) -> tuple[SourceObject, list[str], list[dict]]:
        """The object, fields and matching records of a query; QueryRefused as Salesforce refuses one."""
        m = SOQL.match(soql.strip())
        if not m:
            raise QueryRefused("MALFORMED_QUERY", f"unexpected token: {soql[:40]}")
        obj = self.objects.get(m["obj"])
        if obj is None:
            raise QueryRefused(
                "INVALID_TYPE", f"\nERROR at Row:1:Column:8\nsObject type '{m['obj']}' is not supported."
            )
        fields = [f.strip() for f in m["fields"].split(",")]
        known = {f.name for f in obj.fields}
        for f in fields:
            if f not in known:
                raise QueryRefused(
                    "INVALID_FIELD",
                    f"\nERROR at Row:1:Column:8\nNo such column '{f}' on entity '{obj.name}'.",
                )
        rows = list(self.records[obj.name].values())
        if not all_rows:
            rows = [r for r in rows if not r.get("IsDeleted")]
        if m["since"]:
            since = _dt(m["since"])
            rows = [r for r in rows if r.get("SystemModstamp") and _dt(r["SystemModstamp"]) >= since]
        if (m["order"] or "").startswith("SystemModstamp"):
            rows.sort(key=lambda r: (_dt(r["SystemModstamp"]), r["Id"]))
        elif m["order"]:
            rows.sort(key=lambda r: r["Id"])
        else:
            # No ORDER BY: Bulk API 2.0 returns PK chunks as they finish, in no order a client may rely on.
            rows.sort(key=lambda r: hashlib.md5(r["Id"].encode()).hexdigest())
        return obj, fields, rows

    # -- REST query ---------------------------------------------------------------------------------
    def _start_query(self, soql: str, all_rows: bool, size: int):
        try:
            obj, fields, rows = self._select(soql, all_rows)
        except QueryRefused as exc:
            return 400, [{"message": exc.message, "errorCode": exc.code}], {}
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

    # -- Bulk API 2.0 query jobs --------------------------------------------------------------------
    def _create_job(self):
        try:
            req = json.loads(self.request_body or b"{}")
        except ValueError:
            return 400, [{"errorCode": "INVALIDJOB", "message": "Unable to parse the job request"}], {}
        operation, soql = req.get("operation"), req.get("query") or ""
        if operation not in ("query", "queryAll"):
            return 400, [{"errorCode": "INVALIDJOB", "message": f"Invalid operation: {operation}"}], {}
        try:
            obj, fields, rows = self._select(soql, operation == "queryAll")
        except QueryRefused as exc:
            # Bulk API 2.0 validates the SOQL when the job is created and wraps the query's error.
            msg = f"Failed to process query: {exc.code}: {soql}{exc.message}"
            return 400, [{"errorCode": "INVALIDJOB", "message": msg}], {}
        job_id = f"750{next(self._ids):015d}"
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        self.jobs[job_id] = {
            "id": job_id,
            "operation": operation,
            "object": obj.name,
            "createdById": "005000000000001AAA",
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": "UploadComplete",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": req.get("lineEnding", "LF"),
            "columnDelimiter": req.get("columnDelimiter", "COMMA"),
        }
        types = {f.name: f.type for f in obj.fields}
        # The job's result is the data as it was when the job ran; later changes are the next job's.
        self.job_rows[job_id] = (fields, [[bulk_text(types[f], r.get(f)) for f in fields] for r in rows])
        self.job_polls_left[job_id] = self.job_polls
        self.job_queries.append(soql)
        self.job_ids.append(job_id)
        return 200, dict(self.jobs[job_id]), {}

    def _job(self, method: str, job_id: str, results: bool, query: dict):
        job = self.jobs.get(job_id)
        if job is None:
            return 404, NOT_FOUND, {}
        if method == "DELETE" and not results:
            del self.jobs[job_id]
            self.deleted_jobs.append(job_id)
            return 204, None, {}
        if method == "PATCH" and not results:
            if json.loads(self.request_body or b"{}").get("state") == "Aborted":
                job["state"] = "Aborted"
            return 200, dict(job), {}
        if results:
            return self._results(job, query)
        self._advance(job)
        info = {
            **job,
            "jobType": "V2Query",
            "numberRecordsProcessed": len(self.job_rows[job_id][1]) if job["state"] == "JobComplete" else 0,
            "retries": 0,
            "totalProcessingTime": 0,
            "isPkChunkingSupported": True,
        }
        return 200, info, {}

    def _advance(self, job: dict) -> None:
        if job["state"] in ("JobComplete", "Failed", "Aborted"):
            return
        left = self.job_polls_left[job["id"]] - 1
        self.job_polls_left[job["id"]] = left
        if left > 0:
            job["state"] = "InProgress"
        elif job["object"] in self.fail_jobs:
            job["state"] = "Failed"
            job["errorMessage"] = self.fail_jobs.pop(job["object"])
        else:
            job["state"] = "JobComplete"

    def _results(self, job: dict, query: dict):
        if job["state"] != "JobComplete":
            msg = (
                "can only download query results of successfully completed bulk job with status: "
                f"JOB_COMPLETE. Current status: {job['state'].upper()}"
            )
            return 412, [{"errorCode": "JOB_NOT_COMPLETE", "message": msg}], {}
        header, rows = self.job_rows[job["id"]]
        locator = query.get("locator", [None])[0]
        offset = 0 if locator in (None, "") else _offset(locator)
        if offset is None or offset > len(rows):
            return 400, [{"errorCode": "INVALIDLOCATOR", "message": f"Invalid locator: {locator}"}], {}
        size = int(query.get("maxRecords", [self.bulk_page_size])[0])
        chunk = rows[offset : offset + size]
        end = offset + len(chunk)
        buf = io.StringIO()
        w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(header)
        w.writerows(chunk)
        headers = {
            "Sforce-Locator": _locator(end) if end < len(rows) else "null",
            "Sforce-NumberOfRecords": str(len(chunk)),
        }
        return 200, Raw(buf.getvalue().encode(), "text/csv"), headers

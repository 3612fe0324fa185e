"""Salesforce connector: the contract's CRM objects, incremental by SystemModstamp, through the REST query API
for small objects and Bulk API 2.0 query jobs for large ones.

Which API reads an object is decided once per pull: the objects in SALESDW_SALESFORCE_BULK_OBJECTS (by default
OpportunityHistory, Contact and Lead, the objects that grow with activity), and any other object whose record
count from `/limits/recordCount` (one call for all objects; a cached estimate, which is all a routing decision
needs) is above SALESDW_SALESFORCE_BULK_THRESHOLD, go through Bulk API 2.0; the rest through REST.

REST: `SELECT <contract fields> FROM <Object> WHERE SystemModstamp >= <cursor - look-back> ORDER BY
SystemModstamp, Id` through `/queryAll` (soft-deleted records arrive with IsDeleted = true), following
`nextRecordsUrl` (2,000 records a call at most). Pages arrive in SystemModstamp order, so the cursor moves to
each page's highest SystemModstamp once that page's load has committed.

Bulk API 2.0: the same SOQL without ORDER BY (it disables Salesforce's PK chunking, the reason Bulk queries of
millions of rows finish) as a `queryAll` job; its state is polled with backoff until JobComplete, then the CSV
result sets are read with `locator` / `maxRecords`, following `Sforce-Locator` until it says `null`. Result
sets are in no particular order, so the cursor moves only after the job's last set is loaded; until then the
job id, the next locator and the highest SystemModstamp so far are stored after each set's load commits, and
a killed pull continues that job where it stopped (a locator can be fetched again for as long as the job
exists; if it is gone, a new job starts from the unmoved cursor and the sets loaded before are recognised as
unchanged). A job that ends Failed or Aborted is reported with its errorMessage.

Either way each page or result set is written as a Bulk API 2.0 shaped CSV, in one text form for both APIs
(`canonical_text`), and loaded by the file loader.
Objects whose contract has no SystemModstamp (UserRole, OpportunityStage, DatedConversionRate: small
reference tables) are read whole on every pull; unchanged records are not stored again.

An optional contract field the org lacks is left null; an object it lacks is skipped with a warning; a
required field it lacks (or hides from the integration user) and a failed Bulk job stop that object only:
the others are pulled, and the pull then fails with every such problem named.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
import requests

from ingestion.contract import CRM_OBJECTS, SourceObject
from ingestion.loader import FileResult
from ingestion.settings import ConnectorSettings
from ingestion.sources._common import (
    ConnectorError,
    HttpClient,
    PullResult,
    RetryPolicy,
    Spool,
    StateStore,
    csv_text,
)

log = logging.getLogger(__name__)

CONNECTOR = "salesforce"
VERSION_FIELD = "SystemModstamp"
AUTH_HINT = (
    "Set SALESDW_SALESFORCE_ACCESS_TOKEN to a current OAuth access token for SALESDW_SALESFORCE_INSTANCE_URL "
    "(tokens expire; `sf org display --target-org <alias> --json` prints one) and run the pull again."
)
REST, BULK = "rest", "bulk"
# A locator or job that vanished mid-read (query cursors expire when idle, Bulk jobs when deleted): read again.
MAX_RESTARTS = 3


def parse_sf_datetime(value: str) -> datetime:
    """Salesforce writes `2024-03-31T17:05:09.000+0000` (REST) or `...Z` (Bulk API)."""
    v = value.strip().replace("Z", "+00:00")
    v = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", v)
    dt = datetime.fromisoformat(v)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def soql_datetime(dt: datetime) -> str:
    # SOQL datetime literals are unquoted; fractional seconds are not accepted.
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_soql(
    obj: SourceObject, fields: Iterable[str], since: datetime | None, *, ordered: bool = True
) -> str:
    where = f" WHERE {VERSION_FIELD} >= {soql_datetime(since)}" if since is not None else ""
    order = ""
    if ordered:
        order = f" ORDER BY {VERSION_FIELD}, Id" if obj.version == VERSION_FIELD else " ORDER BY Id"
    return f"SELECT {', '.join(fields)} FROM {obj.name}{where}{order}"


def canonical_text(typ: str, value: Any) -> str:
    """One text per value, whichever API delivered it (REST JSON `...000+0000` and `92932.5`, Bulk CSV
    `...000Z` and maybe `92932.50`): the loader recognises a version it already holds by its text, so an
    object that moves between REST and Bulk (its record count crossed the threshold) is not stored again."""
    text = value if isinstance(value, str) else csv_text(value)
    if text == "":
        return ""
    try:
        if typ == "datetime":
            d = parse_sf_datetime(text)
            return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
        if typ in ("decimal", "rate", "int"):
            d = Decimal(text)
            if not d.is_finite():
                return text
            # Plain digits, no trailing zeros; not Decimal.normalize(), which rounds past 28 digits.
            plain = format(d, "f")
            return plain.rstrip("0").rstrip(".") if "." in plain else plain
    except (ValueError, InvalidOperation):
        pass  # not this type at all: the loader quarantines it with the reason
    return text


def canonical_rows(obj: SourceObject, records: Iterable[dict], columns: list[str]) -> list[dict[str, str]]:
    types = {f.name: f.type for f in obj.fields}
    return [{c: canonical_text(types.get(c, "str"), r.get(c)) for c in columns} for r in records]


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return b if parse_sf_datetime(b) > parse_sf_datetime(a) else a


def page_high(records: Iterable[dict]) -> str | None:
    """The highest SystemModstamp of a page (None for objects without one)."""
    high = None
    for r in records:
        if r.get(VERSION_FIELD):
            high = _later(high, r[VERSION_FIELD])
    return high


class ObjectProblem(ConnectorError):
    """One object cannot be pulled as it is; the others can. The message says what to do."""


class BulkJobFailed(ObjectProblem):
    def __init__(self, obj: str, job: dict):
        self.job_id, self.state = job.get("id", "?"), job.get("state", "?")
        self.error_message = job.get("errorMessage") or "(Salesforce gave no errorMessage)"
        super().__init__(
            f"Salesforce {obj}: Bulk API 2.0 query job {self.job_id} ended {self.state}: {self.error_message}. "
            f"Nothing of this job was loaded and the {obj} cursor did not move; the next pull starts a new job "
            "(the job's details are in Setup > Bulk Data Load Jobs)."
        )


class BulkJobGone(ConnectorError):
    """The job was deleted or has expired (Salesforce keeps query jobs for days, not forever)."""


class PullIncomplete(ConnectorError):
    """The pull loaded what it could; `problems` lists the objects it could not pull, `result` the rest."""

    def __init__(self, problems: list[ObjectProblem], result: PullResult):
        self.problems, self.result = problems, result
        super().__init__(
            f"Salesforce pull incomplete ({len(problems)} object(s) not pulled; everything else was "
            "loaded):\n" + "\n".join(f"- {p}" for p in problems)
        )


def _sf_error(exc: ConnectorError) -> tuple[str, str]:
    if isinstance(exc, BulkJobFailed):
        return "", exc.error_message
    try:
        first = json.loads(exc.body)[0]
        return first.get("errorCode", ""), first.get("message", "")
    except (ValueError, LookupError, TypeError, AttributeError):
        return "", ""


def missing_field(message: str) -> str | None:
    """The field a SOQL compile error names (REST INVALID_FIELD, or wrapped by a Bulk job)."""
    m = re.search(r"No such column '(\w+)' on entity", message)
    return m.group(1) if m else None


def missing_object(code: str, message: str) -> bool:
    return code == "INVALID_TYPE" or bool(
        re.search(r"\bINVALID_TYPE\b|sObject type '\w+' is not supported", message)
    )


def bulk_unsupported(code: str, message: str) -> bool:
    return code == "INVALIDENTITY" or "not supported by the Bulk API" in message


@dataclass
class BulkPolling:
    """How a Bulk API 2.0 job's state is polled: first wait, growth per poll, longest wait, give-up time."""

    first: float = 1.0
    factor: float = 1.5
    longest: float = 30.0
    give_up_after: float = 6 * 3600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class SalesforceConnector:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: ConnectorSettings | None = None,
        *,
        objects: Iterable[SourceObject] = CRM_OBJECTS,
        retry: RetryPolicy | None = None,
        batch_size: int = 2000,
        bulk_page_size: int | None = None,
        polling: BulkPolling | None = None,
        run_id: str | None = None,
        on_file: Callable[[FileResult], None] | None = None,
    ):
        s = settings or ConnectorSettings.from_env()
        if not s.salesforce_configured:
            raise ConnectorError(
                "Salesforce is not configured: set SALESDW_SALESFORCE_INSTANCE_URL (e.g. "
                "https://acme.my.salesforce.com) and SALESDW_SALESFORCE_ACCESS_TOKEN."
            )
        self.objects = tuple(objects)
        self.lookback = timedelta(minutes=s.salesforce_lookback_minutes)
        self.api_version = s.salesforce_api_version
        self.base_path = f"/services/data/v{self.api_version}"
        self.jobs_path = f"{self.base_path}/jobs/query"
        self.bulk_objects = frozenset(s.salesforce_bulk_objects)
        self.bulk_threshold = s.salesforce_bulk_threshold
        self.bulk_page_size = bulk_page_size or s.salesforce_bulk_page_size
        self.polling = polling or BulkPolling()
        self.client = HttpClient(
            s.salesforce_instance_url,
            {
                "Authorization": f"Bearer {s.salesforce_access_token}",
                "Accept": "application/json",
            },
            system="Salesforce",
            auth_hint=AUTH_HINT,
            retry=retry,
        )
        # REST query pages: 200..2000 records; Salesforce may return fewer.
        self.query_options = {"Sforce-Query-Options": f"batchSize={batch_size}"}
        self.state = StateStore(con, CONNECTOR)
        self.spool = Spool(con, s.spool_dir, CONNECTOR, run_id=run_id, on_file=on_file)
        self.routes: dict[str, str] = {}

    # -- the pull ------------------------------------------------------------------------------------
    def pull(self) -> PullResult:
        result = PullResult(CONNECTOR)
        problems: list[ObjectProblem] = []
        self.spool.clear_leftovers()
        try:
            self.routes = self.plan()
            for obj in self.objects:
                try:
                    self.pull_object(obj, result, self.routes[obj.name])
                except ObjectProblem as exc:
                    log.error("%s", exc)
                    problems.append(exc)
        except ConnectorError as exc:
            if exc.status == 404:
                self._check_api_version()
            raise
        finally:
            result.requests, result.retries = self.client.requests, self.client.retries
        if problems:
            raise PullIncomplete(problems, result)
        return result

    def plan(self) -> dict[str, str]:
        """Which API reads each object in this pull: REST or BULK."""
        others = [o.name for o in self.objects if o.name not in self.bulk_objects]
        counts = self.record_counts(others) if others else {}
        routes = {
            o.name: BULK
            if o.name in self.bulk_objects or counts.get(o.name, 0) > self.bulk_threshold
            else REST
            for o in self.objects
        }
        log.info(
            "Salesforce: Bulk API 2.0 for %s; REST for %s",
            ", ".join(n for n, r in routes.items() if r == BULK) or "none",
            ", ".join(n for n, r in routes.items() if r == REST) or "none",
        )
        return routes

    def record_counts(self, names: list[str]) -> dict[str, int]:
        """Records per object (recycle bin excluded; an object without records is absent), one API call."""
        try:
            body = self.client.get(f"{self.base_path}/limits/recordCount", {"sObjects": ",".join(names)})
        except ConnectorError as exc:
            if exc.status not in (400, 403):
                raise
            log.warning(
                "Salesforce: record counts unavailable (%s); %s are read through REST this time",
                str(exc)[:200],
                ", ".join(names),
            )
            return {}
        return {e["name"]: int(e["count"]) for e in body.get("sObjects", []) if "name" in e}

    def pull_object(self, obj: SourceObject, result: PullResult, api: str = REST) -> None:
        fields = [f.name for f in obj.fields]
        required = {f.name for f in obj.fields if f.required}
        restarts = 0
        while True:
            try:
                (self._bulk if api == BULK else self._rest)(obj, fields, result)
                return
            except ConnectorError as exc:
                code, message = _sf_error(exc)
                field_name = missing_field(message)
                if field_name in required:
                    raise ObjectProblem(
                        f"Salesforce {obj.name} has no field {field_name}, or the integration user cannot "
                        f"read it; salesdw's marts need it (a required field of the raw data contract), so "
                        f"{obj.name} was not pulled. Give the user read access to {obj.name}.{field_name} "
                        "(field-level security in its profile or a permission set) and pull again."
                    ) from exc
                if field_name in fields:
                    # e.g. CurrencyIsoCode exists only in multi-currency orgs: the column stays null.
                    log.warning("Salesforce %s has no field %s; pulling without it", obj.name, field_name)
                    fields.remove(field_name)
                    continue
                if missing_object(code, message):
                    # e.g. DatedConversionRate needs advanced currency management, ForecastingQuota forecasts.
                    log.warning("Salesforce org has no %s object (%s); skipped", obj.name, message[:200])
                    return
                if api == BULK and bulk_unsupported(code, message):
                    log.warning(
                        "Salesforce %s: not available through Bulk API 2.0 (%s); using REST",
                        obj.name,
                        message[:200],
                    )
                    api = REST
                    continue
                if (
                    code == "INVALID_QUERY_LOCATOR" or isinstance(exc, BulkJobGone)
                ) and restarts < MAX_RESTARTS:
                    restarts += 1
                    # The stored cursor has not passed anything unread: query again from it.
                    log.warning("Salesforce %s: %s; querying again from the stored cursor", obj.name, exc)
                    continue
                raise

    def _since(self, obj: SourceObject) -> datetime | None:
        if obj.version != VERSION_FIELD:
            return None
        stored = self.state.get(obj.name).cursor
        return parse_sf_datetime(stored) - self.lookback if stored else None

    def _commit(self, obj: SourceObject, cursor: str | None, resume: dict | None) -> None:
        self.state.put(obj.name, cursor, resume, order=parse_sf_datetime)

    # -- REST query API ------------------------------------------------------------------------------
    def _rest(self, obj: SourceObject, fields: list[str], result: PullResult) -> None:
        url: str = f"{self.base_path}/queryAll"
        params: dict | None = {"q": build_soql(obj, fields, self._since(obj))}
        while True:
            page = self.client.get(url, params, headers=self.query_options)
            records = canonical_rows(obj, page.get("records", []), fields)
            result.pages += 1
            if records:
                result.records += len(records)
                result.files.append(self.spool.load(obj, records, fields))
            # Stored only now that the page's load has committed: a kill before this line re-reads the page.
            self._commit(obj, page_high(records), None)
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            url, params = page["nextRecordsUrl"], None

    # -- Bulk API 2.0 query jobs ----------------------------------------------------------------------
    def _bulk(self, obj: SourceObject, fields: list[str], result: PullResult) -> None:
        resume = self.state.get(obj.name).resume or {}
        if resume.get("bulk_job") and resume.get("api_version") == self.api_version:
            job_id, locator, high = resume["bulk_job"], resume.get("locator"), resume.get("high")
            log.info("Salesforce %s: continuing Bulk API 2.0 job %s", obj.name, job_id)
        else:
            job_id, locator, high = self._create_job(obj, fields), None, None
        try:
            self._wait_for(obj, job_id)
            while True:
                header, rows, locator = self._result_set(obj, job_id, locator)
                result.pages += 1
                if rows:
                    result.records += len(rows)
                    result.files.append(self.spool.load(obj, rows, header))
                    high = _later(high, page_high(rows))
                if locator is None:
                    # The whole job is loaded: now the cursor may pass everything it held.
                    self._commit(obj, high, None)
                    break
                # Committed after the set's load: a kill before this line fetches the set again.
                self._commit(obj, None, self._resume_state(job_id, locator, high))
        except BulkJobGone:
            self._commit(obj, None, None)
            raise
        self._delete_job(job_id)

    def _resume_state(self, job_id: str, locator: str | None, high: str | None) -> dict:
        return {"bulk_job": job_id, "api_version": self.api_version, "locator": locator, "high": high}

    def _create_job(self, obj: SourceObject, fields: list[str]) -> str:
        soql = build_soql(obj, fields, self._since(obj), ordered=False)
        body = {
            "operation": "queryAll",  # deleted records too, with IsDeleted = true
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        job = json.loads(self.client.request("POST", self.jobs_path, json_body=body).content)
        log.info("Salesforce %s: Bulk API 2.0 query job %s created", obj.name, job["id"])
        # Stored at once, so a pull killed while the job runs waits for the same job next time.
        self._commit(obj, None, self._resume_state(job["id"], None, None))
        return job["id"]

    def _job_request(self, method: str, job_id: str, suffix: str = "", **kw) -> requests.Response:
        try:
            return self.client.request(method, f"{self.jobs_path}/{job_id}{suffix}", **kw)
        except ConnectorError as exc:
            if exc.status == 404:
                raise BulkJobGone(f"Bulk API 2.0 job {job_id} no longer exists", 404, exc.body) from exc
            raise

    def _wait_for(self, obj: SourceObject, job_id: str) -> None:
        p = self.polling
        started, delay = p.clock(), p.first
        while True:
            job = json.loads(self._job_request("GET", job_id).content)
            state = job.get("state")
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                self._commit(obj, None, None)  # the next attempt creates a new job
                raise BulkJobFailed(obj.name, job)
            if p.clock() - started >= p.give_up_after:
                self._job_request("PATCH", job_id, json_body={"state": "Aborted"})
                self._commit(obj, None, None)
                raise ObjectProblem(
                    f"Salesforce {obj.name}: Bulk API 2.0 query job {job_id} was still {state} after "
                    f"{p.give_up_after / 3600:g} h and was aborted; nothing of it was loaded and the next pull "
                    "starts a new job (Setup > Bulk Data Load Jobs shows why it was slow)."
                )
            p.sleep(delay)
            delay = min(p.longest, delay * p.factor)

    def _result_set(
        self, obj: SourceObject, job_id: str, locator: str | None
    ) -> tuple[list[str], list[dict], str | None]:
        """One CSV result set: its header, its rows, and the next locator (None after the last set)."""
        params = {"maxRecords": self.bulk_page_size, **({"locator": locator} if locator else {})}
        resp = self._job_request("GET", job_id, "/results", params=params, headers={"Accept": "text/csv"})
        text = resp.content.decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        raw_rows = list(reader)
        header = list(reader.fieldnames or [])
        rows = canonical_rows(obj, raw_rows, header)
        announced = resp.headers.get("Sforce-NumberOfRecords")
        if announced is not None and int(announced) != len(rows):
            raise ConnectorError(
                f"Salesforce {obj.name}: a Bulk API 2.0 result set of job {job_id} announced {announced} "
                f"records but held {len(rows)}; nothing of it was loaded, and the next pull reads it again"
            )
        nxt = resp.headers.get("Sforce-Locator")
        return header, rows, None if not nxt or nxt == "null" else nxt

    def _delete_job(self, job_id: str) -> None:
        # Salesforce would keep the results for days; a read job is of no further use.
        try:
            self._job_request("DELETE", job_id)
        except ConnectorError as exc:
            log.warning("Salesforce: could not delete Bulk API 2.0 job %s (%s)", job_id, str(exc)[:200])

    # -- API version ---------------------------------------------------------------------------------
    def _check_api_version(self) -> None:
        """Raise a clear error when the org does not offer the configured API version."""
        try:
            offered = [v["version"] for v in self.client.get("/services/data/")]
        except (ConnectorError, ValueError, LookupError, TypeError):
            return
        if self.api_version in offered:
            return
        newest = max(offered, key=float) if offered else "?"
        raise ConnectorError(
            f"Salesforce at {self.client.base_url} does not offer API version {self.api_version} "
            f"(SALESDW_SALESFORCE_API_VERSION); its newest is {newest}. Set SALESDW_SALESFORCE_API_VERSION="
            f"{newest} and pull again.",
            404,
        )


def pull_salesforce(
    con: duckdb.DuckDBPyConnection, settings: ConnectorSettings | None = None, **kw
) -> PullResult:
    return SalesforceConnector(con, settings, **kw).pull()

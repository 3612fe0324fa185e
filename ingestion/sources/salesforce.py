"""Salesforce REST connector: the contract's CRM objects through queryAll, incremental by SystemModstamp.

Per object: `SELECT <contract fields> FROM <Object> WHERE SystemModstamp >= <cursor - look-back>
ORDER BY SystemModstamp, Id` through `/queryAll` (so soft-deleted records in the recycle bin arrive
with IsDeleted = true), following `nextRecordsUrl` until `done`. Each page is written as a Bulk API 2.0
shaped CSV and loaded by the file loader; the cursor (the page's highest SystemModstamp) is stored after
the load commits. Objects whose contract has no SystemModstamp (UserRole, OpportunityStage,
DatedConversionRate: small reference tables) are read whole on every pull; unchanged records are not
stored again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import duckdb

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
)

log = logging.getLogger(__name__)

CONNECTOR = "salesforce"
VERSION_FIELD = "SystemModstamp"
AUTH_HINT = (
    "Set SALESDW_SALESFORCE_ACCESS_TOKEN to a current OAuth access token for SALESDW_SALESFORCE_INSTANCE_URL "
    "(tokens expire; `sf org display --target-org <alias> --json` prints one) and run the pull again."
)


def parse_sf_datetime(value: str) -> datetime:
    """Salesforce writes `2024-03-31T17:05:09.000+0000` (REST) or `...Z` (Bulk API)."""
    v = value.strip().replace("Z", "+00:00")
    v = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", v)
    dt = datetime.fromisoformat(v)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def soql_datetime(dt: datetime) -> str:
    # SOQL datetime literals are unquoted; fractional seconds are not accepted.
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_soql(obj: SourceObject, fields: Iterable[str], since: datetime | None) -> str:
    where = f" WHERE {VERSION_FIELD} >= {soql_datetime(since)}" if since is not None else ""
    order = f" ORDER BY {VERSION_FIELD}, Id" if obj.version == VERSION_FIELD else " ORDER BY Id"
    return f"SELECT {', '.join(fields)} FROM {obj.name}{where}{order}"


def _sf_error(exc: ConnectorError) -> tuple[str, str]:
    try:
        first = json.loads(exc.body)[0]
        return first.get("errorCode", ""), first.get("message", "")
    except (ValueError, LookupError, TypeError, AttributeError):
        return "", ""


class SalesforceConnector:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: ConnectorSettings | None = None,
        *,
        objects: Iterable[SourceObject] = CRM_OBJECTS,
        retry: RetryPolicy | None = None,
        batch_size: int = 2000,
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
        self.base_path = f"/services/data/v{s.salesforce_api_version}"
        self.client = HttpClient(
            s.salesforce_instance_url,
            {
                "Authorization": f"Bearer {s.salesforce_access_token}",
                "Accept": "application/json",
                # 200..2000 records per page; Salesforce may return fewer.
                "Sforce-Query-Options": f"batchSize={batch_size}",
            },
            system="Salesforce",
            auth_hint=AUTH_HINT,
            retry=retry,
        )
        self.state = StateStore(con, CONNECTOR)
        self.spool = Spool(con, s.spool_dir, CONNECTOR, run_id=run_id, on_file=on_file)

    def pull(self) -> PullResult:
        result = PullResult(CONNECTOR)
        self.spool.clear_leftovers()
        for obj in self.objects:
            self.pull_object(obj, result)
        result.requests, result.retries = self.client.requests, self.client.retries
        return result

    def pull_object(self, obj: SourceObject, result: PullResult) -> None:
        incremental = obj.version == VERSION_FIELD
        stored = self.state.get(obj.name).cursor if incremental else None
        since = parse_sf_datetime(stored) - self.lookback if stored else None
        fields = [f.name for f in obj.fields]
        restarts = 0
        while True:
            try:
                self._query(obj, fields, since, result)
                return
            except ConnectorError as exc:
                code, message = _sf_error(exc)
                missing = re.search(r"No such column '(\w+)'", message)
                optional = {f.name for f in obj.fields if not f.required}
                if code == "INVALID_FIELD" and missing and missing.group(1) in optional:
                    # e.g. CurrencyIsoCode exists only in multi-currency orgs: the column stays null.
                    log.warning(
                        "Salesforce %s has no field %s; pulling without it", obj.name, missing.group(1)
                    )
                    fields.remove(missing.group(1))
                    continue
                if code == "INVALID_QUERY_LOCATOR" and restarts < 3:
                    restarts += 1
                    # A query cursor expires after ~15 minutes idle: query again from the stored cursor.
                    stored = self.state.get(obj.name).cursor if incremental else None
                    since = parse_sf_datetime(stored) - self.lookback if stored else None
                    log.warning(
                        "Salesforce %s: query cursor expired; querying again from %s", obj.name, since
                    )
                    continue
                if code == "INVALID_TYPE":
                    # e.g. DatedConversionRate needs advanced currency management, ForecastingQuota forecasts.
                    log.warning("Salesforce org has no %s object (%s); skipped", obj.name, message[:200])
                    return
                raise

    def _query(
        self, obj: SourceObject, fields: list[str], since: datetime | None, result: PullResult
    ) -> None:
        incremental = obj.version == VERSION_FIELD
        url: str = f"{self.base_path}/queryAll"
        params: dict | None = {"q": build_soql(obj, fields, since)}
        while True:
            page = self.client.get(url, params)
            records = [{k: v for k, v in r.items() if k != "attributes"} for r in page.get("records", [])]
            result.pages += 1
            if records:
                result.records += len(records)
                result.files.append(self.spool.load(obj, records, fields))
            high = None
            if incremental and records:
                high = max(
                    (r[VERSION_FIELD] for r in records if r.get(VERSION_FIELD)),
                    default=None,
                    key=parse_sf_datetime,
                )
            # Stored only now that the page's load has committed: a kill before this line re-reads the page.
            self.state.put(obj.name, high, None, order=parse_sf_datetime)
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            url, params = page["nextRecordsUrl"], None


def pull_salesforce(
    con: duckdb.DuckDBPyConnection, settings: ConnectorSettings | None = None, **kw
) -> PullResult:
    return SalesforceConnector(con, settings, **kw).pull()

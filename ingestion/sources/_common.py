"""What every connector shares: an HTTP client that retries politely, and spool → loader → cursor commits.

A connector never writes raw tables itself. Each fetched page becomes a contract-shaped batch file in the
spool directory and goes through the same `Loader` as a file drop, so typing, quarantine, idempotency and
`audit.load_log` are the file loaders' own. The connector's cursor is stored in `audit.connector_state`
only after the page's load has committed: a kill at any point re-reads at most the pages after the last
stored cursor, and re-read versions are recognised by the loader (same key, same content) and not stored
twice.
"""

from __future__ import annotations

import csv
import email.utils
import io
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import requests

from ingestion.contract import SourceObject
from ingestion.loader import FileResult, Loader

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class ConnectorError(RuntimeError):
    """A pull cannot go on; the message says what the operator should do. Never carries a secret."""

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass
class RetryPolicy:
    max_retries: int = 8
    backoff_base: float = 1.0  # seconds; doubled per attempt, with jitter
    backoff_max: float = 60.0
    sleep: Callable[[float], None] = time.sleep


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpClient:
    """HTTP with retries on 429, 5xx and dropped connections; other errors raise ConnectorError."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        system: str,
        auth_hint: str,
        retry: RetryPolicy | None = None,
        timeout: float = 120.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers)
        self.system = system
        self.auth_hint = auth_hint
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.requests = 0
        self.retries = 0

    def get(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        resp = self.request("GET", path_or_url, params=params, headers=headers)
        # Decimals stay exact: a float would turn 0.1 into 0.1000000000000000055.
        return json.loads(resp.content, parse_float=Decimal)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Any method, retried like `get`; returns the successful response (its body unread)."""
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        attempt = 0
        while True:
            self.requests += 1
            try:
                resp = self.session.request(
                    method, url, params=params, json=json_body, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                resp, wait_hint, why = None, None, type(exc).__name__
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code not in RETRY_STATUS:
                    raise self._error(resp)
                wait_hint, why = (
                    retry_after_seconds(resp.headers.get("Retry-After")),
                    f"HTTP {resp.status_code}",
                )
            if attempt >= self.retry.max_retries:
                raise ConnectorError(
                    f"{self.system}: {url.split('?')[0]} still failing after {attempt} retries ({why}); "
                    f"the pull stopped at its last committed page and resumes from there on the next run"
                )
            backoff = min(self.retry.backoff_max, self.retry.backoff_base * 2**attempt)
            backoff *= 0.5 + random.random() / 2  # jitter: parallel clients do not retry in lockstep
            wait = max(backoff, wait_hint) if wait_hint is not None else backoff
            attempt += 1
            self.retries += 1
            log.warning("%s: %s on %s; retry %d in %.1fs", self.system, why, url.split("?")[0], attempt, wait)
            self.retry.sleep(wait)

    def _error(self, resp: requests.Response) -> ConnectorError:
        detail = resp.text[:300].replace("\n", " ")
        where = resp.request.path_url.split("?")[0] if resp.request is not None else ""
        if resp.status_code in (401, 403):
            return ConnectorError(
                f"{self.system} refused the credentials (HTTP {resp.status_code} on {where}: {detail}). "
                f"{self.auth_hint}",
                resp.status_code,
                resp.text,
            )
        return ConnectorError(
            f"{self.system}: HTTP {resp.status_code} on {where}: {detail}", resp.status_code, resp.text
        )


# -- connector state ---------------------------------------------------------------------------------

STATE_DDL = """CREATE TABLE IF NOT EXISTS audit.connector_state (
    connector VARCHAR,      -- salesforce | stripe | sql_database
    stream VARCHAR,         -- the object / table / event stream the cursor belongs to
    cursor_value VARCHAR,   -- high-water mark of committed loads (never goes backwards)
    resume VARCHAR,         -- JSON: where an interrupted pull continues (NULL when the last pull finished)
    updated_at TIMESTAMPTZ,
    PRIMARY KEY (connector, stream)
)"""


@dataclass
class StreamState:
    cursor: str | None = None
    resume: dict | None = None


class StateStore:
    def __init__(self, con: duckdb.DuckDBPyConnection, connector: str):
        self.con = con
        self.connector = connector
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        con.execute(STATE_DDL)

    def get(self, stream: str) -> StreamState:
        row = self.con.execute(
            "SELECT cursor_value, resume FROM audit.connector_state WHERE connector = ? AND stream = ?",
            [self.connector, stream],
        ).fetchone()
        if row is None:
            return StreamState()
        return StreamState(row[0], json.loads(row[1]) if row[1] else None)

    def put(
        self, stream: str, cursor: str | None, resume: dict | None, *, order: Callable[[str], Any]
    ) -> None:
        """Store the cursor; a value below the stored one is ignored (state never goes backwards)."""
        old = self.get(stream).cursor
        if old is not None and (cursor is None or order(cursor) < order(old)):
            cursor = old
        self.con.execute(
            "INSERT OR REPLACE INTO audit.connector_state VALUES (?, ?, ?, ?, current_timestamp)",
            [self.connector, stream, cursor, json.dumps(resume) if resume is not None else None],
        )


# -- what each page was read as ----------------------------------------------------------------------

PAGES_DDL = """CREATE TABLE IF NOT EXISTS audit.connector_pages (
    connector VARCHAR,      -- stripe
    stream VARCHAR,         -- the object (or `events`) the page was read from
    file VARCHAR,           -- the batch file it was loaded as: audit.load_log.file and raw._source_file
    raw_table VARCHAR,      -- the raw table it was loaded into
    api_version VARCHAR,    -- the API version the source answered in (e.g. Stripe's Stripe-Version header)
    records BIGINT,
    read_at TIMESTAMPTZ
)"""


class PageLog:
    """Notes the API version each loaded page was read in, next to its load-log row (joined on `file`).

    Written after the page's load commits and before its cursor moves: a kill in between re-reads the page."""

    def __init__(self, con: duckdb.DuckDBPyConnection, connector: str):
        self.con = con
        self.connector = connector
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        con.execute(PAGES_DDL)

    def record(self, stream: str, fr: FileResult, api_version: str | None, records: int) -> None:
        self.con.execute(
            "INSERT INTO audit.connector_pages VALUES (?, ?, ?, ?, ?, ?, current_timestamp)",
            [self.connector, stream, fr.file, fr.object, api_version, records],
        )


# -- spool and load ------------------------------------------------------------------------------------


def csv_text(value: Any) -> str:
    """A JSON value as Bulk API 2.0 CSV writes it: empty for null, true/false, plain decimals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default, separators=(",", ":"))
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # Stripe sends integers; a float field keeps JSON's own precision
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps_json_line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, default=_json_default, ensure_ascii=False, separators=(",", ":"))


@dataclass
class PullResult:
    connector: str
    pages: int = 0
    records: int = 0
    files: list[FileResult] = field(default_factory=list)
    requests: int = 0
    retries: int = 0

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_unchanged(self) -> int:
        return sum(f.rows_unchanged for f in self.files)

    def summary(self) -> dict[str, int]:
        return {
            "pages": self.pages,
            "records": self.records,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_unchanged": self.rows_unchanged,
            "http_requests": self.requests,
            "http_retries": self.retries,
        }


class Spool:
    """Writes a batch of records as a contract-shaped file and loads it with the file loader."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        spool_dir: Path,
        connector: str,
        run_id: str | None = None,
        on_file: Callable[[FileResult], None] | None = None,
    ):
        # One folder per connector, with the landing zone's <source>/<object>/ layout inside, so the
        # loader's relative file name (`_source_file`) says which object, and the folder which connector.
        self.root = Path(spool_dir) / connector
        self.root.mkdir(parents=True, exist_ok=True)
        self.connector = connector
        self.loader = Loader(con, self.root, run_id)
        self.on_file = on_file
        # Batch names order versions of objects without a version stamp ("later batch wins"), so they must
        # grow strictly from page to page and from run to run, even if the clock steps back between runs.
        last = con.execute(
            "SELECT max(regexp_extract(file, '([^/]*)\\.[a-z]+$', 1)) FROM audit.load_log "
            "WHERE file LIKE ? ESCAPE '\\'",
            [f"%\\_{connector}\\_%"],
        ).fetchone()[0]
        self._last_batch = last or ""
        self._seq = 0

    def _batch_name(self) -> str:
        # Time first, like the landing zone's batch names, so a mix of file drops and pulls still sorts.
        now = datetime.now(UTC)
        self._seq += 1
        name = f"{now:%Y-%m-%dT%H%M%S}_{now:%f}_{self.connector}_{self._seq:05d}"
        if name <= self._last_batch:
            name = self._last_batch + "_1"
        self._last_batch = name
        return name

    def load(
        self, obj: SourceObject, records: list[dict], columns: Iterable[str] | None = None
    ) -> FileResult:
        """Write `records` as one batch file of `obj` (CSV for CRM, JSON lines otherwise) and load it.

        Raises ConnectorError when the loader refuses the file: then the cursor must not move.
        """
        folder = self.root / obj.source / obj.name
        folder.mkdir(parents=True, exist_ok=True)
        name = self._batch_name()
        if obj.kind == "csv":
            cols = list(columns or [f.name for f in obj.fields])
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(cols)
            for r in records:
                w.writerow([csv_text(r.get(c)) for c in cols])
            text, suffix = buf.getvalue(), ".csv"
        else:
            text, suffix = "".join(dumps_json_line(r) + "\n" for r in records), ".jsonl"
        path = folder / (name + suffix)
        tmp = folder / f".{name}{suffix}.part"  # dotfiles are never picked up as batches
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        try:
            fr = self.loader.load_file(obj, path)
        finally:
            # raw, audit.quarantine and audit.load_log hold everything the file had; a file left behind by
            # a kill before its load is simply fetched again on resume.
            path.unlink(missing_ok=True)
        if self.on_file:
            self.on_file(fr)
        if fr.status == "refused":
            raise ConnectorError(f"{self.connector}: the loader refused a fetched page: {fr.message}")
        return fr

    def clear_leftovers(self) -> None:
        """Files of a pull killed between writing and loading: their pages are fetched again."""
        for p in self.root.rglob("*"):
            if p.is_file():
                p.unlink()

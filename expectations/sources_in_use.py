"""Which sources an installation uses: a source from which nothing was ever delivered is not in use.

A CRM-only team never delivers billing or activity files. Checks that need such a source (a won deal's
billing customer, an activity's CRM user) cannot say anything about its data, so they are skipped with
that reason instead of warning on every run; the report shows the source as "not in use". A source
counts as in use from its first delivery on, whatever became of the file (loaded, a duplicate, refused,
ignored): a source that was in use and stops arriving is a freshness problem, reported as such, not a
source that went out of use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingestion.contract import SOURCES

SOURCE_LABELS = {
    "crm": "CRM (Salesforce)",
    "billing": "Billing (Stripe)",
    "activity": "Sales activity",
}
# A source in use whose newest delivery is older than this warns (the marts' freshness policy warns after
# the same 25 hours: a daily delivery with an hour of slack).
STALE_AFTER_HOURS = 25

IN_USE_QUERY = "SELECT DISTINCT source FROM audit.load_log"


def sources_in_use_from_rows(rows: Iterable[Any]) -> frozenset[str]:
    return frozenset(r[0] for r in rows if r[0] in SOURCES)


def sources_in_use(con: Any) -> frozenset[str] | None:
    """The sources with at least one delivery in ``audit.load_log``; None when the warehouse has no load
    log at all (it was not filled by the loader: nothing is known, so nothing is skipped).

    ``con``: a DuckDB connection or a SQLAlchemy connection (the Postgres target replicates the load log).
    """
    try:
        rows = con.execute(_sql(con, IN_USE_QUERY)).fetchall()
    except Exception:  # no audit.load_log: a warehouse the loader never wrote to
        _rollback(con)
        return None
    return sources_in_use_from_rows(rows)


def not_in_use_reason(needs: Iterable[str], in_use: frozenset[str] | None) -> str | None:
    """Why a check that needs ``needs`` is skipped, or None when it runs."""
    if in_use is None:
        return None
    missing = [s for s in SOURCES if s in set(needs) and s not in in_use]
    if not missing:
        return None
    names = " and ".join(SOURCE_LABELS[s] for s in missing)
    verb = "is" if len(missing) == 1 else "are"
    return f"skipped: {names} {verb} not in use (nothing has ever been delivered)"


def _sql(con: Any, text: str) -> Any:
    if type(con).__module__.startswith("sqlalchemy"):
        from sqlalchemy import text as sa_text

        return sa_text(text)
    return text


def _rollback(con: Any) -> None:
    rollback = getattr(con, "rollback", None)
    if rollback is not None and type(con).__module__.startswith("sqlalchemy"):
        rollback()

"""Integrity of a raw current-state table: keys unique and present, required fields filled.

The loader quarantines rows that break these rules, so a failure here means raw data was changed
behind the loader's back (or the loader has a bug): downstream models must not build on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ingestion.contract import SourceObject
from ingestion.warehouse import quote_ident


@dataclass
class RawIntegrity:
    rows: int
    duplicate_keys: int
    null_required: dict[str, int]
    sample_duplicate_keys: list[str]

    @property
    def passed(self) -> bool:
        return self.duplicate_keys == 0 and not any(self.null_required.values())


def raw_integrity(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> RawIntegrity:
    view = f"raw.{quote_ident(obj.table + '__current')}"
    key = quote_ident(obj.key)
    required = [f for f in obj.fields if f.required]
    null_counts = ", ".join(f"count(*) FILTER (WHERE {quote_ident(f.name)} IS NULL)" for f in required)
    row = con.execute(f"SELECT count(*), {null_counts} FROM {view}").fetchone()
    dupes = con.execute(
        f"SELECT CAST({key} AS VARCHAR) FROM {view} GROUP BY {key} HAVING count(*) > 1 ORDER BY 1"
    ).fetchall()
    return RawIntegrity(
        rows=row[0],
        duplicate_keys=len(dupes),
        null_required={f.name: n for f, n in zip(required, row[1:], strict=True) if n},
        sample_duplicate_keys=[d[0] for d in dupes[:10]],
    )

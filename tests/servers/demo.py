"""Test helpers shared by the connector tests: demo batches in delivery order, file-drop loads, raw-layer diffs."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import duckdb

from ingestion.contract import META_COLUMNS, OBJECTS, SourceObject
from ingestion.loader import Loader
from ingestion.settings import ConnectorSettings
from ingestion.warehouse import connect, quote_ident

# Columns that describe a load rather than the data: which file, when, which load. `_record_hash` is a
# fingerprint of the delivered *text* (a CSV export writes 92932.50, the REST API the number 92932.5), so
# it is load metadata for this comparison too; the typed values are compared column by column.
LOAD_COLUMNS = set(META_COLUMNS) | {"_record_hash"}


def batches(landing: Path, source: str) -> list[tuple[str, list[tuple[SourceObject, Path]]]]:
    """The demo's batch files of one source grouped by batch name, in delivery order."""
    by_batch: dict[str, list[tuple[SourceObject, Path]]] = defaultdict(list)
    for obj in OBJECTS:
        if obj.source != source:
            continue
        folder = landing / obj.source / obj.name
        for p in sorted(folder.glob("*")) if folder.is_dir() else []:
            by_batch[p.stem].append((obj, p))
    return sorted(by_batch.items())


def file_drop_load(landing: Path, warehouse: Path, source: str) -> None:
    """Load every batch file of `source` the way a file drop is loaded."""
    con = connect(warehouse)
    try:
        loader = Loader(con, landing)
        for obj in OBJECTS:
            if obj.source == source:
                loader.load_object(obj)
    finally:
        con.close()


def data_rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple]:
    """Every row of a raw table or view, load columns excluded, values as text, sorted."""
    schema, name = relation.split(".", 1)
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        if r[0] not in LOAD_COLUMNS
    ]
    sel = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c in cols)
    return con.execute(f"SELECT {sel} FROM {schema}.{quote_ident(name)} ORDER BY ALL").fetchall()


def diff_raw(a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection, source: str) -> dict[str, tuple]:
    """{relation: (rows in a, rows in b, rows only in a, rows only in b)} for every raw table and current
    table of `source`; equal layers give only zeros in the last two."""
    out = {}
    for obj in OBJECTS:
        if obj.source != source:
            continue
        for rel in (f"raw.{obj.table}", f"raw.{obj.table}__current"):
            ra, rb = data_rows(a, rel), data_rows(b, rel)
            sa, sb = Counter(ra), Counter(rb)
            out[rel] = (len(ra), len(rb), sum((sa - sb).values()), sum((sb - sa).values()))
    return out


def count(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> int:
    return con.execute(sql, params or []).fetchone()[0]


def connector_settings(spool: Path, **env: str) -> ConnectorSettings:
    return ConnectorSettings.from_env({"SALESDW_CONNECTOR_SPOOL": str(spool), **env})

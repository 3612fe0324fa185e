"""An incremental delivery on top of a generated landing zone: ~`fraction` of records new or changed.

    from ingestion.demo.delta import write_delta
    write_delta(Path("data/landing"), fraction=0.01, seed=7)   # {relative file path: records}

It models the next hourly extract after the demo's last cut, as the sources would deliver it: one new
batch per object (named to sort after every existing batch) holding
- changed versions of versioned records: CRM objects with ``SystemModstamp``, Stripe products
  (``updated``) and activity events (``updated_at``), each one second later than the record's latest
  version and otherwise identical, so every gate and model invariant still holds;
- new activity events: copies of existing events under fresh ids.
Half of ``fraction`` is changed records, half new events. Which records are picked depends only on
(ids, seed), so the same landing zone and seed give byte-identical files. The generator's own output
is untouched; this only adds files.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.contract import OBJECTS, SourceObject

DELTA_BATCH = "2026-01-01T000000_9001"  # sorts after every batch of the generator (…_0001, …_0002)


def _lit(s: str | Path) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _picked(id_expr: str, seed: int, fraction: float, salt: str) -> str:
    per_million = max(1, round(fraction * 1_000_000))
    return f"hash({id_expr} || {_lit(f'{salt}:{seed}')}) % 1000000 < {per_million}"


def write_delta(out_dir: Path, fraction: float = 0.01, seed: int = 7) -> dict[str, int]:
    """Write one delta batch per versioned object under `out_dir`; returns {relative path: records}."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    out = Path(out_dir)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    written: dict[str, int] = {}
    try:
        for obj in OBJECTS:
            folder = out / obj.source / obj.name
            files = sorted(p for p in folder.glob("*") if p.suffix in (".csv", ".jsonl") and p.stat().st_size)
            files = [p for p in files if p.stem != DELTA_BATCH]
            if not files or not obj.version:
                continue
            target = folder / f"{DELTA_BATCH}{files[-1].suffix}"
            write = _csv_delta if obj.kind == "csv" else _json_delta
            n = write(con, obj, files, target, seed, fraction / 2)
            if n:
                written[target.relative_to(out).as_posix()] = n
            else:
                target.unlink(missing_ok=True)
    finally:
        con.close()
    return written


def _csv_delta(con, obj: SourceObject, files: list[Path], target: Path, seed: int, half: float) -> int:
    """The latest version of the picked records, `SystemModstamp` one second later, in the last file's header."""
    lst = "[" + ", ".join(_lit(p) for p in files) + "]"
    header = [
        r[0]
        for r in con.execute(
            f"DESCRIBE SELECT * FROM read_csv({_lit(files[-1])}, all_varchar = true)"
        ).fetchall()
    ]
    cols = ", ".join(
        f'strftime(CAST("{c}" AS TIMESTAMPTZ) + INTERVAL 1 SECOND, \'%Y-%m-%dT%H:%M:%S.%gZ\') AS "{c}"'
        if c == obj.version
        else f'"{c}"'
        for c in header
    )
    sql = (
        f"SELECT {cols} FROM read_csv({lst}, all_varchar = true, union_by_name = true, "
        f"filename = true) WHERE {_picked('Id', seed, half, obj.table)} "
        f"QUALIFY row_number() OVER (PARTITION BY Id ORDER BY CAST({obj.version} AS TIMESTAMPTZ) "
        "DESC, filename DESC) = 1 ORDER BY Id"
    )
    return con.execute(f"COPY ({sql}) TO {_lit(target)} (FORMAT csv, HEADER true)").fetchone()[0]


def _json_delta(con, obj: SourceObject, files: list[Path], target: Path, seed: int, half: float) -> int:
    """The latest version of the picked records one second later; for activity also new events (copies)."""
    lst = "[" + ", ".join(_lit(p) for p in files) + "]"
    version = obj.version
    src = f"read_ndjson_objects({lst}, filename = true)"
    key = "json->>'id'"
    if version == "updated":  # Stripe: unix seconds
        bumped = f"json_object('{version}', CAST(json->>'{version}' AS BIGINT) + 1)"
    else:  # ISO 8601 with offset: one second later, written in UTC
        bumped = (
            f"json_object('{version}', strftime(CAST(json->>'{version}' AS TIMESTAMPTZ) "
            "+ INTERVAL 1 SECOND, '%Y-%m-%dT%H:%M:%SZ'))"
        )
    changed = (
        f"SELECT {key} AS k, json_merge_patch(json, {bumped}) AS j FROM {src} "
        f"WHERE {_picked(key, seed, half, obj.table)} "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY filename DESC) = 1"
    )
    parts = [changed]
    if obj.table == "activity__event":
        new_id = f"'evt_d' || substr(md5({key} || {_lit(seed)}), 1, 15)"
        parts.append(
            f"SELECT {new_id} AS k, json_merge_patch(json, json_object('id', {new_id})) AS j "
            f"FROM {src} WHERE {_picked(key, seed, half, 'new:' + obj.table)} "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY filename DESC) = 1"
        )
    sql = " UNION ALL ".join(f"({p})" for p in parts)
    # One JSON object per line, written verbatim (no CSV quoting of the JSON text).
    return con.execute(
        f"COPY (SELECT CAST(j AS VARCHAR) FROM ({sql}) ORDER BY k) TO {_lit(target)} "
        "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x1f')"
    ).fetchone()[0]

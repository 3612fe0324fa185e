"""SQL that types and validates one staged batch file against the contract, row by row, in DuckDB.

Every value arrives as text (CSV) or as a JSON value (JSON lines, Parquet rows as JSON). For each
contract field we build two expressions: the typed value, and the error (if any) that sends the row
to quarantine. Rows keep every column; a row with any error is quarantined whole, with all its
reasons, and the first reason's code classifies it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

from ingestion.contract import SQL_TYPES, Field, SourceObject
from ingestion.warehouse import quote_ident, quote_literal

# JSON value types DuckDB's json_type() reports that are acceptable for each contract type.
JSON_TYPES = {
    "str": ("VARCHAR",),
    "bool": ("BOOLEAN",),
    "int": ("BIGINT", "UBIGINT"),
    "decimal": ("BIGINT", "UBIGINT", "DOUBLE"),
    "rate": ("BIGINT", "UBIGINT", "DOUBLE"),
    "date": ("VARCHAR",),
    "datetime": ("VARCHAR",),
    "unix": ("BIGINT", "UBIGINT"),
    "object": ("OBJECT",),
    "list": ("OBJECT",),
    "array": ("ARRAY",),
}

INT_RE = r"[+-]?\d{1,18}"
DECIMAL_RE = r"[+-]?(\d{1,12}(\.\d{0,6})?|\.\d{1,6})"
RATE_RE = r"[+-]?(\d{1,9}(\.\d{0,9})?|\.\d{1,9})"
DATE_RE = r"\d{4}-\d{2}-\d{2}"
# ISO 8601 with a zone designator: a timestamp without one is ambiguous, so it is refused.
DATETIME_RE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)"


class RefusedFile(Exception):
    """The file cannot be read at all; nothing of it is loaded."""


UNIX_MIN, UNIX_MAX = -62135596800, 253402300799  # 0001-01-01 .. 9999-12-31

DESCRIPTION = {
    "str": "text",
    "bool": "true/false",
    "int": "whole number",
    "decimal": "plain decimal (at most 12 digits, '.', 6 decimals; no thousands separators)",
    "rate": "plain decimal (at most 9 digits, '.', 9 decimals)",
    "date": "YYYY-MM-DD date",
    "datetime": "ISO 8601 timestamp with a zone (Z or +hh:mm)",
    "unix": "unix timestamp (integer seconds)",
    "object": "JSON object",
    "list": 'list object ({"object": "list", "data": [...]})',
    "array": "JSON array",
}


def csv_columns_from_header(path: Path) -> list[str]:
    """The header of a CSV file (BOM stripped), or [] for an empty file."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        try:
            header = next(csv.reader(text))
        except StopIteration:
            return []
        except csv.Error as exc:
            raise RefusedFile(f"the header line is not valid CSV ({exc})") from exc
    if any("\ufffd" in h or any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in h) for h in header):
        # Binary data or another encoding; a NUL would also cut the SQL text DuckDB receives short.
        raise RefusedFile(
            "the header is not UTF-8 text (control characters or invalid bytes in column names); "
            "export the file as UTF-8 CSV"
        )
    if any(not h.strip() for h in header):
        raise RefusedFile("the header has an empty column name; every column needs a field name")
    lowered = [h.lower() for h in header]
    dupes = sorted({h for h in header if lowered.count(h.lower()) > 1})
    if dupes:
        raise RefusedFile(f"the header repeats column names {dupes}; each field may appear once")
    return header


def _format_ok(f: Field, s: str) -> str:
    """SQL condition on the text s of a value: well-formed for the field's type, beyond casting.

    Casting alone is too lenient (TRY_CAST('12.5' AS BIGINT) is 13, a timestamp without a zone is
    read in the session's zone), so integers, decimals, dates and timestamps are also matched."""
    t = f.type
    if t in ("int", "unix"):
        return f"regexp_full_match(trim({s}), '{INT_RE}')"
    if t == "decimal":
        return f"regexp_full_match(trim({s}), '{DECIMAL_RE}')"
    if t == "rate":
        return f"regexp_full_match(trim({s}), '{RATE_RE}')"
    if t == "date":
        return f"regexp_full_match(trim({s}), '{DATE_RE}')"
    if t == "datetime":
        return f"regexp_full_match(trim({s}), '{DATETIME_RE}')"
    return "true"


def _converted(f: Field, s: str, x: str, is_json: bool) -> str:
    """The typed value, or NULL when the value does not convert."""
    t = f.type
    if t == "str":
        return s
    if t == "bool":
        return f"CASE lower({s}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    if t in ("int", "decimal", "rate", "date", "datetime"):
        return f"try_cast(trim({s}) AS {SQL_TYPES[t]})"
    if t == "unix":
        return (
            f"CASE WHEN try_cast(trim({s}) AS BIGINT) BETWEEN {UNIX_MIN} AND {UNIX_MAX} "
            f"THEN to_timestamp(try_cast(trim({s}) AS BIGINT)) END"
        )
    return x if is_json else f"try_cast({s} AS JSON)"  # object / list / array


def field_layers(
    f: Field, i: int, s_src: str, t_src: str | None, x_src: str | None
) -> tuple[list[str], list[str], list[str], str, str, str]:
    """SQL for one field in three layers, so each value is extracted, converted and checked once.

    Layer 1 (over the staged row): the value as text s (NULL when absent), and for JSON its JSON
    type t and JSON value x. Layer 2: is it null, its converted value c, is it well-formed (ok).
    Layer 3: is it well-formed (ok). Layer 4: the typed output value and the error struct
    (missing_required / wrong_type) or NULL.
    Returns (layer 1, layer 2, layer 3 expressions, value, error, and a cheap "is bad" condition:
    building the error structs for every row costs more than all the checks, so only bad rows do).
    """
    is_json = t_src is not None
    s, t, x, n, c, ok = (quote_ident(f"#{k}{i}") for k in ("s", "t", "x", "n", "c", "ok"))
    layer1 = [f"{s_src} AS {s}"] + ([f"{t_src} AS {t}", f"{x_src} AS {x}"] if is_json else [])
    is_null = f"({x} IS NULL OR {t} = 'NULL')" if is_json else f"({s} IS NULL)"
    checks = [f"{_format_ok(f, s) if (not is_json or f.type in ('date', 'datetime')) else 'true'}"]
    if is_json:
        checks.insert(0, f"{t} IN ({', '.join(quote_literal(j) for j in JSON_TYPES[f.type])})")
        if f.type == "list":
            checks.append(f"json_type({x}, '$.data') = 'ARRAY'")
    if f.type not in ("str",):
        checks.append(f"{c} IS NOT NULL")
    layer2 = [
        f"{is_null} AS {n}",
        f"{_converted(f, s, x, is_json)} AS {c}",
    ]
    ok_expr = " AND ".join(ch for ch in checks if ch != "true") or "true"
    layer3 = [f"coalesce({ok_expr}, false) AS {ok}"]
    shown = f"CAST({x} AS VARCHAR)" if is_json else s
    name = f.name.replace("'", "''")
    desc = DESCRIPTION[f.type].replace("'", "''")
    value = f"CASE WHEN NOT {n} AND {ok} THEN {c} END"
    wrong = (
        f"CASE WHEN NOT {n} AND NOT {ok} THEN "
        f"{{'code': 'wrong_type', 'message': '{name}: ' || left({shown}, 60) || ' is not a {desc}'}} END"
    )
    if f.required:
        empty = n if f.type != "str" else f"({n} OR trim({s}) = '')"
        missing = f"CASE WHEN {empty} THEN {{'code': 'missing_required', 'message': '{name}: required field is empty'}} END"
        error = f"coalesce({missing}, {wrong})"
        bad = f"({empty} OR NOT {ok})"
    else:
        error = wrong
        bad = f"(NOT {n} AND NOT {ok})"
    return layer1, layer2, layer3, value, error, bad


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


RESERVED = {"_record_hash", "_load_id", "_loaded_at", "_source_file", "_batch", "_row_number", "_errors"}


def build_typed_select(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    columns: list[str],
    mode: str,
    *,
    group_src: str | None = None,
) -> tuple[str, dict[str, str], str]:
    """SQL producing temp._typed's rows from temp._stage, the extra (non-contract) columns found, and
    an expression over `_stage s` that rebuilds a row's raw record (used for quarantined rows only).

    mode: 'csv' (_stage holds the file's columns as text), 'json_columns' (_stage holds one JSON
    column per key found in the file) or 'json_lines' (_stage holds each line as text: the slow,
    tolerant path for files with lines that are not JSON objects).
    Output columns: every contract field (typed), every extra column, _row_number, _record_hash,
    _errors (list of {code, message}), _first_of_dupes.

    group_src: several files of one object staged together ('csv' or 'json_columns' mode). It is a query
    over _stage giving _row_number (within its file), _ord (the file's position in the group), _rid
    (the _stage rowid) and the staged columns; _ord and _rid are carried to the output and duplicate
    keys are looked for within each file, exactly as file by file.
    """
    fields = obj.fields
    contract_names = {f.name.lower() for f in fields}
    field_names = {f.name for f in fields}
    extra: dict[str, str] = {}
    extra_src: list[tuple[str, str]] = []  # (output name, expression over src)

    def add_extra(col: str, expr: str, typ: str) -> None:
        name = _unique_name(col, contract_names | RESERVED | {e.lower() for e in extra})
        extra[name] = typ
        extra_src.append((name, expr))

    def struct_of(cols: list[str]) -> str:
        return (
            "CAST(to_json(struct_pack("
            + ", ".join(f"{quote_ident(c)} := s.{quote_ident(c)}" for c in cols)
            + ")) AS VARCHAR)"
        )

    # Per field: (text, JSON type, JSON value) expressions over src.
    sources: list[tuple[str, str | None, str | None]] = []
    unparseable = None  # json_lines only: rows that are not JSON objects
    if mode == "json_lines":
        keys = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT k FROM (SELECT unnest(json_keys(try_cast(ltrim(line, chr(65279)) AS JSON))) AS k "
                "FROM _stage WHERE json_type(try_cast(ltrim(line, chr(65279)) AS JSON)) = 'OBJECT') ORDER BY k"
            ).fetchall()
        ]
        extra_keys = [k for k in keys if k not in field_names]
        paths = [_json_path(f.name) for f in fields] + [_json_path(k) for k in extra_keys]
        src = (
            "SELECT _row_number, _j, json_type(_j) AS _jt, "
            f"json_extract(_j, [{', '.join(quote_literal(p) for p in paths)}]) AS _v FROM ("
            "SELECT rowid + 1 AS _row_number, try_cast(ltrim(line, chr(65279)) AS JSON) AS _j FROM _stage "
            "WHERE line IS NOT NULL AND trim(line) <> '')"
        )
        sources = [
            (f"(_v[{i}] ->> '$')", f"json_type(_v[{i}])", f"_v[{i}]") for i in range(1, len(fields) + 1)
        ]
        for j, k in enumerate(extra_keys, start=len(fields) + 1):
            add_extra(k, f"_v[{j}]", "JSON")
        unparseable = (
            "CASE WHEN _j IS NULL THEN [{'code': 'unparseable_row', 'message': 'not valid JSON'}] "
            "WHEN _jt <> 'OBJECT' THEN [{'code': 'unparseable_row', 'message': "
            "'a JSON ' || lower(_jt) || ', not an object'}] END"
        )
        raw_expr = "s.line"
    elif mode == "json_columns":
        src = "SELECT rowid + 1 AS _row_number, * FROM _stage"
        for f in fields:
            x = quote_ident(f.name) if f.name in columns else "CAST(NULL AS JSON)"
            sources.append((f"({x} ->> '$')", f"json_type({x})", x))
        for c in columns:
            if c not in field_names:
                add_extra(c, quote_ident(c), "JSON")
        raw_expr = struct_of(columns)
    else:
        by_lower = {c.lower(): c for c in columns}
        src = "SELECT rowid + 1 AS _row_number, * FROM _stage"
        for f in fields:
            col = by_lower.get(f.name.lower())
            # An optional field absent from this export is null; a required one is quarantined.
            sources.append((quote_ident(col) if col else "CAST(NULL AS VARCHAR)", None, None))
        for c in columns:
            if c.lower() not in contract_names:
                add_extra(c, quote_ident(c), "VARCHAR")
        raw_expr = struct_of(columns)

    l1, l2, l3, values, errors, bads = [], [], [], [], [], []
    for i, (f, (s_src, t_src, x_src)) in enumerate(zip(fields, sources, strict=True), start=1):
        a, b, c, value, error, bad = field_layers(f, i, s_src, t_src, x_src)
        l1 += a
        l2 += b
        l3 += c
        values.append(f"{value} AS {quote_ident(f.name)}")
        errors.append(error)
        bads.append(bad)
    carry = []
    if group_src is not None:
        if mode == "json_lines":
            raise ValueError("a group of files is staged as CSV text or JSON columns, never as raw lines")
        src, carry = group_src, ["_ord", "_rid"]
    l1 += [f"{expr} AS {quote_ident(name)}" for name, expr in extra_src]
    passthrough = "".join(f", {c}" for c in carry) + (", _j, _jt" if mode == "json_lines" else "")
    field_errors = (
        f"CASE WHEN {' OR '.join(bads)} THEN list_filter([{', '.join(errors)}], e -> e IS NOT NULL) "
        "ELSE []::STRUCT(code VARCHAR, message VARCHAR)[] END"
    )
    errors_sql = f"coalesce({unparseable}, {field_errors})" if unparseable else field_errors
    # The record hash identifies a version's content: the delivered text of every field in contract
    # order, then extras by name (cheaper than hashing the typed row, and independent of column order).
    delivered = [
        f"coalesce(CAST({quote_ident(f'#x{i}')} AS VARCHAR), chr(0))"
        if t_src
        else f"coalesce({quote_ident(f'#s{i}')}, chr(0))"
        for i, (_, t_src, _) in enumerate(sources, start=1)
    ] + [f"coalesce(CAST({quote_ident(n)} AS VARCHAR), chr(0))" for n in sorted(extra)]
    layered = (
        f"l1 AS (SELECT _row_number{passthrough}, {', '.join(l1)} FROM src),\n"
        f"l2 AS (SELECT *, {', '.join(l2)} FROM l1),\n"
        f"l3 AS (SELECT *, {', '.join(l3)} FROM l2),\n"
        f"hashed AS (SELECT {', '.join(values + [quote_ident(n) for n in extra])}, _row_number, "
        + "".join(f"{c}, " for c in carry)
        + f"{errors_sql} AS _errors, md5(concat_ws(chr(31), {', '.join(delivered)})) AS _record_hash FROM l3),"
    )

    key = quote_ident(obj.key)
    part_cols = [key] + ([quote_ident(obj.version)] if obj.version else []) + carry[:1]
    part = ", ".join(part_cols)
    key_name = obj.key.replace("'", "''")
    # Duplicate keys within a file are rare: find them with one aggregate (on a 64-bit hash of the key:
    # a third of the cost of grouping the key's text; a collision only adds a candidate the exact
    # aggregate drops), then join the few back (window functions over every row cost 4x more here).
    # Same content twice: keep the first row.
    # Different content for the same key and version: quarantine every copy, none is more right.
    sql = f"""
WITH src AS ({src}),
{layered}
dupe_hashes AS (SELECT hash({part}) AS _h FROM hashed WHERE len(_errors) = 0 GROUP BY ALL HAVING count(*) > 1),
dupes AS (
  SELECT {part}, count(*) AS _n, min(_record_hash) <> max(_record_hash) AS _conflict, min(_row_number) AS _keep
  FROM hashed WHERE len(_errors) = 0 AND hash({part}) IN (SELECT _h FROM dupe_hashes) GROUP BY ALL HAVING count(*) > 1
)
SELECT h.* EXCLUDE (_errors),
  CASE WHEN len(h._errors) = 0 AND d._conflict THEN
    [{{'code': 'duplicate_conflict', 'message': '{key_name} ' || CAST(h.{key} AS VARCHAR) || ' appears ' || d._n
      || ' times in this file for the same version with different content; none of them is loaded'}}]
  ELSE h._errors END AS _errors,
  d._n IS NULL OR (NOT d._conflict AND h._row_number = d._keep) AS _first_of_dupes
FROM hashed h LEFT JOIN dupes d ON {" AND ".join(f"h.{c} IS NOT DISTINCT FROM d.{c}" for c in part_cols)}
"""
    return sql, extra, raw_expr


def _unique_name(name: str, taken: set[str]) -> str:
    """Extra columns keep their name unless it collides (case-insensitively) with one we have."""
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}__{n}"
    return candidate

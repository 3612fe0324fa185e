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
    "date": ("VARCHAR",),
    "datetime": ("VARCHAR",),
    "unix": ("BIGINT", "UBIGINT"),
    "object": ("OBJECT",),
    "list": ("OBJECT",),
    "array": ("ARRAY",),
}

INT_RE = r"[+-]?\d{1,18}"
DECIMAL_RE = r"[+-]?(\d{1,29}(\.\d{0,9})?|\.\d{1,9})"
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
    "decimal": "plain decimal (digits and one '.', no thousands separators)",
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
    if any(not h.strip() for h in header):
        raise RefusedFile("the header has an empty column name; every column needs a field name")
    lowered = [h.lower() for h in header]
    dupes = sorted({h for h in header if lowered.count(h.lower()) > 1})
    if dupes:
        raise RefusedFile(f"the header repeats column names {dupes}; each field may appear once")
    return header


def _text_ok(f: Field, s: str) -> str:
    """SQL condition: the text form s of a non-null value is well-formed for the field's type."""
    t = f.type
    if t == "bool":
        return f"lower({s}) IN ('true', 'false')"
    if t == "int":
        return f"regexp_full_match(trim({s}), '{INT_RE}')"
    if t == "decimal":
        return f"regexp_full_match(trim({s}), '{DECIMAL_RE}')"
    if t == "date":
        return f"(regexp_full_match(trim({s}), '{DATE_RE}') AND try_cast(trim({s}) AS DATE) IS NOT NULL)"
    if t == "datetime":
        return (
            f"(regexp_full_match(trim({s}), '{DATETIME_RE}') "
            f"AND try_cast(trim({s}) AS TIMESTAMPTZ) IS NOT NULL)"
        )
    if t == "unix":
        return (
            f"(regexp_full_match(trim({s}), '{INT_RE}') "
            f"AND try_cast(trim({s}) AS BIGINT) BETWEEN {UNIX_MIN} AND {UNIX_MAX})"
        )
    return "true"


def _typed_value(f: Field, s: str, x: str) -> str:
    t = f.type
    if t == "str":
        return s
    if t == "bool":
        return f"CASE lower({s}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    if t in ("int", "decimal", "date", "datetime"):
        return f"try_cast(trim({s}) AS {SQL_TYPES[t]})"
    if t == "unix":
        return f"to_timestamp(try_cast(trim({s}) AS BIGINT))"
    return x  # object / list / array: the JSON value itself


def field_expressions(f: Field, s: str, t: str | None, x: str) -> tuple[str, str, str]:
    """(value, is_null, error) SQL expressions for one field.

    s: the value as text (NULL when absent); t: its JSON type (None for CSV, where every value is
    text); x: the value as JSON.
    """
    is_null = f"({s} IS NULL)" if t is None else f"({x} IS NULL OR {t} = 'NULL')"
    if t is None:
        type_ok = _text_ok(f, s)
        if f.type in ("object", "list", "array"):
            type_ok = f"json_valid({s})"
    else:
        accepted = ", ".join(quote_literal(j) for j in JSON_TYPES[f.type])
        type_ok = f"({t} IN ({accepted}) AND {_text_ok(f, s)})"
        if f.type == "list":
            type_ok = f"({type_ok} AND json_type({x}, '$.data') = 'ARRAY')"
    shown = s if t is None else f"CAST({x} AS VARCHAR)"
    name = f.name.replace("'", "''")
    wrong = (
        f"CASE WHEN NOT {is_null} AND NOT coalesce({type_ok}, false) THEN "
        f"{{'code': 'wrong_type', 'message': '{name}: ' || left({shown}, 60) || ' is not a "
        f"{DESCRIPTION[f.type].replace(chr(39), chr(39) * 2)}'}} END"
    )
    if f.required:
        empty = is_null if f.type != "str" else f"({is_null} OR trim({s}) = '')"
        missing = f"CASE WHEN {empty} THEN {{'code': 'missing_required', 'message': '{name}: required field is empty'}} END"
        error = f"coalesce({missing}, {wrong})"
    else:
        error = wrong
    value = f"CASE WHEN NOT {is_null} AND coalesce({type_ok}, false) THEN {_typed_value(f, s, x)} END"
    return value, is_null, error


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_typed_select(
    con: duckdb.DuckDBPyConnection, obj: SourceObject, columns: list[str], is_json: bool
) -> tuple[str, dict[str, str]]:
    """SQL producing temp._typed's rows from temp._stage, and the extra (non-contract) columns found.

    Output columns: every contract field (typed), every extra column, _row_number, _raw,
    _record_hash, _errors (list of {code, message}), _first_of_dupes.
    """
    fields = obj.fields
    contract_names = {f.name.lower() for f in fields}
    values: list[str] = []
    errors: list[str] = []
    extra: dict[str, str] = {}

    if is_json:
        keys = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT k FROM (SELECT unnest(json_keys(try_cast(ltrim(line, chr(65279)) AS JSON))) AS k "
                "FROM _stage WHERE json_type(try_cast(ltrim(line, chr(65279)) AS JSON)) = 'OBJECT') ORDER BY k"
            ).fetchall()
        ]
        extra_keys = [k for k in keys if k.lower() not in contract_names and not k.startswith("_")]
        paths = [_json_path(f.name) for f in fields] + [_json_path(k) for k in extra_keys]
        src = (
            "SELECT _row_number, _raw, _j, json_type(_j) AS _jt, "
            f"json_extract(_j, [{', '.join(quote_literal(p) for p in paths)}]) AS _v FROM ("
            "SELECT rowid + 1 AS _row_number, line AS _raw, "
            "try_cast(ltrim(line, chr(65279)) AS JSON) AS _j FROM _stage "
            "WHERE line IS NOT NULL AND trim(line) <> '')"
        )
        for i, f in enumerate(fields, start=1):
            x = f"_v[{i}]"
            value, _, error = field_expressions(f, f"({x} ->> '$')", f"json_type({x})", x)
            values.append(f"{value} AS {quote_ident(f.name)}")
            errors.append(error)
        for j, k in enumerate(extra_keys, start=len(fields) + 1):
            name = _unique_name(k, contract_names | {e.lower() for e in extra})
            extra[name] = "JSON"
            values.append(f"_v[{j}] AS {quote_ident(name)}")
        field_errors = f"list_filter([{', '.join(errors)}], e -> e IS NOT NULL)"
        errors_sql = (
            "CASE WHEN _j IS NULL THEN [{'code': 'unparseable_row', 'message': 'not valid JSON'}] "
            "WHEN _jt <> 'OBJECT' THEN [{'code': 'unparseable_row', 'message': "
            "'a JSON ' || lower(_jt) || ', not an object'}] "
            f"ELSE {field_errors} END"
        )
    else:
        by_lower = {c.lower(): c for c in columns}
        raw_struct = ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in columns)
        src = f"SELECT rowid + 1 AS _row_number, CAST(to_json(struct_pack({raw_struct})) AS VARCHAR) AS _raw, * FROM _stage"
        for f in fields:
            col = by_lower.get(f.name.lower())
            if col is None:  # optional field absent from this export: null; required: quarantined
                s = "CAST(NULL AS VARCHAR)"
            else:
                s = quote_ident(col)
            value, _, error = field_expressions(f, s, None, f"try_cast({s} AS JSON)")
            values.append(f"{value} AS {quote_ident(f.name)}")
            errors.append(error)
        for c in columns:
            if c.lower() in contract_names:
                continue
            name = _unique_name(c, contract_names | {e.lower() for e in extra})
            extra[name] = "VARCHAR"
            values.append(f"{quote_ident(c)} AS {quote_ident(name)}")
        errors_sql = f"list_filter([{', '.join(errors)}], e -> e IS NOT NULL)"

    out_cols = [f.name for f in fields] + list(extra)
    key = quote_ident(obj.key)
    part_cols = [key] + ([quote_ident(obj.version)] if obj.version else [])
    part = ", ".join(part_cols)
    row_hash = f"md5(CAST(ROW({', '.join(quote_ident(c) for c in out_cols)}) AS VARCHAR))"
    key_name = obj.key.replace("'", "''")
    # Duplicate keys within a file are rare: find them with one aggregate, then join the few back
    # (window functions over every row cost 4x more here). Same content twice: keep the first row.
    # Different content for the same key and version: quarantine every copy, none is more right.
    sql = f"""
WITH src AS ({src}),
vals AS (SELECT {', '.join(values)}, _row_number, _raw, {errors_sql} AS _errors FROM src),
hashed AS (SELECT *, {row_hash} AS _record_hash FROM vals),
dupes AS (
  SELECT {part}, count(*) AS _n, min(_record_hash) <> max(_record_hash) AS _conflict, min(_row_number) AS _keep
  FROM hashed WHERE len(_errors) = 0 GROUP BY ALL HAVING count(*) > 1
)
SELECT h.* EXCLUDE (_errors),
  CASE WHEN len(h._errors) = 0 AND d._conflict THEN
    [{{'code': 'duplicate_conflict', 'message': '{key_name} ' || CAST(h.{key} AS VARCHAR) || ' appears ' || d._n
      || ' times in this file for the same version with different content; none of them is loaded'}}]
  ELSE h._errors END AS _errors,
  d._n IS NULL OR (NOT d._conflict AND h._row_number = d._keep) AS _first_of_dupes
FROM hashed h LEFT JOIN dupes d ON {' AND '.join(f'h.{c} IS NOT DISTINCT FROM d.{c}' for c in part_cols)}
"""
    return sql, extra


def _unique_name(name: str, taken: set[str]) -> str:
    """Extra columns keep their name unless it collides (case-insensitively) with one we have."""
    candidate, n = name, 1
    while candidate.lower() in taken or candidate.lower() in {"_record_hash"}:
        n += 1
        candidate = f"{name}__{n}"
    return candidate

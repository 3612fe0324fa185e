"""SQL that types and validates one staged batch file against the contract, row by row, in DuckDB.

Every value arrives as text (CSV) or as a JSON value (JSON lines, Parquet rows as JSON). For each
contract field we build two expressions: the typed value, and the error (if any) that sends the row
to quarantine. Rows keep every column; a row with any error is quarantined whole, with all its
reasons, and the first reason's code classifies it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingestion.contract import SQL_TYPES, Field, SourceObject
from ingestion.warehouse import RAW_RESERVED, quote_ident, quote_literal

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
# ISO 8601 / RFC 3339 with a zone designator: a timestamp without one is ambiguous, so it is refused. Hours
# 00-23 and minutes 00-59, in the time and in the offset: DuckDB would read `+25:00` or `+0099` by shifting
# the instant by 25 hours or 99 minutes, and `T24:00` as the next day.
_HH, _MM = "([01]\\d|2[0-3])", "[0-5]\\d"
DATETIME_RE = rf"\d{{4}}-\d{{2}}-\d{{2}}[T ]{_HH}:{_MM}(:{_MM}(\.\d{{1,9}})?)?(Z|[+-]{_HH}(:?{_MM})?)"


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
    return check_header(header)


def check_header(header: list[str]) -> list[str]:
    """The column names of a file (CSV header, Parquet schema), or RefusedFile saying what is wrong."""
    if any("\ufffd" in h or any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in h) for h in header):
        # Binary data or another encoding; a NUL would also cut the SQL text DuckDB receives short.
        raise RefusedFile(
            "the header is not UTF-8 text (control characters or invalid bytes in column names); "
            "export the file as UTF-8 CSV"
        )
    if any(not h.strip() for h in header):
        raise RefusedFile("the header has an empty column name; every column needs a field name")
    lowered = [normalized(h) for h in header]
    dupes = sorted({h for h in header if lowered.count(normalized(h)) > 1})
    if dupes:
        raise RefusedFile(
            f"the header names one column twice {dupes} (names are matched ignoring case and surrounding "
            "spaces); each field may appear once"
        )
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
    f: Field,
    i: int,
    s_src: str,
    t_src: str | None,
    x_src: str | None,
    *,
    waive_required: str | None = None,
    nested_list: bool = False,
) -> tuple[list[str], list[str], list[str], str, str, str]:
    """SQL for one field in three layers, so each value is extracted, converted and checked once.

    Layer 1 (over the staged row): the value as text s (NULL when absent), and for JSON its JSON
    type t and JSON value x. Layer 2: is it null, its converted value c. Layer 3: is it well-formed (ok).
    Then the typed output value and the error struct (missing_required / wrong_type / incomplete_list) or NULL.
    waive_required: a condition under which a required field may be empty (a deletion stub).
    nested_list: a Stripe list whose `has_more: true` sends the row to quarantine.
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
    errors = [
        f"CASE WHEN NOT {n} AND NOT {ok} THEN "
        f"{{'code': 'wrong_type', 'message': '{name}: ' || left({shown}, 60) || ' is not a {desc}'}} END"
    ]
    bads = [f"(NOT {n} AND NOT {ok})"]
    if f.required:
        empty = n if f.type != "str" else f"({n} OR trim({s}) = '')"
        if waive_required:
            empty = f"({empty} AND NOT {waive_required})"
        errors.insert(
            0,
            f"CASE WHEN {empty} THEN {{'code': 'missing_required', 'message': '{name}: required field is empty'}} END",
        )
        bads.insert(0, empty)
    if nested_list:
        more = f"({ok} AND {incomplete_list(x)})"
        errors.append(f"CASE WHEN {more} THEN {_incomplete_error(name)} END")
        bads.append(more)
    if is_json and f.type in ("object", "list", "array"):
        repeated = f"({ok} AND {repeats_a_key(x)})"
        errors.append(f"CASE WHEN {repeated} THEN {_repeated_error(name)} END")
        bads.append(repeated)
    error = errors[0] if len(errors) == 1 else f"coalesce({', '.join(errors)})"
    return layer1, layer2, layer3, value, error, f"({' OR '.join(bads)})"


def json_kind(x: str) -> str:
    """SQL: json_type(x) of a JSON value as DuckDB holds it (its readers and json_extract write values without
    surrounding space), read off its first character; only numbers are parsed (BIGINT, UBIGINT or DOUBLE).
    Parsing every value of every row for its type alone cost a fifth of the typing pass."""
    cases = {'"': "VARCHAR", "{": "OBJECT", "[": "ARRAY", "t": "BOOLEAN", "f": "BOOLEAN", "n": "NULL"}
    whens = " ".join(f"WHEN {quote_literal(c)} THEN {quote_literal(k)}" for c, k in cases.items())
    return f"CASE left(CAST({x} AS VARCHAR), 1) {whens} ELSE json_type({x}) END"


def incomplete_list(x: str) -> str:
    """SQL: the JSON value x is a Stripe list that says it holds only part of its items."""
    return f"coalesce(({x} ->> '$.has_more') = 'true', false)"


def repeats_a_key(x: str) -> str:
    """SQL: an object anywhere inside the JSON object or array x names a key twice (which value is meant is
    undefined; JSON paths would read the first)."""
    root = f"list_unique(json_keys({x})) < len(json_keys({x}))"  # '$.**' lists what is below the root only
    # Without a `{` in its text the value holds no object, so no key: most arrays (a list of e-mails) are
    # answered without parsing them.
    return (
        f"(contains(CAST({x} AS VARCHAR), '{{') AND ({root} OR "
        f"list_bool_or(list_transform(json_keys({x}, '$.**'), ks -> list_unique(ks) < len(ks)))))"
    )


def _repeated_error(name: str) -> str:
    return f"{{'code': 'duplicate_key', 'message': '{name}: an object in it repeats a key; which value is meant is undefined'}}"


def _incomplete_error(name: str) -> str:
    return (
        f"{{'code': 'incomplete_list', 'message': '{name}: has_more is true: the list holds only part of its "
        "items and a file cannot complete it; deliver the object with the whole list (an API pull completes "
        "it from the list''s url)'}"
    )


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def staged_name(i: int) -> str:
    """The column a file's i-th delivered column (0-based) has in temp._stage. Delivered names never become
    SQL names before the raw insert, so no header or key can collide with a name the loader uses."""
    return f"#d{i + 1}"


def normalized(name: str) -> str:
    """A delivered name as matched against contract fields: surrounding whitespace and case set aside."""
    return name.strip().lower()


def field_variants(obj: SourceObject, names: list[str]) -> list[list[int]]:
    """Per contract field, the delivered names (as indexes into names) that name it: the exact name first,
    then names equal to it once whitespace and case are set aside (` Amount`, `amount`)."""
    by_norm: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        by_norm.setdefault(normalized(name), []).append(i)
    out = []
    for f in obj.fields:
        found = by_norm.get(f.name.lower(), [])
        out.append(sorted(found, key=lambda i: names[i] != f.name))
    return out


@dataclass(frozen=True)
class Extra:
    """A delivered column the contract does not know: kept in raw under `name`, `internal` in the SQL."""

    name: str
    internal: str
    type: str


@dataclass
class Typed:
    sql: str  # SELECT producing temp._typed from temp._stage (every row _first_of_dupes until create_typed marks)
    extras: list[Extra]
    raw_expr: str  # SQL over `_stage s` rebuilding a row's delivered record (for quarantined rows)
    dupes_sql: str  # CREATE of temp._dupes: (key, version, file) groups of more than one good row
    mark_sql: str  # UPDATE of _typed's rows in those groups: a conflict quarantined, else only the first kept


def create_typed(con: duckdb.DuckDBPyConnection, typed: Typed) -> None:
    """Write temp._typed (and temp._dupes) from temp._stage: typed, validated, hashed, duplicates marked."""
    con.execute(f"CREATE TEMP TABLE _typed AS {typed.sql}")
    con.execute(typed.dupes_sql)
    if con.execute("SELECT count(*) FROM _dupes").fetchone()[0]:
        con.execute(typed.mark_sql)


# Types whose delivered text has several spellings of one value (".000Z" / "+0000", "5" / "05", "TRUE" /
# "true", 1.5 / 1.50): the record hash is over the value as read, so a re-export that spells a value
# differently is the same version. JSON integers, booleans and dates have one spelling each.
_CANONICAL = {
    "csv": {"bool", "int", "decimal", "rate", "datetime"},
    "json": {"decimal", "rate", "datetime"},
}


def build_typed_select(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    columns: list[str],
    mode: str,
    *,
    group_src: str | None = None,
) -> Typed:
    """SQL producing temp._typed's rows from temp._stage, the extra (non-contract) columns found, and
    an expression over `_stage s` that rebuilds a row's raw record (used for quarantined rows only).

    mode: 'csv' (_stage holds the file's columns as text), 'json_columns' (_stage holds one JSON
    column per key found in the file) or 'json_lines' (_stage holds each line as text: the slow,
    tolerant path for files with lines that are not JSON objects). In the first two, delivered column
    i is _stage's column staged_name(i) and `columns` holds the delivered names.
    Output columns: every contract field (typed, under its name), every extra column (under its
    Extra.internal name), _row_number, _record_hash, _errors (list of {code, message}), _first_of_dupes.

    group_src: several files of one object staged together ('csv' or 'json_columns' mode). It is a query
    over _stage giving _row_number (within its file), _ord (the file's position in the group), _rid
    (the _stage rowid) and the staged columns; _ord and _rid are carried to the output and duplicate
    keys are looked for within each file, exactly as file by file.
    """
    fields = obj.fields
    is_json = mode != "csv"
    if mode == "json_lines":
        columns = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT k FROM (SELECT unnest(json_keys(try_cast(ltrim(line, chr(65279)) AS JSON))) AS k "
                "FROM _stage WHERE json_type(try_cast(ltrim(line, chr(65279)) AS JSON)) = 'OBJECT') ORDER BY k"
            ).fetchall()
        ]
    if "" in columns:
        raise RefusedFile(
            "a JSON key is the empty string; every value needs a field name (re-export the file from the source)"
        )
    variants = field_variants(obj, columns)
    mapped = {i for v in variants for i in v}
    extras: list[Extra] = []
    extra_src: list[str] = []  # per extra: its expression over src
    taken = {f.name.lower() for f in fields} | {r.lower() for r in RAW_RESERVED}

    def add_extra(col: str, expr: str, typ: str) -> None:
        name = _unique_name(col, taken)
        taken.add(name.lower())
        extras.append(Extra(name, f"#e{len(extras) + 1}", typ))
        extra_src.append(expr)

    # Per delivered column: (text, JSON type, JSON value) expressions over src.
    if mode == "json_lines":
        paths = [_json_path(k) for k in columns]
        src = (
            (
                "SELECT _row_number, _j, json_type(_j) AS _jt, "
                f"json_extract(_j, [{', '.join(quote_literal(p) for p in paths)}]) AS _v FROM ("
                "SELECT rowid + 1 AS _row_number, try_cast(ltrim(line, chr(65279)) AS JSON) AS _j FROM _stage "
                "WHERE line IS NOT NULL AND trim(line) <> '')"
            )
            if paths
            else (
                "SELECT rowid + 1 AS _row_number, try_cast(ltrim(line, chr(65279)) AS JSON) AS _j, "
                "json_type(_j) AS _jt FROM _stage WHERE line IS NOT NULL AND trim(line) <> ''"
            )
        )
        cols = [(f"(_v[{j}] ->> '$')", json_kind(f"_v[{j}]"), f"_v[{j}]") for j in range(1, len(columns) + 1)]
        raw_expr = "s.line"
    else:
        src = "SELECT rowid + 1 AS _row_number, * FROM _stage"
        if is_json:
            cols = [
                (f"({quote_ident(staged_name(j))} ->> '$')", json_kind(quote_ident(staged_name(j))),
                 quote_ident(staged_name(j)))
                for j in range(len(columns))
            ]  # fmt: skip
        else:
            cols = [(quote_ident(staged_name(j)), None, None) for j in range(len(columns))]
        raw_expr = (
            "CAST(json_object("
            + ", ".join(f"{quote_literal(c)}, s.{quote_ident(staged_name(j))}" for j, c in enumerate(columns))
            + ") AS VARCHAR)"
        )
    for j, c in enumerate(columns):
        if j not in mapped:
            add_extra(c, cols[j][2] if is_json else cols[j][0], "JSON" if is_json else "VARCHAR")

    # Per field: its source expressions; a field named by several keys takes the one present, and a row
    # holding more than one of them is ambiguous (CSV headers naming a field twice are refused earlier).
    sources: list[tuple[str, str | None, str | None]] = []
    ambiguous: list[str] = []
    presence: list[str] = []  # layer-1 columns: how many of a field's keys a row holds
    for f, v in zip(fields, variants, strict=True):
        if not v:
            sources.append(("CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)", "CAST(NULL AS JSON)") if is_json
                           else ("CAST(NULL AS VARCHAR)", None, None))  # fmt: skip
        elif len(v) == 1 or not is_json:
            sources.append(cols[v[0]])
        else:
            xs = [cols[j][2] for j in v]
            x = f"coalesce({', '.join(xs)})"
            sources.append((f"({x} ->> '$')", json_kind(x), x))
            names = " and ".join(repr(columns[j]) for j in v).replace("'", "''")
            present = quote_ident(f"#a{len(presence) + 1}")
            presence.append(
                " + ".join(f"CAST({xj} IS NOT NULL AND json_type({xj}) <> 'NULL' AS INTEGER)" for xj in xs)
                + f" AS {present}"
            )
            ambiguous.append(
                f"CASE WHEN {present} > 1 THEN {{'code': 'duplicate_key', 'message': 'keys {names} both name "
                f"the field {f.name.replace(chr(39), chr(39) * 2)}'}} END"
            )

    waive = None
    if obj.deletes_are_final:
        k = next(i for i, f in enumerate(fields, start=1) if f.name == obj.deleted)
        waive = f"coalesce({quote_ident(f'#ok{k}')} AND {quote_ident(f'#c{k}')}, false)"
    check_lists = obj.source == "billing"
    l1, l2, l3, values, errors, bads = [], [], [], [], [], []
    for i, (f, (s_src, t_src, x_src)) in enumerate(zip(fields, sources, strict=True), start=1):
        a, b, c, value, error, bad = field_layers(
            f,
            i,
            s_src,
            t_src,
            x_src,
            waive_required=waive if f.name != obj.key else None,
            nested_list=check_lists and f.type == "list",
        )
        l1 += a
        l2 += b
        l3 += c
        values.append(f"{value} AS {quote_ident(f.name)}")
        errors.append(error)
        bads.append(bad)
    for e in ambiguous:
        errors.insert(0, e)
        bads.insert(0, f"({e}) IS NOT NULL")
    if is_json:
        # Extras: a nested list the contract does not type (a charge's `refunds`) is incomplete all the same,
        # and a repeated key is ambiguous in any object. Most extras are scalars: their first character says so
        # without parsing them (real Stripe objects carry dozens of fields the contract does not name).
        for e in extras:
            x = quote_ident(e.internal)
            text = f"CAST({x} AS VARCHAR)"
            nested = f"(starts_with({text}, '{{') OR starts_with({text}, '['))"
            name = e.name.replace("'", "''")
            if check_lists:
                more = (
                    f"({nested} AND contains({text}, '\"has_more\"') AND {incomplete_list(x)} "
                    f"AND ({x} ->> '$.object') = 'list')"
                )
                errors.append(f"CASE WHEN {more} THEN {_incomplete_error(name)} END")
                bads.append(more)
            repeated = f"({nested} AND {repeats_a_key(x)})"
            errors.append(f"CASE WHEN {repeated} THEN {_repeated_error(name)} END")
            bads.append(repeated)
    carry = []
    if group_src is not None:
        if mode == "json_lines":
            raise ValueError("a group of files is staged as CSV text or JSON columns, never as raw lines")
        src, carry = group_src, ["_ord", "_rid"]
    l1 += [
        f"{expr} AS {quote_ident(e.internal)}" for e, expr in zip(extras, extra_src, strict=True)
    ] + presence
    passthrough = "".join(f", {c}" for c in carry) + (", _j, _jt" if mode == "json_lines" else "")
    field_errors = (
        f"CASE WHEN {' OR '.join(bads)} THEN list_filter([{', '.join(errors)}], e -> e IS NOT NULL) "
        "ELSE []::STRUCT(code VARCHAR, message VARCHAR)[] END"
    )
    if mode == "json_lines":
        # Not an object; or an object repeating a key (JSON leaves that undefined, DuckDB would take the first).
        keys = "json_keys(_j)"
        errors_sql = (
            "CASE WHEN _j IS NULL THEN [{'code': 'unparseable_row', 'message': 'not valid JSON'}] "
            "WHEN _jt <> 'OBJECT' THEN [{'code': 'unparseable_row', 'message': "
            "'a JSON ' || lower(_jt) || ', not an object'}] "
            f"WHEN len({keys}) > len(list_distinct({keys})) THEN [{{'code': 'duplicate_key', 'message': "
            f"'the object repeats the key ' || list_filter({keys}, k -> len(list_filter({keys}, k2 -> k2 = k)) > 1)[1] "
            "|| '; which value is meant is undefined'}] "
            f"ELSE {field_errors} END"
        )
    else:
        errors_sql = field_errors
    # The record hash identifies a version's content: every field in contract order, as read (one spelling per
    # value), then extras by name as delivered (independent of column order).
    delivered = []
    for i, (f, (_, t_src, _)) in enumerate(zip(fields, sources, strict=True), start=1):
        text = f"CAST({quote_ident(f'#x{i}')} AS VARCHAR)" if t_src else quote_ident(f"#s{i}")
        if f.type in _CANONICAL["json" if t_src else "csv"]:
            c = quote_ident(f"#c{i}")
            canon = (
                f"CAST(epoch_us({c}) AS VARCHAR)"
                if f.type in ("datetime", "unix")
                else f"CAST({c} AS VARCHAR)"
            )
            text = f"CASE WHEN {quote_ident(f'#ok{i}')} THEN {canon} ELSE {text} END"
        delivered.append(f"coalesce({text}, chr(0))")
    delivered += [
        f"coalesce(CAST({quote_ident(e.internal)} AS VARCHAR), chr(0))"
        for e in sorted(extras, key=lambda e: e.name)
    ]
    layered = (
        f"l1 AS (SELECT _row_number{passthrough}, {', '.join(l1)} FROM src),\n"
        f"l2 AS (SELECT *, {', '.join(l2)} FROM l1),\n"
        f"l3 AS (SELECT *, {', '.join(l3)} FROM l2),\n"
        f"hashed AS (SELECT {', '.join(values + [quote_ident(e.internal) for e in extras])}, _row_number, "
        + "".join(f"{c}, " for c in carry)
        + f"{errors_sql} AS _errors, md5(concat_ws(chr(31), {', '.join(delivered)})) AS _record_hash FROM l3),"
    )

    key = quote_ident(obj.key)
    part_cols = [key] + ([quote_ident(obj.version)] if obj.version else []) + carry[:1]
    part = ", ".join(part_cols)
    key_name = obj.key.replace("'", "''")
    sql = f"WITH src AS ({src}),\n{layered.rstrip(',')}\nSELECT *, true AS _first_of_dupes FROM hashed"
    # Duplicate keys within a file are rare: find them with one aggregate over _typed once it is written (on a
    # 64-bit hash of the key first: a third of the cost of grouping the key's text; a collision only adds a
    # candidate the exact aggregate drops), then update the few rows concerned. Marking them in the statement
    # that types the rows would hold every typed row twice (window functions over every row cost 4x more).
    # Same content twice: keep the first row.
    # Different content for the same key and version: quarantine every copy, none is more right.
    good = "len(_errors) = 0"
    dupes = f"""
CREATE TEMP TABLE _dupes AS
SELECT {part}, count(*) AS _n, min(_record_hash) <> max(_record_hash) AS _conflict, min(_row_number) AS _keep
FROM _typed WHERE {good} AND hash({part}) IN (SELECT hash({part}) FROM _typed WHERE {good} GROUP BY ALL HAVING count(*) > 1)
GROUP BY ALL HAVING count(*) > 1"""
    mark = f"""
UPDATE _typed AS h SET
  _errors = CASE WHEN len(h._errors) = 0 AND d._conflict THEN
    [{{'code': 'duplicate_conflict', 'message': '{key_name} ' || CAST(h.{key} AS VARCHAR) || ' appears ' || d._n
      || ' times in this file for the same version with different content; none of them is loaded'}}]
  ELSE h._errors END,
  _first_of_dupes = NOT d._conflict AND h._row_number = d._keep
FROM _dupes d WHERE {" AND ".join(f"h.{c} IS NOT DISTINCT FROM d.{c}" for c in part_cols)}"""
    return Typed(sql, extras, raw_expr, dupes, mark)


def _unique_name(name: str, taken: set[str]) -> str:
    """Extra columns keep their name unless it collides (case-insensitively) with a contract field, a name
    the raw table uses itself (RAW_RESERVED) or an earlier extra: then `<name>__2`, `__3`, ..."""
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}__{n}"
    return candidate

"""The loader's cheap JSON checks answer exactly as a full parse does: json_kind (a value's JSON type read off its
first character) against DuckDB's json_type, and repeats_a_key (which skips values without a `{`) against Python's
own JSON parser."""

import json

import duckdb
import pytest

from ingestion.validation import json_kind, repeats_a_key
from ingestion.warehouse import reader_path

# One value per line of every JSON kind, spelled with the spacing, escapes and number forms a file may hold.
VALUES = [
    '"text"',
    '  "spaced"  ',
    '"with \\"quotes\\" and \\\\ and \\u00e9"',
    '""',
    "0",
    "-0",
    "42",
    "-42",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "1.50",
    "-0.0",
    "1e5",
    "2E-3",
    "true",
    "false",
    "null",
    "{}",
    '{ "a" : 1 , "b" : [ 1 , { "c" : null } ] }',
    '{"a": 1, "a": 2}',
    '{"a": {"b": 1, "b": 2}}',
    '[{"x": 1, "y": 2, "x": 3}]',
    "[]",
    '[ "a@x.com" , "b{c}@y.com" ]',
    '["a@x.com", "b@y.com"]',
    "[1, 2.5, true, null]",
    '[[{"k": 1}], {"k": 2, "j": {"k": 3, "k": 4}}]',
]


def _has_repeated_key(text: str) -> bool:
    found = []

    def pairs(items):
        keys = [k for k, _ in items]
        found.append(len(keys) != len(set(keys)))
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    return any(found)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The values as the loader stages them: read_json with one JSON column (value v) per key."""
    path = tmp_path_factory.mktemp("json") / "values.jsonl"
    path.write_text("".join(f'{{"i": {i}, "v": {v}}}\n' for i, v in enumerate(VALUES)))
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE s AS SELECT * FROM read_json({reader_path(path)}, format = 'newline_delimited', "
        "columns = {'i': 'BIGINT', 'v': 'JSON'})"
    )
    return con


def test_json_kind_is_json_type(staged):
    rows = staged.execute(f"SELECT i, json_type(v), {json_kind('v')} FROM s ORDER BY i").fetchall()
    assert len(rows) == len(VALUES)
    assert [(i, t) for i, t, _ in rows] == [(i, k) for i, _, k in rows]
    assert staged.execute(f"SELECT {json_kind('CAST(NULL AS JSON)')}").fetchone()[0] is None


def test_repeats_a_key_matches_a_full_parse(staged):
    rows = staged.execute(f"SELECT i, {repeats_a_key('v')} FROM s ORDER BY i").fetchall()
    expected = [(i, _has_repeated_key(v)) for i, v in enumerate(VALUES)]
    assert sum(e for _, e in expected) == 4  # the fixture holds repeated keys at the top, nested, in arrays
    assert [(i, bool(r)) for i, r in rows] == expected

"""Model SQL stays portable to every target: constructs one engine lacks go through their cross_db macro.

Cheap to check, and it names the macro: a new model that writes `cast(x as varchar)` builds on DuckDB and
Postgres and fails only on Spark (docs/targets.md, "SQL constructs dispatched for Spark").
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "dbt_project"
# pattern -> what to write instead
NOT_PORTABLE = {
    r"\bas\s+varchar\b": "{{ dbt.type_string() }} (Spark's VARCHAR needs a length)",
    r"\bat\s+time\s+zone\b": "{{ to_utc(...) }}",
    r"\bto_timestamp\s*\(": "{{ epoch_to_utc(...) }} for unix seconds",
    r"\bgenerate_series\s*\(": "{{ series_join(start, stop, step) }}",
    r"extract\s*\(\s*dow\b": "{{ day_of_week(...) }}",
    r"\bas\s+materialized\s*\(": "as {{ cte_materialized() }} (",
    r"\bdelete\s+from\b": "{{ delete_from(relation, predicate) }} (Parquet tables have no DELETE)",
    r"\bjson_extract(_string)?\s*\(|#>>?": "the JSON macros of macros/cross_db/json.sql",
    r"\bsign\s*\(": "cast(sign(...) as integer) (Spark's sign is a double)",
}
ALLOWED = {
    ROOT / "macros" / "cross_db",
    ROOT / "macros" / "conversions.sql",
}  # where the dialects are spelled out


def sql_files() -> list[Path]:
    return sorted(p for d in ("models", "macros", "tests") for p in (ROOT / d).rglob("*.sql"))


def without_comments(text: str) -> str:
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    return re.sub(r"--[^\n]*", "", text)


def test_models_and_macros_use_the_cross_db_macros():
    found = []
    for path in sql_files():
        if any(path == a or a in path.parents for a in ALLOWED):
            continue
        text = without_comments(path.read_text())
        for pattern, instead in NOT_PORTABLE.items():
            for m in re.finditer(pattern, text, flags=re.I):
                if pattern.startswith(r"\bsign") and "cast(sign(" in text[max(0, m.start() - 5) : m.end()]:
                    continue
                found.append(f"{path.relative_to(ROOT)}: {m.group(0)!r} -> use {instead}")
    assert not found, "\n".join(found)
    assert len(sql_files()) > 50

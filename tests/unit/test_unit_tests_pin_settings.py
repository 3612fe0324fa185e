"""dbt unit tests pin the project settings their expected rows depend on.

A unit test's expected rows are written for one fiscal calendar and one corporate currency. Without
`overrides: vars:` it takes them from the environment (SALESDW_FISCAL_YEAR_START_MONTH,
SALESDW_CORPORATE_CURRENCY via dbt_project.yml), and `make run` with a February fiscal year or euros
would stop at the unit tests although the models are right.
"""

from __future__ import annotations

import yaml

from ingestion.settings import DBT_PROJECT_DIR

PINNED = ("fiscal_year_start_month", "corporate_currency")


def unit_tests() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("_*unit_tests.yml")):
        for test in yaml.safe_load(path.read_text()).get("unit_tests") or []:
            found.append((f"{path.relative_to(DBT_PROJECT_DIR)}::{test['name']}", test))
    return found


def test_every_unit_test_pins_fiscal_year_and_currency():
    tests = unit_tests()
    assert len(tests) >= 20, "the unit-test files were not found"
    unpinned = {
        name: [v for v in PINNED if v not in ((t.get("overrides") or {}).get("vars") or {})]
        for name, t in tests
    }
    assert {n: v for n, v in unpinned.items() if v} == {}


def test_every_unit_test_name_fits_a_postgres_relation_name():
    """dbt runs a unit test on Postgres through a relation named after it, and Postgres names hold 63 bytes at
    most: a longer name passes on DuckDB and Spark and errors only in the Postgres target's build."""
    too_long = {name: len(t["name"].encode()) for name, t in unit_tests() if len(t["name"].encode()) > 63}
    assert too_long == {}

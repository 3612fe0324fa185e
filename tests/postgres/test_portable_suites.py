"""The model suites' SQL reaches Postgres with every `{batch}` aliased exactly once (no server needed).

GE 1.24 aliases the `{batch}` subquery itself only in queries without a JOIN; PostgreSQL before 16 rejects a
subquery in FROM without an alias. `expectations.suites_models.check_batch_aliases` enforces the rule when a
suite is built; here GE's own substitution is applied to every model query and the result is checked.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider

from expectations.suites import all_suites
from expectations.suites_models import check_batch_aliases

BATCH = sa.select(sa.column("x")).select_from(sa.table("model")).subquery()


class _Engine:
    """The two attributes GE's substitution reads from an execution engine."""

    dialect_name = "postgresql"

    class engine:  # noqa: N801 - mirrors SqlAlchemyExecutionEngine.engine
        from sqlalchemy.dialects import postgresql

        dialect = postgresql.dialect()


def substituted(query: str) -> str:
    return QueryMetricProvider._get_substituted_batch_subquery_from_query_and_batch_selectable(
        query=query, batch_selectable=BATCH, execution_engine=_Engine()
    )


def model_queries() -> list[tuple[str, str]]:
    return [
        (name, e.unexpected_rows_query)
        for name, suite in all_suites().items()
        if not name.startswith("raw.")
        for e in suite.expectations
        if getattr(e, "unexpected_rows_query", None)
    ]


def test_every_substituted_batch_subquery_has_exactly_one_alias():
    queries = model_queries()
    assert len(queries) >= 20
    with_join = 0
    for name, query in queries:
        sql = substituted(query)
        # The rendered batch: "(SELECT x FROM model)" followed by its alias, once.
        uses = re.findall(r"\(SELECT x\s+FROM model\)(\s+AS\s+\w+)?(\s+AS\s+\w+)?", sql)
        assert uses, f"{name}: no batch in {sql}"
        for first, second in uses:
            assert first and not second, f"{name}: batch aliased {'twice' if second else 'never'}:\n{sql}"
        with_join += bool(re.search(r"\bJOIN\b", query, re.IGNORECASE))
    assert with_join >= 5  # the case GE leaves to us is really exercised


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELECT * FROM {batch} LEFT JOIN t ON true", "must alias"),
        ("WITH r AS (SELECT * FROM {batch}) SELECT * FROM r JOIN t ON true", "must alias"),
        ("SELECT * FROM {batch} AS b WHERE x > 0", "drop AS b"),
    ],
)
def test_a_query_that_postgres_would_reject_is_refused_when_the_suite_is_built(query, problem):
    with pytest.raises(ValueError, match=problem):
        check_batch_aliases(query, "t")


def test_join_in_a_string_or_comment_is_not_a_join():
    check_batch_aliases("SELECT 'JOIN' AS word FROM {batch} -- no JOIN here", "t")

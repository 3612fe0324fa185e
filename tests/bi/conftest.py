"""One warehouse for the BI tests: scale-0.05 demo data, the whole dbt project built, the marts published."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.demo.generator import generate
from ingestion.loader import load_landing
from ingestion.publish import publish_marts
from ingestion.warehouse import connect
from tests.dbt.test_marts_build import SCALE, assert_ok, dbt_build


@pytest.fixture(scope="session")
def bi_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, published marts). Built once per session; tests only read them."""
    work = tmp_path_factory.mktemp("bi")
    generate(work / "landing", scale=SCALE, seed=7)
    warehouse = work / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        load_landing(con, work / "landing")
    finally:
        con.close()
    # The whole project, semantic layer's time spine included (`dbt build` without a selection).
    assert_ok(dbt_build(warehouse, work))
    marts = work / "salesdw_marts.duckdb"
    publish_marts(warehouse, marts, run_id="bi-tests")
    return warehouse, marts


@pytest.fixture(scope="session")
def metrics_client(bi_warehouse):
    from bi.metrics import MetricsClient

    client = MetricsClient(bi_warehouse[1])
    yield client
    client.close()

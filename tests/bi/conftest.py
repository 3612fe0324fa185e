"""One warehouse for the BI tests: scale-0.05 demo data, the whole dbt project built, the marts published."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.publish import publish_marts
from tests.warehouses import built_demo_warehouse


@pytest.fixture(scope="session")
def bi_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, published marts). Built once per session; tests only read them."""
    work = tmp_path_factory.mktemp("bi")
    # The whole project, semantic layer's time spine included (`dbt build` without a selection).
    warehouse = built_demo_warehouse(work)
    marts = work / "salesdw_marts.duckdb"
    publish_marts(warehouse, marts, run_id="bi-tests")
    return warehouse, marts


@pytest.fixture(scope="session")
def metrics_client(bi_warehouse):
    from bi.metrics import MetricsClient

    client = MetricsClient(bi_warehouse[1])
    yield client
    client.close()

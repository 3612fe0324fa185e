"""One warehouse for the BI tests: scale-0.05 demo data, the whole dbt project built, the marts published."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.publish import publish_marts
from tests.warehouses import copy_built


@pytest.fixture(scope="session")
def bi_warehouse(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(warehouse, published marts). Made once per session; tests only read them."""
    work = tmp_path_factory.mktemp("bi")
    # The whole project, semantic layer's time spine included (`dbt build` without a selection); a copy, since
    # publishing holds the warehouse's write lock.
    warehouse = copy_built(demo_build, work)
    marts = work / "salesdw_marts.duckdb"
    publish_marts(warehouse, marts, run_id="bi-tests")
    return warehouse, marts


@pytest.fixture(scope="session")
def metrics_client(bi_warehouse):
    from bi.metrics import MetricsClient

    client = MetricsClient(bi_warehouse[1])
    yield client
    client.close()

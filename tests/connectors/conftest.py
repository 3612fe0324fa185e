"""Fixtures for connector tests: the scale-0.05 demo landing zone and its file-drop loads, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.demo.generator import generate
from ingestion.settings import CONNECTOR_VARIABLES
from ingestion.sources._common import RetryPolicy
from tests.servers.demo import file_drop_load


@pytest.fixture(autouse=True)
def _no_real_connectors(tmp_path, monkeypatch):
    """A developer's real Salesforce/Stripe/database credentials never reach a test."""
    for name in CONNECTOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SALESDW_CONNECTOR_SPOOL", str(tmp_path / "spool"))


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "landing"
    generate(out, scale=0.05, seed=7)
    return out


@pytest.fixture(scope="session")
def file_drop(tmp_path_factory, demo_landing):
    """Warehouse files holding a plain file-drop load of the demo data, per source (opened read-only)."""
    root = tmp_path_factory.mktemp("file_drop")
    built: dict[str, Path] = {}

    def get(source: str) -> Path:
        if source not in built:
            built[source] = root / f"{source}.duckdb"
            file_drop_load(demo_landing, built[source], source)
        return built[source]

    return get


class Sleeps(list):
    """Records the waits a client asked for and sleeps only a token amount, so tests stay fast."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def fast_retry(sleeps) -> RetryPolicy:
    return RetryPolicy(max_retries=4, backoff_base=0.01, backoff_max=0.05, sleep=sleeps)

"""One local Spark Thrift Server for every Spark test module: a JVM start costs 30-60 s on a busy machine.

Each module starts from an empty catalog with a lake of its own (helpers.fresh_catalog), so modules share the
server and nothing else.
"""

from __future__ import annotations

import shutil

import pytest

from ingestion.settings import SparkSettings
from ingestion.targets import spark as sp
from tests.spark.helpers import spark_settings


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory: pytest.TempPathFactory) -> SparkSettings:
    if shutil.which("java") is None:
        pytest.skip("the Spark target needs Java 17 (`.ci/run` installs openjdk-17-jre-headless)")
    settings = spark_settings(tmp_path_factory.mktemp("spark_server"))
    server = sp.local_server(settings)
    try:
        server.ensure()
        yield settings
    finally:
        server.stop()

"""A CRM-only landing zone builds the same marts on Spark as on DuckDB.

No billing or activity files and some CRM objects absent (OpportunityHistory, Contact, Lead), with a fiscal year
starting in February: the empty sources and the fiscal calendar must give the same marts on both targets, row for
row, and every dbt test must pass on both (the unit tests do not read the data: test_spark_target runs them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingestion.demo.generator import generate
from ingestion.targets import spark as sp
from tests.spark.compare import assert_marts_equal
from tests.spark.helpers import (
    SCALE,
    bi_marts,
    dbt_build,
    finished,
    fresh_catalog,
    load,
    replicate,
    spark_marts,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def test_crm_only_landing_builds_the_same_marts_on_spark(spark_server, tmp_path: Path):
    settings = fresh_catalog(spark_server, tmp_path / "lake")
    landing = tmp_path / "landing"
    generate(landing, scale=SCALE, seed=11)
    shutil.rmtree(landing / "billing")
    shutil.rmtree(landing / "activity")
    for absent in ("OpportunityHistory", "Contact", "Lead"):
        shutil.rmtree(landing / "crm" / absent)
    warehouse, reference = tmp_path / "warehouse.duckdb", tmp_path / "reference.duckdb"
    load(landing, warehouse)
    shutil.copyfile(warehouse, reference)
    fiscal = {"SALESDW_FISCAL_YEAR_START_MONTH": "2"}
    duck = dbt_build("dev", reference, tmp_path, "--exclude", "test_type:unit", env=fiscal)
    try:
        replicate(warehouse, settings)
        spark = dbt_build(
            "spark", warehouse, tmp_path, "--exclude", "test_type:unit",
            env={**fiscal, **sp.dbt_env(sp.endpoint(settings))},
        )  # fmt: skip
        finished(spark, "Spark, CRM only")
    finally:
        finished(duck, "DuckDB, CRM only")
    marts = bi_marts(tmp_path / "target_dev")
    folders, types = spark_marts(settings, marts)
    compared = assert_marts_equal(reference, folders, types)
    assert compared["fct_opportunities"] > 500 and compared["fct_mrr_monthly"] == 0, compared
    print("CRM-only marts compared row for row:", json.dumps(compared))

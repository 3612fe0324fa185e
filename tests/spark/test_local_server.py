"""The local Spark Thrift Server itself, apart from what salesdw builds on it."""

from __future__ import annotations

import pytest

from ingestion.targets import spark as sp

pytestmark = pytest.mark.spark


def test_local_server_loads_hives_function_registry(spark_server):
    """Hive's FunctionRegistry loads on the local server (the shim interface stands in for hive-llap-common).

    A Hive UDF over two numeric types asks the registry for their common type, which loads it: without
    `sp.hive_llap_shim` on the class path the query fails with NoClassDefFoundError LlapSigner$Signable,
    as a session close did once in CI. greatest(1, 2.5) is 2.5.
    """
    with sp.cursor(sp.endpoint(spark_server)) as cur:  # a temporary function lives in its session
        cur.execute(
            "CREATE TEMPORARY FUNCTION hive_greatest AS 'org.apache.hadoop.hive.ql.udf.generic.GenericUDFGreatest'"
        )
        cur.execute("SELECT hive_greatest(1, 2.5d)")
        assert cur.fetchall() == [(2.5,)]

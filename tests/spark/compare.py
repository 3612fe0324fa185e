"""Row-for-row comparison of the marts a Spark build wrote (Parquet) with a DuckDB build's (tests only)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from pathlib import Path

import duckdb

# DuckDB type of a mart column -> the Spark type that holds exactly its values
SPARK_TYPE_OF = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "DOUBLE": "double",
    "TIMESTAMP": "timestamp_ntz",
}


def spark_type_for(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL("):
        return "decimal" + duck_type[len("DECIMAL") :].replace(" ", "")
    return SPARK_TYPE_OF[duck_type]


def norm(value):
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def duck_columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()


def parquet_relation(folder: Path | str) -> str:
    return "read_parquet('" + str(Path(folder) / "*.parquet").replace("'", "''") + "')"


def assert_marts_equal(warehouse: Path, spark_folders: dict[str, Path], spark_types: dict[str, list]) -> dict:
    """Each mart of the DuckDB build equals the Parquet files Spark wrote for it: the same columns in the same
    order, DuckDB reads the same types back, Spark's catalog reports the matching Spark types, the same
    multiset of rows with exact values. Returns rows compared per mart."""
    duck = duckdb.connect(str(warehouse), read_only=True)
    duck.execute("SET TimeZone = 'UTC'")
    compared = {}
    try:
        for mart, folder in sorted(spark_folders.items()):
            dcols = duck_columns(duck, "marts", mart)
            rel = parquet_relation(folder)
            scols = [(r[0], r[1]) for r in duck.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
            assert [c for c, _ in dcols] == [c for c, _ in scols], (
                f"{mart}: columns differ: {dcols} vs {scols}"
            )
            assert [t for _, t in dcols] == [t for _, t in scols], f"{mart}: types differ: {dcols} vs {scols}"
            assert [(c, spark_type_for(t)) for c, t in dcols] == [tuple(x) for x in spark_types[mart]], mart
            drows = Counter(
                tuple(map(norm, r)) for r in duck.execute(f'SELECT * FROM marts."{mart}"').fetchall()
            )
            srows = Counter(tuple(map(norm, r)) for r in duck.execute(f"SELECT * FROM {rel}").fetchall())
            only_duck, only_spark = drows - srows, srows - drows
            assert not only_duck and not only_spark, (
                f"{mart}: {sum(only_duck.values())} rows only on DuckDB, e.g. {list(only_duck)[:2]}; "
                f"{sum(only_spark.values())} only on Spark, e.g. {list(only_spark)[:2]}"
            )
            compared[mart] = drows.total()
    finally:
        duck.close()
    return compared

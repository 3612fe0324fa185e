"""Data-quality suites (Great Expectations 1.x on DuckDB): engine, suites as code, runner. No Dagster here."""

"""End-to-end benchmark of salesdw against DuckDB's own floors: `python -m benchmarks.run --scale N`."""

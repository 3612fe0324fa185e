"""Warehouse targets other than the embedded DuckDB file (README "Postgres target")."""

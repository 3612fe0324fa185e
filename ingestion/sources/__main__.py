"""Run connector pulls without Dagster: `python -m ingestion.sources <connector>|all` (ingestion/sources/registry.py)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ingestion.settings import ConnectorSettings, Settings
from ingestion.sources._common import ConnectorError
from ingestion.sources.registry import BY_NAME, CONNECTORS
from ingestion.warehouse import connect


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingestion.sources", description=__doc__)
    p.add_argument("connector", choices=(*BY_NAME, "all"))
    p.add_argument("--warehouse", type=Path, help="DuckDB file (default: SALESDW_WAREHOUSE)")
    p.add_argument("--batch-size", type=int, default=None, help="records per page (Salesforce, SQL)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    cs = ConnectorSettings.from_env()
    wanted = CONNECTORS if args.connector == "all" else (BY_NAME[args.connector],)
    con = connect(
        args.warehouse or settings.warehouse,
        threads=settings.duckdb_threads,
        memory_limit=settings.duckdb_memory_limit,
    )
    status = 0
    try:
        for connector in wanted:
            name = connector.name
            if not connector.configured(cs):
                print(
                    f"{name}: not configured ({connector.switch} unset; see README, Configuration); skipped"
                )
                if args.connector != "all":
                    status = 2
                continue
            try:
                result = connector.build(con, cs, batch_size=args.batch_size).pull()
            except ConnectorError as exc:
                print(f"{name}: FAILED: {exc}", file=sys.stderr)
                status = 1
                continue
            print(f"{name}: {json.dumps(result.summary())}")
    finally:
        con.close()
    return status


if __name__ == "__main__":
    sys.exit(main())

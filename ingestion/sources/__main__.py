"""Run connector pulls without Dagster: `python -m ingestion.sources {salesforce,stripe,sql,all}`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ingestion.settings import ConnectorSettings, Settings
from ingestion.sources._common import ConnectorError
from ingestion.warehouse import connect


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingestion.sources", description=__doc__)
    p.add_argument("connector", choices=("salesforce", "stripe", "sql", "all"))
    p.add_argument("--warehouse", type=Path, help="DuckDB file (default: SALESDW_WAREHOUSE)")
    p.add_argument("--batch-size", type=int, default=None, help="records per page (Salesforce, SQL)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    cs = ConnectorSettings.from_env()
    wanted = ("salesforce", "stripe", "sql") if args.connector == "all" else (args.connector,)
    configured = {
        "salesforce": cs.salesforce_configured,
        "stripe": cs.stripe_configured,
        "sql": cs.sql_source_configured,
    }
    con = connect(
        args.warehouse or settings.warehouse,
        threads=settings.duckdb_threads,
        memory_limit=settings.duckdb_memory_limit,
    )
    status = 0
    try:
        for name in wanted:
            if not configured[name]:
                print(f"{name}: not configured (see README, Connectors); skipped")
                if args.connector != "all":
                    status = 2
                continue
            try:
                result = _pull(name, con, cs, args.batch_size)
            except ConnectorError as exc:
                print(f"{name}: FAILED: {exc}", file=sys.stderr)
                status = 1
                continue
            print(f"{name}: {json.dumps(result.summary())}")
    finally:
        con.close()
    return status


def _pull(name, con, cs, batch_size):
    kw = {"batch_size": batch_size} if batch_size else {}
    if name == "salesforce":
        from ingestion.sources.salesforce import SalesforceConnector

        return SalesforceConnector(con, cs, **kw).pull()
    if name == "stripe":
        from ingestion.sources.stripe import StripeConnector

        return StripeConnector(con, cs).pull()
    from ingestion.sources.sql_database import SqlDatabaseConnector

    return SqlDatabaseConnector(con, cs, **kw).pull()


if __name__ == "__main__":
    sys.exit(main())

"""The connectors salesdw can pull from, in one list.

Everything that offers connectors reads this list: `python -m ingestion.sources` (its choices and "all") and the
Dagster job `pull_connectors` (one op per entry). A new connector is its module (a class taking
``(con, settings, *, run_id=..., [batch_size=...])`` with a ``pull()`` returning a ``PullResult``), its
settings in ``ingestion/settings.py`` (ConnectorSettings and the README's configuration table), and one entry
here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ingestion.settings import ConnectorSettings


@dataclass(frozen=True)
class Connector:
    name: str  # on the command line: python -m ingestion.sources <name>
    op_name: str  # the op in the Dagster job pull_connectors
    title: str  # in messages
    target: str  # "<module>:<class>", imported only when the connector pulls
    switch: str  # the settings that turn it on, named in the message when they are unset
    description: str
    takes_batch_size: bool = False

    def configured(self, settings: ConnectorSettings) -> bool:
        return getattr(settings, f"{self.name}_configured")

    def build(
        self, con, settings: ConnectorSettings, *, run_id: str | None = None, batch_size: int | None = None
    ):
        module, cls = self.target.split(":")
        kw = {"run_id": run_id}
        if batch_size and self.takes_batch_size:
            kw["batch_size"] = batch_size
        return getattr(importlib.import_module(module), cls)(con, settings, **kw)


CONNECTORS: tuple[Connector, ...] = (
    Connector(
        name="salesforce",
        op_name="pull_salesforce",
        title="Salesforce",
        target="ingestion.sources.salesforce:SalesforceConnector",
        switch="SALESDW_SALESFORCE_INSTANCE_URL / SALESDW_SALESFORCE_ACCESS_TOKEN",
        description="Pull the contract's CRM objects from Salesforce (queryAll or Bulk API 2.0, by SystemModstamp).",
        takes_batch_size=True,
    ),
    Connector(
        name="stripe",
        op_name="pull_stripe",
        title="Stripe",
        target="ingestion.sources.stripe:StripeConnector",
        switch="SALESDW_STRIPE_API_KEY",
        description="Pull the contract's billing objects from Stripe (events, then lists).",
    ),
    Connector(
        name="sql",
        op_name="pull_sql_database",
        title="SQL billing database",
        target="ingestion.sources.sql_database:SqlDatabaseConnector",
        switch="SALESDW_SQL_SOURCE_URL",
        description="Replicate billing tables from SALESDW_SQL_SOURCE_URL (by updated-at).",
        takes_batch_size=True,
    ),
)
BY_NAME = {c.name: c for c in CONNECTORS}

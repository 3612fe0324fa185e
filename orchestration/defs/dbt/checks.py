"""Blocking gates on the dbt models: one Great Expectations suite per gated model.

A suite named ``<layer>.<model>`` gates the asset ``[layer, model]`` (the translator's key scheme). Gates on
staging and intermediate models stand between the two dbt steps (``dbt_staging`` builds them, ``dbt_marts``
waits for their gates); gates on marts stand before ``publish/marts``, which depends on every mart.
"""

import dagster as dg

from expectations.suites_models import model_suites
from orchestration.defs.gates import suite_check

GATED_LAYERS = ("staging", "intermediate", "marts")


def model_asset_key(suite_name: str) -> dg.AssetKey:
    """``intermediate.int_opportunities_enriched`` -> ``intermediate/int_opportunities_enriched``."""
    layer, model = suite_name.split(".", 1)
    if layer not in GATED_LAYERS:
        raise ValueError(f"suite {suite_name}: not a dbt model layer ({', '.join(GATED_LAYERS)})")
    return dg.AssetKey([layer, model])


def _description(suite) -> str:
    blocks = "the marts build" if suite.layer in ("staging", "intermediate") else "publication"
    return f"{suite.description} Blocks {blocks} when a critical expectation fails."


# Suites are built when the check runs (all_suites()), so the corporate currency comes from that run's
# environment; here only their names and descriptions are needed.
dbt_model_checks = [
    suite_check(model_asset_key(name), name, _description(suite)) for name, suite in model_suites().items()
]

"""One place decides dbt asset keys and groups: [layer, model] keys, groups after the dbt folders."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


def dbt_layer(props: Mapping[str, Any]) -> str:
    """staging / intermediate / marts: the first folder under models/."""
    fqn = props.get("fqn", [])
    return fqn[1] if len(fqn) > 2 else "models"


class SalesdwTranslator(DagsterDbtTranslator):
    def __init__(self):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # source crm.opportunity is the raw asset raw/crm__opportunity (read through its __current table)
            return dg.AssetKey(["raw", f"{dbt_resource_props['source_name']}__{dbt_resource_props['name']}"])
        return dg.AssetKey([dbt_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_layer(dbt_resource_props)

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] not in ("model", "seed", "snapshot"):
            return spec
        # Rebuild after upstream loads, but never on top of an upstream whose blocking gate failed.
        condition = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
        spec = spec.replace_attributes(automation_condition=condition)
        if dbt_layer(props) == "marts":
            # BI-facing: the nightly rebuild keeps them under a day old; warn after 25 h, fail after 26 h.
            spec = spec.replace_attributes(
                freshness_policy=dg.FreshnessPolicy.time_window(
                    fail_window=timedelta(hours=26), warn_window=timedelta(hours=25)
                )
            )
        return spec

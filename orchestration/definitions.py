"""The Dagster code location: everything under orchestration/defs/, discovered, not hand-registered, with the
resources of one configuration (orchestration/defs/resources.py)."""

from pathlib import Path

import dagster as dg

from ingestion.settings import Settings, TargetSettings
from orchestration.targets import Target, target_for


def build_definitions(settings: Settings, target: Target) -> dg.Definitions:
    """The code location for one configuration: an entry point reads it once and passes it here."""
    from orchestration.defs.resources import salesdw_resources

    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(resources=salesdw_resources(settings, target)),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """`dagster dev` and `dg`: the configuration is the environment's, read here once."""
    settings = Settings.from_env()
    return build_definitions(settings, target_for(settings, TargetSettings.from_env()))

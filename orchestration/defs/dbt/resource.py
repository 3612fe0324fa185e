"""The dbt resource, and the only module that touches dagster-dbt's private API.

Four private members are used, each for a reason the public API does not cover:

- ``DbtCliResource._initialize_dbt_core_adapter``: dagster-dbt loads the dbt project and profile in-process on
  each ``dbt.cli(...)`` (1-5 s a step; the first also imports dbt's adapter modules) for the optional row-count
  and column-metadata fetches, which these assets do not use. Overridden to do nothing.
- ``DbtCliResource._cli_version``: dagster-dbt runs ``dbt --version`` in a subprocess to learn it (3-5 s, once per
  run); the dbt executable is this environment's (DBT_EXECUTABLE), so its version is the installed dbt-core's.
- ``dagster_dbt.core.resource.DbtCliInvocation``: ``DbtCliResource.cli`` gives dbt's subprocess a copy of
  ``os.environ`` and no way to add to it. dbt's profile reads the warehouse path and the target's connection
  from the environment, and no code here writes ``os.environ`` (the configuration travels as resources), so
  the invocation class ``cli`` starts dbt with is replaced by one that adds the environment ``cli(env=...)``
  was given for this call.
- ``dagster_dbt.core.dbt_cli_invocation.subprocess``: ``DbtCliInvocation.run`` starts dbt with that module's
  ``subprocess.Popen``. It is replaced, for that module only, by a namespace whose ``Popen`` forks dbt from a
  process that has already imported it (orchestration/defs/dbt/warm.py): 1.4-2.8 s less per dbt step.

tests/unit/test_dagster_dbt_private_api.py fails, naming the installed dagster-dbt version, when any of these
changes shape upstream.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import types
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from functools import cached_property
from typing import Any

import dagster_dbt.core.dbt_cli_invocation as _dagster_dbt_invocation
import dagster_dbt.core.resource as _dagster_dbt_resource
from dagster_dbt import DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from packaging import version

from ingestion.settings import Settings
from orchestration.defs.dbt import warm
from orchestration.defs.dbt.project import DBT_EXECUTABLE, salesdw_dbt_project
from orchestration.targets import Target

# The environment added to the dbt subprocess that the current `SalesdwDbtCliResource.cli` call starts.
_CALL_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("salesdw_dbt_call_env", default=None)


class _DbtCliInvocationWithEnv(DbtCliInvocation):
    @classmethod
    def run(cls, *args: Any, env: dict[str, str], **kwargs: Any) -> DbtCliInvocation:
        return super().run(*args, env={**env, **(_CALL_ENV.get() or {})}, **kwargs)


_dagster_dbt_resource.DbtCliInvocation = _DbtCliInvocationWithEnv
# `subprocess` as dagster_dbt.core.dbt_cli_invocation sees it: the same module but for Popen (warm.popen).
SUBPROCESS_WITH_FORKED_DBT = types.SimpleNamespace(**{**vars(subprocess), "Popen": warm.popen})
_dagster_dbt_invocation.subprocess = SUBPROCESS_WITH_FORKED_DBT


def dbt_env(settings: Settings, target: Target) -> dict[str, str]:
    """What dbt's subprocess needs beyond the process environment: profiles.yml reads the warehouse path and
    the target's connection from it. May carry secrets (a password, a token): never log it."""
    env = {
        "SALESDW_WAREHOUSE": str(settings.warehouse),
        "SALESDW_MARTS": str(settings.marts),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if target.dbt_target:
        env["DBT_TARGET"] = target.dbt_target
    return {**env, **target.dbt_env()}


class SalesdwDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs of every run, and with ``cli(env=...)``."""

    def cli(self, args: Sequence[str], *, env: Mapping[str, str] | None = None, **kwargs: Any):
        token = _CALL_ENV.set(dict(env or {}))
        try:
            return super().cli(args, **kwargs)
        finally:
            _CALL_ENV.reset(token)

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - same signature as dagster-dbt's
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))


def dbt_resource(target: Target) -> SalesdwDbtCliResource:
    project = salesdw_dbt_project()
    return SalesdwDbtCliResource(
        project_dir=project,
        profiles_dir=str(project.profiles_dir),
        dbt_executable=DBT_EXECUTABLE,
        target=target.dbt_target,  # None: the profile's default output (DuckDB)
    )

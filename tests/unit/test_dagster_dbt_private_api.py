"""The private dagster-dbt members orchestration/defs/dbt/resource.py relies on are still there, in the shape it
relies on. When an upgrade changes one, these fail naming the installed dagster-dbt version and the member."""

from __future__ import annotations

import importlib.metadata
import inspect
import stat
import subprocess
import sys
from functools import cached_property
from pathlib import Path

import dagster_dbt.core.dbt_cli_invocation as dagster_dbt_invocation
import dagster_dbt.core.resource as dagster_dbt_resource
from dagster_dbt import DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from orchestration.defs.dbt import resource as salesdw_resource
from orchestration.defs.dbt import warm
from orchestration.defs.dbt.project import DBT_EXECUTABLE, ensure_manifest, salesdw_dbt_project

VERSION = importlib.metadata.version("dagster-dbt")


def _changed(member: str, what: str) -> str:
    return (
        f"dagster-dbt {VERSION} changed the private {member}, which orchestration/defs/dbt/resource.py relies "
        f"on: {what}. Adapt that module (or drop the override) before upgrading."
    )


def test_initialize_dbt_core_adapter_is_still_a_method_taking_the_cli_args():
    method = getattr(DbtCliResource, "_initialize_dbt_core_adapter", None)
    assert callable(method), _changed("DbtCliResource._initialize_dbt_core_adapter", "it is gone")
    params = list(inspect.signature(method).parameters)
    assert params == ["self", "args"], _changed(
        "DbtCliResource._initialize_dbt_core_adapter", f"its parameters are now {params}"
    )
    assert "_initialize_dbt_core_adapter" in DbtCliResource.cli.__code__.co_names, _changed(
        "DbtCliResource._initialize_dbt_core_adapter", "DbtCliResource.cli no longer calls it"
    )


def test_cli_version_is_still_a_cached_property():
    member = inspect.getattr_static(DbtCliResource, "_cli_version", None)
    assert isinstance(member, cached_property), _changed(
        "DbtCliResource._cli_version", f"it is now {type(member).__name__}, not a cached_property"
    )


def test_cli_still_starts_dbt_through_the_module_level_invocation_class():
    assert "DbtCliInvocation" in DbtCliResource.cli.__code__.co_names, _changed(
        "dagster_dbt.core.resource.DbtCliInvocation", "DbtCliResource.cli no longer starts dbt through it"
    )
    assert dagster_dbt_resource.DbtCliInvocation is salesdw_resource._DbtCliInvocationWithEnv
    params = inspect.signature(DbtCliInvocation.run).parameters
    assert "env" in params, _changed(
        "DbtCliInvocation.run", f"it takes no `env` (parameters: {list(params)})"
    )


def test_the_env_given_to_cli_reaches_dbts_subprocess_and_nothing_else_changes(tmp_path: Path, monkeypatch):
    """End to end through dagster-dbt: a stand-in dbt executable writes the environment it was started with."""
    out = tmp_path / "env.txt"
    fake_dbt = tmp_path / "dbt"
    fake_dbt.write_text(
        f"#!{sys.executable}\nimport os\nopen({str(out)!r}, 'w').write(repr(sorted(os.environ.items())))\n"
    )
    fake_dbt.chmod(fake_dbt.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "dbt_project.yml").write_text("name: probe\nprofile: probe\n")
    monkeypatch.setenv("SALESDW_PROBE_INHERITED", "from the process")
    resource = salesdw_resource.SalesdwDbtCliResource(project_dir=str(tmp_path), dbt_executable=str(fake_dbt))
    invocation = resource.cli(["--version"], env={"SALESDW_PROBE": "from the resource"}, raise_on_error=False)
    invocation.process.wait(timeout=60)
    seen = dict(eval(out.read_text()))  # noqa: S307 - our own repr() of a list of string pairs
    assert seen.get("SALESDW_PROBE") == "from the resource", _changed(
        "DbtCliInvocation.run", "the env passed to SalesdwDbtCliResource.cli did not reach dbt's subprocess"
    )
    assert seen.get("SALESDW_PROBE_INHERITED") == "from the process"
    assert seen.get("DBT_LOG_FORMAT") == "json"  # dagster-dbt's own settings are kept

    # the next call without env adds nothing
    resource.cli(["--version"], raise_on_error=False).process.wait(timeout=60)
    assert "SALESDW_PROBE" not in dict(eval(out.read_text()))  # noqa: S307


def test_run_still_starts_dbt_through_the_modules_subprocess_popen_with_stderr_merged():
    """warm.popen stands in for the Popen of dagster_dbt.core.dbt_cli_invocation's `subprocess` (resource.py)."""
    source = inspect.getsource(DbtCliInvocation.run)
    assert "subprocess.Popen(" in source, _changed(
        "dagster_dbt.core.dbt_cli_invocation.subprocess",
        "DbtCliInvocation.run no longer calls subprocess.Popen",
    )
    for kwarg in ("stdout=subprocess.PIPE", "stderr=subprocess.STDOUT", "env=env", "cwd=project_dir"):
        assert kwarg in source, _changed("DbtCliInvocation.run", f"it no longer starts dbt with {kwarg}")
    assert dagster_dbt_invocation.subprocess is salesdw_resource.SUBPROCESS_WITH_FORKED_DBT
    assert dagster_dbt_invocation.subprocess.Popen is warm.popen
    assert dagster_dbt_invocation.subprocess.PIPE == subprocess.PIPE  # the rest is the real module's


def test_a_dbt_step_through_dagster_dbt_is_forked(tmp_path, monkeypatch):
    """End to end through dagster-dbt: `dbt ls` started by SalesdwDbtCliResource.cli runs in a forked child."""
    monkeypatch.setattr(warm, "_zygote", None)
    monkeypatch.setattr(warm, "_disabled", False)
    project = salesdw_dbt_project()
    ensure_manifest(project)
    resource = salesdw_resource.SalesdwDbtCliResource(
        project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=DBT_EXECUTABLE
    )
    invocation = resource.cli(
        ["ls", "--select", "stg_crm__users", "--quiet"],
        target_path=tmp_path / "target",
        env={"SALESDW_WAREHOUSE": str(tmp_path / "w.duckdb")},
        raise_on_error=False,
    )
    try:
        assert isinstance(invocation.process, warm.ForkedDbt)
        lines = [str(line) for line in invocation.stream_raw_events()]
        assert invocation.wait().is_successful(), lines
    finally:
        warm._zygote.close()

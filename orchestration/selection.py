"""What a `salesdw run` builds: everything (a full run), or only what is downstream of the raw tables that
received rows (a delta run).

A delta run is a few Dagster runs of `full_pipeline` (up to five with today's dbt steps), each subset to a
selection:

- load: the raw assets whose landing folders hold new files, with their gates. Which raw tables received
  rows is then read from audit.load_log; none: nothing is built, nothing is published;
- one phase per dbt step before the marts (dbt_staging, dbt_history): its models downstream of the raw
  tables that received rows, with their checks; the tables it hands on to later models are compared with
  what they were before. The value-compared models (small tables that many models read: the as-of date, the
  calendar) are built and compared in the phase of their step, and their readers in that step wait: they are
  built in a second phase of the step only when the value moved;
- build: every other asset downstream of the raw tables that received rows, with their checks, then
  publish, where a compared model whose content did not move passes nothing on: a delta of old activity
  leaves the MRR marts alone, one that moves the as-of date rebuilds them, and a CRM delta that changes no
  opportunity's state, stage path or amounts leaves the pipeline snapshot alone. What an earlier phase
  built is not built again.

The later phases run under the load phase's run id (tag `salesdw/part_of_run`): their gate results, dbt
results and the published file belong to the one run that the summary, the record and the report describe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import dagster as dg

from orchestration.changes import Changes

K = TypeVar("K", bound=Hashable)

AS_OF_KEY = dg.AssetKey(["intermediate", "int_as_of_date"])
# Small tables that many models read and that a delta rarely changes: the as-of date (the latest date in the
# data, read through the `as_of_date()` macro) and the calendar (from the earliest date in the data to the
# fiscal year after the as-of date). Their readers are stale through them only when their content moved,
# which the phase of their step finds out before it lets their readers be built (step_selection).
VALUE_COMPARED = (AS_OF_KEY, dg.AssetKey(["intermediate", "int_dates_spined"]))
# The dbt steps (orchestration/defs/dbt/assets.py) after which a delta run compares the tables they hand on:
# each is a phase of its own, and later phases rebuild only the readers of what moved (an early cut-off).
COMPARED_STEPS = ("dbt_staging", "dbt_history")
PUBLISH_KEY = dg.AssetKey(["publish", "marts"])
PART_OF_RUN_TAG = "salesdw/part_of_run"
PHASE_TAG = "salesdw/phase"


# -- the decision --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    """A full run (`tables` empty) and why, or a delta run over the raw tables whose folders got new files."""

    tables: tuple[str, ...] = ()
    reason: str = ""

    @property
    def delta(self) -> bool:
        return bool(self.tables)

    def headline(self) -> str:
        if self.delta:
            return f"delta run: new files for raw tables {', '.join(self.tables)} only; loading them first"
        return f"full run: {self.reason}"


def plan_run(found: Changes | None) -> RunPlan:
    """Narrow only when the one news is new batch files under object folders: a successful run is recorded,
    code, settings, load log and published file are as it left them. Anything else is a full run."""
    if found is None:
        return RunPlan(reason="what changed since the last run was not asked")
    if found.full_reasons:
        return RunPlan(reason="; ".join(found.full_reasons))
    if None in found.new_files:
        return RunPlan(reason=f"a new landing-level entry ({found.new_files[None][0]})")
    if not found.new_files:
        return RunPlan(reason="; ".join(found.reasons) or "nothing new was found, so nothing narrows it")
    return RunPlan(tables=tuple(sorted(t for t in found.new_files if t)))


# -- the graph ------------------------------------------------------------------------------------------
def downstream(children: Mapping[K, Iterable[K]], roots: Iterable[K], cut: Iterable[K] = ()) -> set[K]:
    """Every node reachable from `roots` through `children` (the roots themselves only when reached again),
    not following the edges out of a node in `cut` (it is still reached)."""
    cut = set(cut)
    reached: set[K] = set()
    expanded: set[K] = set()
    todo = deque(roots)
    while todo:
        node = todo.popleft()
        if node in expanded:
            continue
        expanded.add(node)
        for child in children.get(node, ()):
            reached.add(child)
            if child not in cut:
                todo.append(child)
    return reached


def children_map(asset_graph) -> dict[dg.AssetKey, set[dg.AssetKey]]:
    return {k: set(asset_graph.get(k).child_keys) for k in asset_graph.get_all_asset_keys()}


@dataclass
class Selection:
    """The assets and checks of one phase, as `JobDefinition.get_subset` takes them."""

    assets: set[dg.AssetKey] = field(default_factory=set)
    checks: set[dg.AssetCheckKey] = field(default_factory=set)

    @property
    def models(self) -> set[dg.AssetKey]:
        return {k for k in self.assets if k.path[0] not in ("raw", "publish")}


def _with_checks(asset_graph, assets: set[dg.AssetKey]) -> Selection:
    return Selection(set(assets), {c for c in asset_graph.asset_check_keys if c.asset_key in assets})


def raw_keys(tables: Iterable[str]) -> set[dg.AssetKey]:
    return {dg.AssetKey(["raw", t]) for t in tables}


def load_selection(asset_graph, tables: Iterable[str]) -> Selection:
    """The load phase: the raw assets of `tables` with their gates."""
    return _with_checks(asset_graph, raw_keys(tables))


def build_selection(
    asset_graph,
    tables_with_rows: Iterable[str],
    job_assets: set[dg.AssetKey],
    unchanged: Iterable[dg.AssetKey] = (),
    built_before: Iterable[dg.AssetKey] = (),
    step: str | None = None,
) -> Selection:
    """The build phase: everything downstream of the raw tables that received rows, minus raw itself and
    what an earlier phase built (`built_before`), with their checks, and publish; with `step`, only the
    models of that dbt step (no publish). A compared model whose content did not move (`unchanged`) passes
    nothing on: its readers are not downstream through it."""
    roots = raw_keys(tables_with_rows)
    if not roots:
        return Selection()
    reached = downstream(children_map(asset_graph), roots, cut=unchanged) - set(built_before)
    assets = {k for k in reached & job_assets if k.path[0] != "raw"}
    if step is None:
        assets |= {PUBLISH_KEY} & job_assets
    else:
        assets = {k for k in assets if step_of(asset_graph, k) == step}
    return _with_checks(asset_graph, assets)


def step_selection(
    asset_graph,
    tables_with_rows: Iterable[str],
    job_assets: set[dg.AssetKey],
    unchanged: Iterable[dg.AssetKey],
    built_before: Iterable[dg.AssetKey],
    step: str,
) -> Selection:
    """One phase of a compared dbt step: build_selection for `step`, where a value-compared model that no
    earlier phase built passes nothing on yet. It is built here and compared after the phase; if it moved,
    the step's next phase (this function again) reaches its readers, and if not, nobody does."""
    built_before = set(built_before)
    waiting = [k for k in VALUE_COMPARED if k in job_assets and k not in built_before]
    return build_selection(
        asset_graph, tables_with_rows, job_assets, [*unchanged, *waiting], built_before, step
    )


def compared_after(asset_graph, assets: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
    """What a step phase that built `assets` compares: the models it hands on to later phases, and the
    value-compared models it built (their readers in the same step wait on them)."""
    assets = set(assets)
    return handed_on(asset_graph, assets) | (set(VALUE_COMPARED) & assets)


def step_of(asset_graph, key: dg.AssetKey) -> str:
    """The Dagster step (op) that materialises an asset: a dbt step's name for a model."""
    return asset_graph.get(key).assets_def.node_def.name


def handed_on(asset_graph, assets: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
    """The models among `assets` that a model outside them reads (publish, which reads every mart, aside):
    after a phase built `assets`, the ones whose content decides what later phases rebuild."""
    assets = set(assets)
    children = children_map(asset_graph)
    return {k for k in assets if children.get(k, set()) - assets - {PUBLISH_KEY}}


def pipeline_run_id(run: dg.DagsterRun) -> str:
    """The run a step's results belong to: a delta run's build phase is part of its load phase's run."""
    return run.tags.get(PART_OF_RUN_TAG) or run.run_id

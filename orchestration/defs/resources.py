"""Resources shared by every asset, all built from one configuration at the entry point.

An entry point (`salesdw run`, `dagster dev` loading orchestration/definitions.py, a test) reads the
environment once into `Settings`, chooses the warehouse target once (`target_for`), and hands both to the
steps as resources: `settings` (the typed configuration), `target` (what a step asks of the warehouse),
`duckdb` (the landing warehouse file and the landing zone) and `dbt`. Steps read neither the environment
nor the target's name. The target and settings are plain objects, not resource config: the Postgres DSN
and the Spark token they hold must never be shown in the Dagster UI.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import duckdb
from filelock import FileLock

from ingestion.settings import ConnectorSettings, Settings, TargetSettings
from ingestion.warehouse import connect
from orchestration.targets import Target, target_for

WRITER_POOL = "warehouse_writer"  # DuckDB allows one writing process: every writer joins this pool
TURN_LOCK = "warehouse_writer.lock"  # in DAGSTER_HOME: makes the pool's one slot exact (see takes_turns)
TURN_HELD = "held the warehouse turn"  # the debug line a step logs when it gives the turn back

Body = TypeVar("Body", bound=Callable[..., Any])


@contextmanager
def warehouse_turn(context: dg.OpExecutionContext | dg.AssetCheckExecutionContext) -> Iterator[None]:
    """Hold this Dagster instance's warehouse turn: one step of any run at a time, across processes.

    On giving it back the step logs one debug line, "held the warehouse turn from <taken> to <given>
    (waited <s>s)" in Unix seconds: the moments the lock was held, read by tests/integration/test_concurrency.py.
    """
    # An OS lock (flock) or nothing: a soft lock file left by a killed process would block every later run.
    lock = FileLock(Path(context.instance.root_directory) / TURN_LOCK, fallback_to_soft=False)
    asked = time.time()
    with lock:
        taken = time.time()
        try:
            yield
        finally:
            given = time.time()
            context.log.debug(f"{TURN_HELD} from {taken:.6f} to {given:.6f} (waited {taken - asked:.1f}s)")


def takes_turns(body: Body) -> Body:
    """Run a step's body only while it holds the warehouse turn (`warehouse_turn`).

    Every step that opens the warehouse is in the `warehouse_writer` pool (one slot), which queues the
    steps of runs started together and shows the wait in the UI. That slot alone is not exact on the
    default SQLite instance storage: Dagster claims it with a SELECT of a free slot and then an UPDATE
    of that row, and `FOR UPDATE SKIP LOCKED` does nothing in SQLite, so two runs claiming in the same
    instant can both get it (seen once in CI: two steps of two runs overlapping by 87 ms). A file lock
    in DAGSTER_HOME is exact, is released when a process dies, and covers dbt's subprocess, which runs
    inside the step that holds it. Wrap the body under the Dagster decorator; the signature (context
    first, then resources) is kept for Dagster.
    """
    if inspect.isgeneratorfunction(body):

        @functools.wraps(body)
        def streamed(context, *args, **kwargs):
            with warehouse_turn(context):
                yield from body(context, *args, **kwargs)

        streamed.takes_turns = True  # type: ignore[attr-defined]
        return streamed  # type: ignore[return-value]

    @functools.wraps(body)
    def returned(context, *args, **kwargs):
        with warehouse_turn(context):
            return body(context, *args, **kwargs)

    returned.takes_turns = True  # type: ignore[attr-defined]
    return returned  # type: ignore[return-value]


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the landing zone it loads from."""

    path: str
    landing_dir: str
    threads: int | None = None
    memory_limit: str | None = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.path, read_only=read_only, threads=self.threads, memory_limit=self.memory_limit)
        try:
            yield con
        finally:
            con.close()

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)


def warehouse_from_settings(settings: Settings) -> WarehouseResource:
    return WarehouseResource(
        path=str(settings.warehouse),
        landing_dir=str(settings.landing_dir),
        threads=settings.duckdb_threads,
        memory_limit=settings.duckdb_memory_limit,
    )


def salesdw_resources(settings: Settings, target: Target | None = None) -> dict[str, Any]:
    """Every resource the steps use, from one configuration; ``target`` defaults to SALESDW_TARGET's."""
    from orchestration.defs.dbt.resource import dbt_resource

    target = target or target_for(settings, TargetSettings.from_env())
    return {
        "settings": settings,
        "target": target,
        "duckdb": warehouse_from_settings(settings),
        "dbt": dbt_resource(target),
        # the connectors' endpoints and credentials (secrets are kept out of its repr)
        "connectors": ConnectorSettings.from_env(),
    }

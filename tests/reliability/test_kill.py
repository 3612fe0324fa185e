"""kill -9 at stage boundaries and in the middle of stages: nothing half-done is visible, a re-run converges.

The pipeline runs as a real subprocess (`salesdw run`, or `salesdw load`, or a publish) on its own
landing zone, warehouse and marts file. The kill point is detected from outside only: progress lines
on stdout, the landing file appearing among the process's open files, the publish's temporary file
appearing. The whole process group gets SIGKILL (dbt runs as a child process). Afterwards:
- the warehouse opens for writing (DuckDB replays or discards its WAL);
- no partial load is visible: every raw and quarantine row belongs to a file the load log records as
  loaded, with exactly the counts it records;
- the serving file is byte for byte the previous publication (or, when the kill came after the atomic
  rename, the complete new one), and no temporary publish file survives the next publish;
- a plain re-run exits 0 and converges to the state of an uninterrupted run: raw current tables, load
  log, quarantine and every published mart equal (load timestamps and run ids excluded).

Without SALESDW_SOAK=1 only the loader and publish kills (seconds) and one full-pipeline kill (in the
middle of a file load) run; with it, every kill point of the full pipeline.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.loader import load_landing
from ingestion.publish import publish_marts, published_info
from ingestion.warehouse import connect
from tests.reliability import support
from tests.reliability.conftest import BIG, SOAK, record
from tests.reliability.support import (
    Proc,
    appears,
    assert_no_partial_load,
    env_for,
    line,
    marts_state,
    opened,
    opened_then_closed,
    sha,
    warehouse_state,
)

SCALE = 0.05
# -- loader: kill in the middle of a file load ------------------------------------------------------


@pytest.fixture(scope="module")
def loaded_reference(pipeline_landing, tmp_path_factory) -> dict:
    landing = pipeline_landing
    root = tmp_path_factory.mktemp("load_ref")
    with connect(root / "w.duckdb") as con:
        load_landing(con, landing)
    return warehouse_state(root / "w.duckdb")


@pytest.mark.parametrize(
    "point, trigger, delay",
    [
        ("first CRM file open", lambda: opened(".csv"), 0.0),
        ("large file open, hashing", lambda: opened(BIG), 0.0),
        ("large file hashed, parsing and writing", lambda: opened_then_closed(BIG), 0.0),
    ],
    ids=["crm-first-file", "big-file-start", "big-file-middle"],
)
def test_kill_during_a_load_leaves_no_partial_file_and_a_rerun_converges(
    point, trigger, delay, pipeline_landing, loaded_reference, tmp_path
):
    landing = pipeline_landing
    env = env_for(tmp_path, landing)
    args = [
        *support.SALESDW,
        "load",
        "--landing",
        str(landing),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
    ]
    Proc(args, env).kill_when(trigger(), delay=delay, timeout=300)
    assert_no_partial_load(tmp_path / "w.duckdb")
    con = connect(tmp_path / "w.duckdb")
    big_logged = con.execute("SELECT count(*) FROM audit.load_log WHERE file = ?", [BIG]).fetchone()[0]
    con.close()
    assert big_logged == 0, f"killed at '{point}', yet the large file's load had committed"
    rerun = Proc(args, env)
    assert rerun.wait(300) == 0, "\n".join(rerun.lines[-20:])
    assert warehouse_state(tmp_path / "w.duckdb") == loaded_reference
    record(kill_points_tried=1, kill_points_survived=1)


# -- publish: kill in the middle of the copy -------------------------------------------------------


def test_kill_during_publish_keeps_the_previous_serving_file_and_the_next_publish_cleans_up(tmp_path):
    wh, marts = tmp_path / "w.duckdb", tmp_path / "marts" / "salesdw_marts.duckdb"
    with connect(wh) as con:
        con.execute("CREATE SCHEMA marts")
        # big enough that the copy takes a while: the kill lands while the temporary file is written
        con.execute(
            "CREATE TABLE marts.fct_big AS SELECT range AS id, md5(range::VARCHAR) AS h FROM range(3000000)"
        )
    publish_marts(wh, marts, run_id="good-run")
    before = sha(marts)
    with connect(wh) as con:  # changed content, so the next publish copies the table again (not kept as is)
        con.execute("UPDATE marts.fct_big SET h = md5(h)")
    code = (
        "from pathlib import Path; from ingestion.publish import publish_marts; "
        f"publish_marts(Path({str(wh)!r}), Path({str(marts)!r}), run_id='killed-run')"
    )
    p = Proc([sys.executable, "-c", code], {**os.environ, "PYTHONUNBUFFERED": "1"})
    p.kill_when(appears(marts.parent, ".salesdw_marts.duckdb.*.tmp"), delay=0.2, timeout=120)
    leftovers = sorted(x.name for x in marts.parent.iterdir() if x.name != marts.name)
    assert leftovers, "the kill came after the publish finished; nothing was interrupted"
    assert sha(marts) == before and published_info(marts)["run_id"] == "good-run"
    assert not os.access(marts, os.W_OK) or os.geteuid() == 0  # root may write anything
    publish_marts(wh, marts, run_id="next-run")
    assert published_info(marts)["run_id"] == "next-run"
    assert sorted(x.name for x in marts.parent.iterdir()) == [marts.name]
    record(kill_points_tried=1, kill_points_survived=1)


# -- the whole pipeline ----------------------------------------------------------------------------


def _marts_dir(tmp_path: Path) -> Path:
    return tmp_path / "marts"


# name -> (trigger given the scenario folder, delay, in the quick subset)
PIPELINE_POINTS: dict[str, tuple[Callable[[Path], Callable[[Proc], bool]], float, bool]] = {
    "mid_file_load": (lambda d: opened(BIG), 1.0, True),
    "after_raw_load": (lambda d: line(r"done   raw__crm__user_role \("), 0.0, False),
    "mid_raw_gates": (lambda d: line(r"done   raw__billing__charge_ge_suite"), 0.0, False),
    "mid_dbt_staging": (lambda d: line(r"OK created sql \w+ model intermediate\."), 0.0, False),
    "after_dbt_staging": (lambda d: line(r"done   dbt_staging \("), 0.0, False),
    "mid_dbt_marts": (lambda d: line(r"OK created sql \w+ model marts\."), 0.0, False),
    "mid_marts_gates": (lambda d: line(r"done   marts__\w+_ge_suite"), 0.0, False),
    "mid_publish": (lambda d: appears(_marts_dir(d), ".salesdw_marts.duckdb.*.tmp"), 0.0, False),
    "after_publish": (lambda d: line(r"publish__marts: published"), 0.0, False),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        pytest.param(
            name, marks=() if quick or SOAK else pytest.mark.skip(reason="soak only: SALESDW_SOAK=1")
        )
        for name, (_, _, quick) in PIPELINE_POINTS.items()
    ],
)
def test_kill_the_pipeline_and_rerun(point, pipeline_landing, pipeline_reference, tmp_path):
    env = env_for(tmp_path, pipeline_landing)
    marts = Path(env["SALESDW_MARTS"])
    marts.parent.mkdir(parents=True)
    shutil.copy2(pipeline_reference["marts_file"], marts)  # the previous good publication
    previous = sha(marts)
    trigger, delay, _ = PIPELINE_POINTS[point]

    Proc([*support.SALESDW, "run"], env).kill_when(trigger(tmp_path), delay=delay)

    assert_no_partial_load(Path(env["SALESDW_WAREHOUSE"]))
    if sha(marts) != previous:
        # only a kill after the atomic rename may leave a new file, and then a complete one
        assert point in ("mid_publish", "after_publish"), f"serving file changed by a run killed at {point}"
        assert marts_state(marts) == pipeline_reference["marts"]
    killed_slots = set(support.stuck_pool_slots(Path(env["DAGSTER_HOME"])))
    rerun = Proc([*support.SALESDW, "run"], env)
    started = time.monotonic()
    while rerun.p.poll() is None:
        time.sleep(5)
        # the killed run's pool slots belong to no live process: if the re-run does not release them, it
        # (and every later run) waits for them forever
        if killed_slots and time.monotonic() - started > 120:
            still = killed_slots & set(support.stuck_pool_slots(Path(env["DAGSTER_HOME"])))
            if still:
                rerun.kill()
                pytest.fail(
                    f"the killed run still holds Dagster pool slots {sorted(still)} and the re-run waits for "
                    "them forever: `salesdw run` must mark runs whose process died as failed and free their "
                    "slots before it starts"
                )
            killed_slots = set()
    assert rerun.wait() == 0, "\n".join(rerun.lines[-60:])
    assert warehouse_state(Path(env["SALESDW_WAREHOUSE"])) == pipeline_reference["warehouse"]
    assert marts_state(marts) == pipeline_reference["marts"]
    assert sorted(x.name for x in marts.parent.iterdir()) == [marts.name]
    record(kill_points_tried=1, kill_points_survived=1)

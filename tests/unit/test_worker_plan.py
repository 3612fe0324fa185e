"""The pytest-xdist plan in tests/conftest.py names real modules: a renamed or moved module would silently drop
out of SPREAD/FIRST and be scheduled by default, which costs minutes of wall time and no failure."""

from pathlib import Path

from tests import conftest

TESTS = Path(conftest.__file__).parent


def test_every_module_the_plan_names_exists():
    named = set(conftest.SPREAD) | set(conftest.BY_PARAM) | {f for f in conftest.FIRST if f.endswith(".py")}
    assert sorted(m for m in named if not (TESTS / m).is_file()) == []
    groups = {f for f in conftest.FIRST if not f.endswith(".py")}
    assert groups <= set(conftest.SHARED_WORKER.values())
    assert len(set(conftest.FIRST)) == len(conftest.FIRST)


def test_groups_follow_the_plan():
    assert conftest.worker_group("tests/spark/test_spark_target.py::test_x") == "spark"
    spread = "tests/reliability/test_kill.py::test_kill_the_pipeline_and_rerun[mid_file_load]"
    assert conftest.worker_group(spread) == spread
    assert conftest.worker_group("tests/e2e/test_delta_run.py::test_a") == "e2e/test_delta_run.py"
    ranks = [conftest._rank(f"tests/{m}::t") for m in ("e2e/test_delta_run.py", "unit/test_selection.py")]
    assert ranks == [conftest.FIRST.index("e2e/test_delta_run.py"), len(conftest.FIRST)]

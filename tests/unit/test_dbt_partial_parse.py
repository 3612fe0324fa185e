"""The partial-parse state dbt saves is handed to the next dbt step run with the same environment only."""

from types import SimpleNamespace

from orchestration.defs.dbt import project as p


def _project(tmp_path):
    return SimpleNamespace(project_dir=tmp_path, target_path="target")


def test_state_is_reused_by_the_next_step_with_the_same_environment_only(tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.setenv("SALESDW_WAREHOUSE", str(tmp_path / "a.duckdb"))
    first = p.step_target_path(project, "dbt_staging", "run00001")
    assert not (first / p.PARTIAL_PARSE_FILE).exists()  # nothing saved yet for this environment
    (first / p.PARTIAL_PARSE_FILE).write_bytes(b"state of warehouse a")  # what dbt writes after parsing
    p.keep_partial_parse(project, first)

    second = p.step_target_path(project, "dbt_marts", "run00001")
    assert second != first and second.parent == tmp_path / "target"
    assert (second / p.PARTIAL_PARSE_FILE).read_bytes() == b"state of warehouse a"

    # another warehouse path renders another profile: dbt would throw that state away, so none is given
    monkeypatch.setenv("SALESDW_WAREHOUSE", str(tmp_path / "b.duckdb"))
    other = p.step_target_path(project, "dbt_staging", "run00002")
    assert not (other / p.PARTIAL_PARSE_FILE).exists()

    # a step that left no state (dbt failed before parsing) keeps the saved one
    monkeypatch.setenv("SALESDW_WAREHOUSE", str(tmp_path / "a.duckdb"))
    failed = tmp_path / "target" / "empty"
    failed.mkdir()
    p.keep_partial_parse(project, failed)
    again = p.step_target_path(project, "dbt_history", "run00003")
    assert (again / p.PARTIAL_PARSE_FILE).read_bytes() == b"state of warehouse a"


def test_a_windowed_build_does_not_replace_the_state_of_unwindowed_steps(tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.setenv("SALESDW_WAREHOUSE", str(tmp_path / "a.duckdb"))
    plain = p.step_target_path(project, "dbt_staging", "run00001")
    (plain / p.PARTIAL_PARSE_FILE).write_bytes(b"no vars")
    p.keep_partial_parse(project, plain)

    window = p.step_target_path(project, "dbt_history", "run00002", windowed=True)
    assert not (window / p.PARTIAL_PARSE_FILE).exists()  # dbt would discard a state saved without --vars
    (window / p.PARTIAL_PARSE_FILE).write_bytes(b"vars of one window")
    p.keep_partial_parse(project, window, windowed=True)

    assert (
        p.step_target_path(project, "dbt_marts", "run00003") / p.PARTIAL_PARSE_FILE
    ).read_bytes() == b"no vars"
    again = p.step_target_path(project, "dbt_history", "run00004", windowed=True)
    assert (again / p.PARTIAL_PARSE_FILE).read_bytes() == b"vars of one window"


def test_only_the_newest_environments_are_kept(tmp_path, monkeypatch):
    project = _project(tmp_path)
    for i in range(p.PARTIAL_PARSE_KEEP + 3):
        monkeypatch.setenv("SALESDW_WAREHOUSE", f"/w/{i}.duckdb")
        target = p.step_target_path(project, "dbt_staging", f"run{i:05d}")
        (target / p.PARTIAL_PARSE_FILE).write_bytes(str(i).encode())
        p.keep_partial_parse(project, target)
    cached = list((tmp_path / "target" / p.PARTIAL_PARSE_CACHE).glob("*.msgpack"))
    assert len(cached) == p.PARTIAL_PARSE_KEEP
    # the newest environment is among them
    assert (
        tmp_path / "target" / p.PARTIAL_PARSE_CACHE / f"{p.partial_parse_key()}.msgpack"
    ).read_bytes() == str(p.PARTIAL_PARSE_KEEP + 2).encode()


def test_old_step_targets_are_pruned_newest_kept(tmp_path):
    import os

    project = SimpleNamespace(project_dir=str(tmp_path), target_path="target")
    root = tmp_path / "target"
    names = [f"dbt_marts-{i:07d}-abcdef{i}" for i in range(6)]
    for i, name in enumerate(names):
        (root / name).mkdir(parents=True)
        os.utime(root / name, (1_000_000 + i, 1_000_000 + i))
    (root / "compiled").mkdir()  # dbt's own folders are not step targets
    p.prune_step_targets(project, keep=2)
    assert sorted(d.name for d in root.iterdir()) == sorted(["compiled", *names[-2:]])


def test_a_young_step_target_is_never_pruned(tmp_path):
    """Another process's dbt step may still be writing a target dir (or about to read it back): one touched
    within the last hour stays, however many newer ones there are."""
    import os
    import time

    project = SimpleNamespace(project_dir=str(tmp_path), target_path="target")
    root = tmp_path / "target"
    now = time.time()
    ages = {"dbt_marts-0000001-a": 7200, "dbt_marts-0000002-b": 1800, "dbt_marts-0000003-c": 60}
    for name, age in ages.items():
        (root / name).mkdir(parents=True)
        os.utime(root / name, (now - age, now - age))
    p.prune_step_targets(project, keep=1)
    assert sorted(d.name for d in root.iterdir()) == ["dbt_marts-0000002-b", "dbt_marts-0000003-c"]

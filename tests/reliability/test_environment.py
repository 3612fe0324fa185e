"""Environment faults: disk full, read-only landing zone or warehouse volume, warehouse locked.

Each gives an error that names the cause and the file, leaves nothing half-written, and once the
cause is gone a plain re-run reaches the state an undisturbed load reaches. A disk really fills: a
3 MB tmpfs when this runs as root and may mount, otherwise a file-size limit (RLIMIT_FSIZE) on the
loading process, which fails writes with EFBIG the same way. The lock case of the published file
(readers never blocked) is in tests/integration/test_publish.py.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.demo.generator import generate
from ingestion.loader import load_landing
from ingestion.warehouse import WarehouseLockedError, WarehouseWriteError, connect
from tests.conftest import held_for_writing
from tests.reliability.conftest import record
from tests.reliability.support import assert_no_partial_load, warehouse_state

SCALE = 0.05
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("env_landing") / "landing"
    generate(root, scale=SCALE, seed=7)
    return root


@pytest.fixture(scope="module")
def reference(landing, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("env_ref")
    with connect(root / "w.duckdb") as con:
        load_landing(con, landing)
    return warehouse_state(root / "w.duckdb")


def _mount(*args: str) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _load_cli(landing: Path, warehouse: Path, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "salesdw"), "load", "--landing", str(landing), "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec,
    )


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _tree(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_disk_full_names_the_cause_loses_nothing_and_a_rerun_converges(landing, reference, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk))
    warehouse = disk / "w.duckdb"
    try:
        out = _load_cli(landing, warehouse, None if mounted else _limit_file_size(3 * 1024 * 1024))
        assert out.returncode != 0, "the load fitted: the disk never filled"
        last = (out.stderr.strip().splitlines() or [""])[-1]
        cause = "no space left on device" if mounted else "file too large"
        # the operator gets the cause and the fix, not a stack trace
        assert last.startswith("error: ") and "Traceback" not in out.stderr, out.stderr[-3000:]
        assert cause in last and str(warehouse) in last, out.stderr[-3000:]
        assert "Nothing of this file was loaded" in last and "To fix:" in last
        if mounted:  # the cause goes away: the volume grows
            assert _mount("-o", "remount,size=400m", str(disk))
        assert_no_partial_load(warehouse)
        again = _load_cli(landing, warehouse)
        assert again.returncode == 0, again.stderr[-3000:]
        assert warehouse_state(warehouse) == reference
    finally:
        if mounted:
            _umount(disk)
    record(env_faults_tried=1, env_faults_survived=1)


def test_a_read_only_landing_zone_loads_and_is_never_written(landing, reference, tmp_path):
    """The loader only reads the landing zone: it works when the zone is mounted read-only (a common way
    to hand over a drop folder), and leaves every file, name and timestamp as it was."""
    ro = tmp_path / "ro_landing"
    ro.mkdir()
    mounted = _mount("--bind", str(landing), str(ro)) and _mount("-o", "remount,ro,bind", str(ro))
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("cannot mount read-only here, and root ignores file permissions")
        ro.rmdir()
        ro = landing
        for p in sorted(landing.rglob("*"), reverse=True):
            p.chmod(0o555 if p.is_dir() else 0o444)
        landing.chmod(0o555)
    before = _tree(ro)
    try:
        if mounted:
            with pytest.raises(OSError):
                (ro / "probe").write_text("x")  # really read-only
        out = _load_cli(ro, tmp_path / "w.duckdb")
        assert out.returncode == 0, out.stderr[-3000:]
        assert _tree(ro) == before
        assert warehouse_state(tmp_path / "w.duckdb") == reference
    finally:
        if mounted:
            _umount(ro)
        else:
            for p in [landing, *landing.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
    record(env_faults_tried=1, env_faults_survived=1)


def test_a_read_only_warehouse_volume_is_named_as_the_cause(tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(vol)):
        pytest.skip("needs root and mount for a read-only volume")
    try:
        with pytest.raises(WarehouseWriteError, match="read-only file system. To fix: mount"):
            connect(vol / "w.duckdb")
        assert list(vol.iterdir()) == []
    finally:
        _umount(vol)
    record(env_faults_tried=1, env_faults_survived=1)


def test_a_locked_warehouse_names_the_holder_and_a_load_writes_nothing(landing, reference, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        load_landing(con, landing)  # a complete earlier load: it must stay exactly as it is
    with held_for_writing(warehouse) as holder:
        with pytest.raises(WarehouseLockedError, match=f"locked by process {holder.pid}"):
            connect(warehouse)
        out = _load_cli(landing, warehouse)
        assert out.returncode != 0
        last = out.stderr.strip().splitlines()[-1]
        assert f"locked by process {holder.pid}" in last and "wait for the other salesdw run" in last, last
    assert warehouse_state(warehouse) == reference
    record(env_faults_tried=1, env_faults_survived=1)

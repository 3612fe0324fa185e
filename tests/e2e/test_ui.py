"""The Dagster UI end to end: `dagster dev` on a free port, headless Chromium on the asset graph.

Starts the same command as `make dev` against a temporary instance, warehouse and landing zone, waits
for the code location to load, opens the global asset lineage in Debian's Chromium over the DevTools
protocol, checks that every asset group is drawn in the graph, and saves data/ui/asset_graph.png.
The server and Chromium are always stopped, whatever happens.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestion.settings import PROJECT_ROOT

SCREENSHOT = PROJECT_ROOT / "data" / "ui" / "asset_graph.png"
STARTUP_TIMEOUT = 90  # seconds until the code location is loaded (dbt manifest included)


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "ui_screenshot", PROJECT_ROOT / "scripts" / "ui_screenshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


ui = _load_script()

pytestmark = pytest.mark.skipif(
    ui.chromium_path() is None,
    reason="Chromium is not installed (/usr/bin/chromium): apt-get install -y chromium to run the UI test",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (webserver, daemon, code server), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + 10  # the leader is gone; its children follow shortly
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


@pytest.fixture
def dagster_ui(tmp_path: Path):
    home = Path(os.environ["DAGSTER_HOME"])
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {
        **os.environ,
        "SALESDW_MARTS": str(tmp_path / "salesdw_marts.duckdb"),
        "SALESDW_DEMO": "0",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    log = tmp_path / "dagster_dev.log"
    dagster = str(Path(sys.executable).parent / "dagster")
    proc = subprocess.Popen(
        [dagster, "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            ui.wait_for_dagster(base_url, timeout=STARTUP_TIMEOUT, proc=proc)
        except (TimeoutError, RuntimeError) as exc:
            pytest.fail(f"{exc}\n--- dagster dev log ---\n{log.read_text(errors='replace')[-4000:]}")
        yield base_url
    finally:
        _stop(proc)


def test_asset_graph_shows_every_group(dagster_ui):
    started = time.monotonic()
    groups = (*ui.EXPECTED_GROUPS, "report")
    cap = ui.capture_asset_graph(dagster_ui, SCREENSHOT, groups=groups, timeout=60)
    assert not cap.missing, (
        f"asset groups not drawn in the graph at {cap.url}: {cap.missing} (found {cap.found}); "
        f"see {cap.out}\npage text: {cap.text_sample[:1000]}"
    )
    assert cap.out.is_file() and cap.out.stat().st_size > 10_000, f"no real screenshot at {cap.out}"
    assert cap.out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"asset graph screenshot: {cap.out} ({time.monotonic() - started:.1f}s in the browser)")

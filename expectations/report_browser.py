"""Headless Chromium for the report: screenshots and the rendered DOM of a local page, network cut off.

Needs the Debian package ``chromium`` (``/usr/bin/chromium``; override with ``SALESDW_CHROMIUM``). Every
call gets a fresh throw-away profile, and the network is unreachable (a dead proxy and a host resolver
that resolves nothing), so a page that still needs a CDN shows it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_CHROMIUM = "/usr/bin/chromium"
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    # Offline: nothing resolves, and anything that tries goes to a closed port.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)


def chromium_path() -> str | None:
    """The Chromium binary to use, or None when it is not installed."""
    candidate = os.environ.get("SALESDW_CHROMIUM") or DEFAULT_CHROMIUM
    if Path(candidate).is_file() and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("chromium")


def _run(page: Path, extra: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    binary = chromium_path()
    if not binary:
        raise FileNotFoundError(
            f"Chromium not found at {DEFAULT_CHROMIUM}: install the Debian package `chromium` "
            "(apt-get install -y chromium) or set SALESDW_CHROMIUM"
        )
    page = Path(page).resolve()
    if not page.is_file():
        raise FileNotFoundError(page)
    with tempfile.TemporaryDirectory(prefix="salesdw-chromium-") as profile:
        cmd = [binary, *BASE_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 2000, timeout: float = 60) -> Path:
    """Render ``page`` (a local HTML file) to the PNG ``out`` at ``width`` x ``height`` pixels."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    _run(
        page,
        [f"--screenshot={out}", f"--window-size={width},{height}", "--virtual-time-budget=5000"],
        timeout,
    )
    if not out.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {out}")
    return out


def dump_dom(page: Path, timeout: float = 60, budget_ms: int = 5000) -> str:
    """The DOM of ``page`` after its scripts ran (and up to ``budget_ms`` of virtual time), as HTML."""
    return _run(page, ["--dump-dom", f"--virtual-time-budget={budget_ms}"], timeout).stdout

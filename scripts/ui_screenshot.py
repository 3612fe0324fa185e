"""Screenshot of the Dagster UI's asset graph, by headless Chromium over the DevTools protocol.

    .venv/bin/python scripts/ui_screenshot.py                      # a running `make dev` on :3000
    .venv/bin/python scripts/ui_screenshot.py --url http://127.0.0.1:3917 --out /tmp/graph.png

Waits until the code location is loaded and every expected asset group is on the page, then writes
the PNG (default data/ui/asset_graph.png) and exits 0; exits 1 naming the missing groups otherwise,
2 when Chromium is not installed. Needs the Debian package ``chromium`` (no browser download).
tests/e2e/test_ui.py uses the same functions against a webserver of its own.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from expectations.report_browser import BASE_FLAGS, chromium_path  # noqa: E402

EXPECTED_GROUPS = ("raw_crm", "raw_billing", "raw_activity", "staging", "intermediate", "marts", "publish")
GRAPH_PATH = "/asset-groups"  # the global asset lineage graph
DEFAULT_OUT = PROJECT_ROOT / "data" / "ui" / "asset_graph.png"

LOCATIONS_QUERY = (
    "{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)


def wait_for_dagster(base_url: str, timeout: float = 90, proc: subprocess.Popen | None = None) -> None:
    """Until the webserver answers and every code location is loaded (raises on a load error)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the Dagster webserver exited with {proc.returncode} before it was ready")
        try:
            req = urllib.request.Request(
                base_url.rstrip("/") + "/graphql",
                data=json.dumps({"query": LOCATIONS_QUERY}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=5) as resp:
                data = json.load(resp)["data"]["workspaceOrError"]
            entries = data.get("locationEntries") or []
            for e in entries:
                err = e.get("locationOrLoadError") or {}
                if err.get("__typename") == "PythonError":
                    raise RuntimeError(f"code location {e['name']} failed to load: {err.get('message')}")
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
            last = f"locations {[(e['name'], e['loadStatus']) for e in entries]}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise TimeoutError(f"Dagster at {base_url} not ready after {timeout:.0f}s ({last})")


# The report's offline flags, except that the UI on the loopback address must stay reachable (the
# report's `<-loopback>` sends even loopback traffic to the dead proxy). Nothing else resolves.
CHROMIUM_FLAGS = tuple(
    "--proxy-bypass-list=127.0.0.1;localhost"
    if f.startswith("--proxy-bypass-list")
    else "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
    if f.startswith("--host-resolver-rules")
    else f
    for f in BASE_FLAGS
)


class Cdp:
    """The smallest Chrome DevTools protocol client: send a command, wait for its answer."""

    def __init__(self, ws):
        self._ws = ws
        self._ids = itertools.count(1)

    def __call__(self, method: str, timeout: float = 30, **params):
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})


# What the page shows: the texts of the graph's nodes (drawn inside an <svg>) and the page's text.
PAGE_STATE_JS = """(() => ({
  graph: [...document.querySelectorAll('svg *')]
    .filter((el) => el.children.length === 0)
    .map((el) => el.textContent.trim())
    .filter((t) => t),
  text: document.body ? document.body.innerText : '',
}))()"""
DISMISS_JS = """(() => {
  const skip = [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Skip');
  if (skip) { skip.click(); return true; }
  return false;
})()"""


def _evaluate(cdp: Cdp, expression: str):
    result = cdp("Runtime.evaluate", expression=expression, returnByValue=True)
    return result.get("result", {}).get("value")


@dataclass
class Capture:
    url: str
    out: Path
    found: list[str]
    missing: list[str]
    seconds: float
    title: str = ""
    text_sample: str = field(default="", repr=False)


def _stop_process_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End a process started with start_new_session=True and everything it started (by its group id)."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; give the group's other members (renderers, crashpad) a moment too
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _devtools_port(profile: Path, proc: subprocess.Popen, timeout: float) -> int:
    """Chromium started with --remote-debugging-port=0 writes the port it chose into the profile."""
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}: {proc.stderr.read()[-2000:]!r}")
        if active.is_file() and active.read_text().strip():
            return int(active.read_text().split()[0])
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def _page_ws_url(port: int, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                pages = [t for t in json.load(resp) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except (urllib.error.URLError, ConnectionError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError("chromium has no page target")


def capture_asset_graph(
    base_url: str,
    out: Path = DEFAULT_OUT,
    groups: tuple[str, ...] = EXPECTED_GROUPS,
    timeout: float = 60,
    width: int = 1600,
    height: int = 1000,
    settle: float = 3.0,
) -> Capture:
    """Open the asset graph, wait until every group name is on the page, screenshot it to ``out``.

    The screenshot is written even when groups are missing (it shows why); check ``missing``.
    """
    binary = chromium_path()
    if not binary:
        raise FileNotFoundError("Chromium not found: apt-get install -y chromium (or set SALESDW_CHROMIUM)")
    url = base_url.rstrip("/") + GRAPH_PATH
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="salesdw-ui-chromium-", ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp)
        proc = subprocess.Popen(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            from websockets.sync.client import connect

            with connect(
                _page_ws_url(_devtools_port(profile, proc, 20)), max_size=None, open_timeout=10
            ) as ws:
                cdp = Cdp(ws)
                cdp(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                cdp("Page.enable")
                cdp("Page.navigate", url=url)
                found: list[str] = []
                page: dict = {}
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    page = _evaluate(cdp, PAGE_STATE_JS) or {}
                    # group nodes drawn in the graph canvas (the sidebar's group list does not count)
                    found = [g for g in groups if g in page.get("graph", [])]
                    if len(found) == len(groups) or "ERR_" in page.get("text", ""):  # done, or an error page
                        break
                    time.sleep(0.5)
                # Let the graph finish its layout, and close the first-visit "Join the Dagster
                # community" dialog (it can open a moment after the graph) so it hides nothing.
                settled = time.monotonic() + settle
                while time.monotonic() < settled:
                    _evaluate(cdp, DISMISS_JS)
                    time.sleep(0.25)
                if _evaluate(cdp, DISMISS_JS):
                    time.sleep(0.5)
                title = _evaluate(cdp, "document.title") or ""
                shot = cdp("Page.captureScreenshot", format="png", timeout=60)
                out.write_bytes(base64.b64decode(shot["data"]))
        finally:
            _stop_process_group(proc)
    return Capture(
        url=url,
        out=out,
        found=found,
        missing=[g for g in groups if g not in found],
        seconds=time.monotonic() - started,
        title=title,
        text_sample=page.get("text", "")[:2000],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:3000", help="the Dagster UI (default: make dev's)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds to wait for the graph")
    args = ap.parse_args(argv)
    if not chromium_path():
        print("Chromium not found: apt-get install -y chromium (or set SALESDW_CHROMIUM)", file=sys.stderr)
        return 2
    try:
        wait_for_dagster(args.url, timeout=args.timeout)
    except (TimeoutError, RuntimeError) as exc:
        print(f"{exc}\nIs the UI running? Start it with `make dev`.", file=sys.stderr)
        return 1
    cap = capture_asset_graph(args.url, args.out, timeout=args.timeout)
    print(f"{cap.out} ({cap.url}, {cap.seconds:.1f}s)")
    if cap.missing:
        print(f"asset groups missing from the graph: {', '.join(cap.missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

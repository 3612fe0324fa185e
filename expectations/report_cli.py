"""`python -m expectations.report_cli [--build] [--screenshot OUT.png]`: rebuild the report, or picture it.

The everyday entry points are `salesdw report` (make report) and `salesdw report --screenshot` (make
report-screenshot); this one also takes another report dir, run or page.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from expectations.report import INDEX_FILE, SUMMARY_FILE, build_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m expectations.report_cli",
        description="Build the data-quality report and/or screenshot its summary page in headless Chromium.",
    )
    parser.add_argument(
        "--build", action="store_true", help="rebuild the report from the settings (SALESDW_*)"
    )
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path, help="render index.html to this PNG")
    parser.add_argument("--report-dir", type=Path, help="report directory (default: SALESDW_REPORT_DIR)")
    parser.add_argument("--run-id", help="report this run (default: the latest stored run)")
    parser.add_argument("--page", type=Path, help="page to screenshot (default: the report's index.html)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args(argv)
    if not args.build and not args.screenshot:
        parser.error("nothing to do: give --build and/or --screenshot OUT.png")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from ingestion.settings import Settings

    settings = Settings.from_env()
    report_dir = args.report_dir or settings.report_dir
    index = report_dir / INDEX_FILE
    if args.build:
        index = build_report(settings.warehouse, report_dir, settings.marts, args.run_id)
        summary = json.loads((report_dir / SUMMARY_FILE).read_text())
        print(f"{summary['headline']}\nreport: {index}")
    if args.screenshot:
        from expectations.report_browser import screenshot

        page = args.page or index
        if not page.exists():
            print(f"{page} does not exist: build the report first (--build)", file=sys.stderr)
            return 2
        print(f"screenshot: {screenshot(page, args.screenshot, args.width, args.height)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

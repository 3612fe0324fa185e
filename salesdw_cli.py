"""The `salesdw` command: run the pipeline, generate demo data, load a landing zone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingestion.sources import stripe_versions


def _cmd_run(args: argparse.Namespace) -> int:
    from ingestion.loader import LandingError
    from ingestion.settings import Settings
    from ingestion.warehouse import WarehouseError

    settings = Settings.from_env()
    found = _what_changed(settings)
    if found is None:
        return 0
    from orchestration.runner import run_pipeline

    try:
        summary = run_pipeline(settings, found=found)
    except (WarehouseError, LandingError) as exc:  # the message names the path, the cause and the fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.render(settings))
    return summary.exit_code


def _what_changed(settings):
    """What changed since the last successful run, which decides whether the run is a full or a delta run
    (orchestration/selection.py); None when nothing did: then it says so and stops, before Dagster, dbt and
    GE are even imported (orchestration/changes.py decides; the schedules and the sensor ask it too)."""
    import time

    from orchestration import changes

    started = time.perf_counter()
    found = changes.what_changed(settings)
    if not found.nothing_new:
        return found
    changes.note_nothing_new(settings, found)
    print(changes.nothing_new_summary(settings, found, time.perf_counter() - started))
    return None


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from ingestion.demo.generator import generate

    out = Path(args.out)
    summary = generate(
        out, scale=args.scale, seed=args.seed, dirty=args.dirty, stripe_api_version=args.stripe_api_version
    )
    files = len(summary) if isinstance(summary, dict) else "?"
    print(
        f"wrote {files} files to {out}"
        + (" (with injected defects: see dirty_manifest.jsonl)" if args.dirty else "")
    )
    return 0


def _stripe_api_version(value: str) -> str:
    try:
        return stripe_versions.check(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd_report(args: argparse.Namespace) -> int:
    from ingestion.settings import Settings
    from orchestration.runner import write_report

    s = Settings.from_env()
    index, headline = write_report(s, args.run_id)
    if index is None:
        return 1
    print(f"{headline}\nreport: {index}")
    if args.screenshot:
        from expectations.report_browser import screenshot

        screenshot(index, Path(args.screenshot), 1280, 2400)
        print(f"screenshot: {args.screenshot}")
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    """Load a landing zone without Dagster: for debugging a delivery."""
    from ingestion.loader import LandingError, check_landing, load_landing
    from ingestion.settings import Settings
    from ingestion.warehouse import WarehouseError, check_warehouse_path, connect

    s = Settings.from_env()
    landing = Path(args.landing) if args.landing else s.landing_dir
    warehouse = Path(args.warehouse) if args.warehouse else s.warehouse
    try:
        check_warehouse_path(warehouse)  # before anything is read or written
        check_landing(landing)
        with connect(warehouse) as con:
            report = load_landing(con, landing)
    except (WarehouseError, LandingError) as exc:  # the message names the path, the cause and the fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for f in report.files:
        if f.status != "already_loaded":
            print(f"{f.status:<15}{f.rows_loaded:>10,}{f.rows_quarantined:>8,}  {f.file}  {f.message}")
    print(report.totals())
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.run import main as bench

    return bench(["--scales", args.scale] + (["--out", args.out] if args.out else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="salesdw", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "run", help="run the whole pipeline once (generates demo data into an empty landing zone)"
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("demo-data", help="write a deterministic demo landing zone")
    p.add_argument("--out", required=True, help="landing-zone folder to write")
    p.add_argument("--scale", type=float, default=1.0, help="1 = ~100 reps, 5k accounts, 20k opportunities")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dirty", action="store_true", help="inject the contract's defects and write a manifest")
    p.add_argument(
        "--stripe-api-version",
        type=_stripe_api_version,
        default=stripe_versions.CURRENT,
        help=f"write billing objects as this Stripe API version answers (default {stripe_versions.CURRENT}; "
        f"{stripe_versions.LAST_BEFORE_BASIL} or older for the shape before 2025-03-31.basil)",
    )
    p.set_defaults(func=_cmd_demo_data)

    p = sub.add_parser("report", help="rebuild the data-quality report and print where it is")
    p.add_argument("--run-id", help="report on this run (default: the latest validated run)")
    p.add_argument("--screenshot", help="also save a PNG of the summary page (needs chromium)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("load", help="load a landing zone into the warehouse without Dagster")
    p.add_argument("--landing", help="landing zone (default: SALESDW_LANDING_DIR)")
    p.add_argument("--warehouse", help="warehouse file (default: SALESDW_WAREHOUSE)")
    p.set_defaults(func=_cmd_load)

    p = sub.add_parser("bench", help="benchmark every stage against DuckDB's own speed (data/bench/)")
    p.add_argument("--scale", default="10", help="demo scale, or several: 1,10,50")
    p.add_argument("--out", help="results folder (default: data/bench)")
    p.set_defaults(func=_cmd_bench)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

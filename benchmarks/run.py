"""Run the salesdw benchmark: every stage against its DuckDB floor, on the same generated files.

    python -m benchmarks.run --scale 10                 (make bench SCALE=10, salesdw bench --scale 10)
    python -m benchmarks.run --scales 1,10,50 --out data/bench

Per scale: generate demo data; ingest (our loaders vs native read_csv/read_json); transform (`dbt run`
of all models vs their compiled SQL executed directly; dbt's parse and empty-run overhead apart);
gates (every GE suite vs the same rules as hand-written SQL); end to end through Dagster (vs the sum
of the three floors); then a ~1 % delta batch and an incremental run (vs the full run). Each stage runs
in its own process, so its peak RSS (including dbt's processes) is its own.
Writes data/bench/latest.json, appends data/bench/history.jsonl, and renders report.md with
time_vs_scale.png from the newest entry per scale.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ingestion.settings import PROJECT_ROOT

# Stages in run order; each runs in its own child process (`--stage NAME`) and writes <work>/NAME.json.
STAGE_ORDER = (
    "generate",
    "ingest_floor",
    "ingest",
    "dbt_overhead",
    "transform",
    "transform_floor",
    "dbt_tests",
    "gates",
    "gates_floor",
    "e2e_full",
    "delta",
    "e2e_incremental",
    "e2e_noop",
    "e2e_fixed",
)
# The landing zone of the fixed-cost run (a second run, nothing new, on almost no data): 0.02 is ~9k rows.
FIXED_SCALE = 0.02


def _stage(name: str, work: Path, scale: float, seed: int, delta: float) -> dict:
    """One stage, executed inside the child process."""
    landing = work / "landing"
    if name == "generate":
        from ingestion.demo.generator import generate

        t = time.perf_counter()
        generate(landing, scale=scale, seed=seed)
        size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
        return {"seconds": time.perf_counter() - t, "landing_mb": size / 1e6}
    if name == "ingest_floor":
        from benchmarks.ingest import native_load

        return native_load(landing, work / "native" / "warehouse.duckdb")
    if name == "ingest":
        from benchmarks.ingest import our_load

        res = our_load(landing, work / "dbt" / "warehouse.duckdb")
        # The floor transforms a copy of exactly this raw layer.
        (work / "floor").mkdir(exist_ok=True)
        shutil.copy(work / "dbt" / "warehouse.duckdb", work / "floor" / "warehouse.duckdb")
        return res
    if name == "dbt_overhead":
        from benchmarks.transform import dbt_overhead

        # A warehouse with nothing in it: the cost measured must not depend on the data.
        return dbt_overhead(work / "empty" / "warehouse.duckdb", work / "dbt_target_overhead")
    if name == "transform":
        from benchmarks.transform import dbt_models

        return dbt_models(work / "dbt" / "warehouse.duckdb", work / "dbt_target")
    if name == "transform_floor":
        from benchmarks.transform import floor

        return floor(work / "floor" / "warehouse.duckdb", work / "dbt_target" / "manifest.json")
    if name == "dbt_tests":
        from benchmarks.transform import dbt_tests

        return dbt_tests(work / "dbt" / "warehouse.duckdb", work / "dbt_target")
    if name in ("gates", "gates_floor"):
        from benchmarks import gates

        wh = work / "dbt" / "warehouse.duckdb"
        res = (gates.run_ge if name == "gates" else gates.run_sql)(wh, gates.gated_suites())
        (work / f"{name}_counts.json").write_text(json.dumps(res.pop("counts"), default=str))
        return res
    if name in ("e2e_full", "e2e_incremental"):
        from benchmarks.e2e import pipeline

        # the full run is a first build, whatever ran before on this code: its unit tests run
        return pipeline(landing, work / "e2e", first_build=name == "e2e_full")
    if name == "e2e_noop":
        from benchmarks.e2e import nothing_new

        return nothing_new(landing, work / "e2e")
    if name == "e2e_fixed":
        from benchmarks.e2e import fixed_cost

        return fixed_cost(work / "fixed", FIXED_SCALE, seed)
    if name == "delta":
        from ingestion.demo.delta import write_delta

        t = time.perf_counter()
        written = write_delta(landing, fraction=delta, seed=seed)
        return {"seconds": time.perf_counter() - t, "records": sum(written.values()), "files": len(written)}
    raise ValueError(f"unknown stage {name!r}")


def _child(args: argparse.Namespace) -> int:
    result = _stage(args.stage, Path(args.work), args.scale, args.seed, args.delta)
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,  # dbt's processes
    )
    result["peak_rss_mb"] = peak / 1024  # Linux reports KiB
    (Path(args.work) / f"{args.stage}.json").write_text(json.dumps(result, default=str))
    return 0


def run_stage(name: str, work: Path, scale: float, seed: int, delta: float, say=print) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.run", "--stage", name, "--work", str(work)]
    cmd += ["--scale", str(scale), "--seed", str(seed), "--delta", str(delta)]
    say(f"  {name:<16}", end="", flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        say("FAILED")
        raise RuntimeError(f"benchmark stage {name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    res = json.loads((work / f"{name}.json").read_text())
    say(f"{res['seconds']:>9.2f}s  (process {time.perf_counter() - t:.1f}s, {res['peak_rss_mb']:,.0f} MB)")
    return res


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when a stage was skipped."""
    if a is None or b is None:
        return None
    return round(a / b, 3) if b > 0 else float("inf")


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def summarise(scale: float, st: dict[str, dict]) -> dict:
    """The entry of latest.json for one scale: seconds, ratios, peak RSS per stage, details."""
    secs: dict[str, float | None] = {k: round(v["seconds"], 3) for k, v in st.items()}
    for k in STAGE_ORDER:  # a skipped stage is there, as null
        secs.setdefault(k, None)
    over = st.get("dbt_overhead", {})
    secs["dbt_parse"] = round(over["parse_seconds"], 3) if over else None
    secs["dbt_empty_run"] = round(over["empty_run_seconds"], 3) if over else None
    del secs["dbt_overhead"]
    parts = [secs["ingest_floor"], secs["transform_floor"], secs["gates_floor"]]
    secs["floors_sum"] = None if None in parts else round(sum(parts), 3)
    overhead = secs["dbt_empty_run"]
    if secs["e2e_fixed"] is None and "e2e_fixed" not in st and scale <= FIXED_SCALE:
        # at this scale the incremental run (nothing but a tiny delta) is the fixed-cost run
        secs["e2e_fixed"] = secs["e2e_incremental"]

    def get(stage: str, key: str, default=None):
        return st[stage][key] if stage in st else default

    return {
        "scale": scale,
        "ingest_ratio": ratio(secs["ingest"], secs["ingest_floor"]),
        "transform_ratio": ratio(secs["transform"], secs["transform_floor"]),
        # dbt's fixed cost taken out: what the models themselves cost against the floor.
        "transform_ratio_net_of_overhead": ratio(
            _minus(secs["transform"], overhead), secs["transform_floor"]
        ),
        "gates_ratio": ratio(secs["gates"], secs["gates_floor"]),
        "e2e_ratio": ratio(secs["e2e_full"], secs["floors_sum"]),
        "incremental_ratio": ratio(secs["e2e_incremental"], secs["e2e_full"]),
        # The lowest incremental_ratio this design can reach at this scale: a run's fixed cost / a full run.
        "incremental_floor_ratio": ratio(secs["e2e_fixed"], secs["e2e_full"]),
        # `salesdw run` (a new process) on this scale's warehouse with nothing new since the last run
        "noop_seconds": secs["e2e_noop"],
        "dbt_fixed_overhead_seconds": overhead,
        "seconds": secs,
        "peak_rss_mb": {k: round(v["peak_rss_mb"]) for k, v in st.items()},
        "skipped": [k for k in STAGE_ORDER if k not in st and secs.get(k) is None],
        "rows": {
            "ingest": get("ingest", "rows"),
            "ingest_floor": get("ingest_floor", "rows"),
            "quarantined": get("ingest", "rows_quarantined"),
            "delta_records": get("delta", "records"),
            "incremental_rows_loaded": get("e2e_incremental", "rows_loaded"),
        },
        "landing_mb": round(st["generate"]["landing_mb"], 1),
        "ingest_seconds_by_source": get("ingest", "seconds_by_source", {}),
        # The loader's SQL by phase (benchmarks/ingest.PHASES); `python`: file hashing, listing, glue.
        "ingest_seconds_by_phase": get("ingest", "seconds_by_phase", {}),
        "dbt_seconds_by_model": get("transform", "seconds_by_model", {}),
        "floor_seconds_by_model": get("transform_floor", "seconds_by_model", {}),
        "ge_seconds_by_suite": get("gates", "seconds_by_suite", {}),
        "gates_counts_mismatch": [],
        "e2e_failures": get("e2e_full", "failures", [])
        + get("e2e_incremental", "failures", [])
        + get("e2e_noop", "failures", [])
        + get("e2e_fixed", "failures", []),
        # Dagster's seconds per step (a raw load, a gate, a dbt step, publish) of each end-to-end run.
        "e2e_seconds_by_step": {
            stage: st[stage].get("seconds_by_step", {})
            for stage in ("e2e_full", "e2e_incremental", "e2e_fixed")
            if stage in st
        },
    }


def run_scale(
    scale: float, seed: int, delta: float, out: Path, skip: set[str] = frozenset(), say=print
) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"run-{scale:g}-", dir=out))
    try:
        say(f"scale {scale:g} (work dir {work})")
        if scale <= FIXED_SCALE:  # the incremental run already is the fixed-cost run (summarise)
            skip = set(skip) | {"e2e_fixed"}
        if "e2e_full" in skip:  # nothing was run, so there is no "nothing new since" to measure
            skip = set(skip) | {"e2e_noop"}
        st = {n: run_stage(n, work, scale, seed, delta, say) for n in STAGE_ORDER if n not in skip}
        entry = summarise(scale, st)
        if "gates" in st and "gates_floor" in st:
            from benchmarks.gates import counts_mismatch

            ge = json.loads((work / "gates_counts.json").read_text())
            sql = json.loads((work / "gates_floor_counts.json").read_text())
            entry["gates_counts_mismatch"] = counts_mismatch(ge, sql)
        return entry
    finally:
        shutil.rmtree(work, ignore_errors=True)


COLUMNS = ("ingest", "transform", "gates", "e2e_full", "e2e_incremental")


def table(entries: list[dict]) -> str:
    head = f"{'scale':>6} {'ingest':>8} {'transform':>10} {'gates':>7} {'e2e':>7} {'incr':>7} {'floor':>7}  {'dbt fixed s':>11} {'noop s':>7}"
    lines = [head]
    for e in entries:
        lines.append(
            f"{e['scale']:>6g} {_f(e['ingest_ratio'], 8)} {_f(e['transform_ratio'], 10)} {_f(e['gates_ratio'], 7)} "
            f"{_f(e['e2e_ratio'], 7)} {_f(e['incremental_ratio'], 7, 3)} "
            f"{_f(e.get('incremental_floor_ratio'), 7, 3)}  {_f(e['dbt_fixed_overhead_seconds'], 11, 1)} "
            f"{_f(e.get('noop_seconds'), 7, 1)}"
        )
    lines.append("")
    lines.append(f"{'seconds':<18}" + "".join(f"{e['scale']:>10g}" for e in entries))
    keys = list(entries[0]["seconds"])
    for k in keys:
        lines.append(f"{k:<18}" + "".join(f" {_f(e['seconds'].get(k), 9)}" for e in entries))
    lines.append("")
    lines.append(f"{'peak RSS MB':<18}" + "".join(f"{e['scale']:>10g}" for e in entries))
    for k in entries[0]["peak_rss_mb"]:
        lines.append(
            f"{k:<18}"
            + "".join(
                f"{e['peak_rss_mb'][k]:>10,}" if k in e["peak_rss_mb"] else f"{'-':>10}" for e in entries
            )
        )
    return "\n".join(lines)


def _f(x: float | None, width: int, digits: int = 2) -> str:
    return f"{'-':>{width}}" if x is None else f"{x:>{width}.{digits}f}"


def newest_per_scale(history: Path) -> list[dict]:
    latest: dict[float, dict] = {}
    if history.exists():
        for line in history.read_text().splitlines():
            if line.strip():
                e = json.loads(line)
                latest[e["scale"]] = e
    return [latest[s] for s in sorted(latest)]


def _plot(ax, entries: list[dict], stage: str, style: str, **kw) -> None:
    points = [(e["scale"], e["seconds"].get(stage)) for e in entries if e["seconds"].get(stage) is not None]
    if points:
        ax.plot([p[0] for p in points], [p[1] for p in points], style, **kw)


def write_report(out: Path, entries: list[dict]) -> Path:
    """report.md and time_vs_scale.png from the newest entry per scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = [e["scale"] for e in entries]
    fig, ax = plt.subplots(figsize=(8, 5))
    for stage in ("ingest", "ingest_floor", "transform", "transform_floor", "gates", "gates_floor"):
        style = "--" if stage.endswith("_floor") else "-"
        _plot(ax, entries, stage, style, marker="o", label=stage)
    _plot(ax, entries, "e2e_full", "-", marker="s", lw=2, label="e2e (Dagster)")
    _plot(ax, entries, "e2e_incremental", ":", marker="s", label="e2e incremental")
    if len(scales) > 1:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("demo scale (1 = 200k events, 20k opportunities)")
    ax.set_ylabel("seconds")
    ax.set_title("salesdw stages vs their DuckDB floors (dashed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "time_vs_scale.png", dpi=110)
    plt.close(fig)
    md = [
        "# salesdw benchmark",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.run` on "
        f"{platform.machine()}, {_cpus()} CPUs. Ratios are salesdw / floor measured in the same run on the "
        "same files; `incr` is incremental run / full run (both end to end through Dagster); `floor` is a "
        f"full run on a tiny landing zone (scale {FIXED_SCALE:g}) / full run: what any run costs whatever the "
        "data (the second of two runs on it, nothing new in the second), so the lowest `incr` this design "
        "can reach at that scale.",
        "",
        "```",
        table(entries),
        "```",
        "",
        "![time vs scale](time_vs_scale.png)",
        "",
        "Floors: ingest = DuckDB `CREATE TABLE AS SELECT * FROM read_csv/read_json` of every batch file; "
        "transform = each model's compiled SQL from dbt's manifest executed directly (views as views, "
        "tables as CTAS); gates = the same rules as hand-written aggregate SQL; e2e = the sum of the three. "
        "transform is `dbt run` (models only; `dbt_tests` is `dbt test` afterwards, reported, no ratio); "
        "`dbt fixed s` is a `dbt run` selecting nothing (startup, partial parse, connection).",
        "",
    ]
    for e in entries:
        top = sorted(e["dbt_seconds_by_model"].items(), key=lambda kv: -kv[1])[:6]
        md.append(f"Scale {e['scale']:g}, slowest dbt models: " + ", ".join(f"{m} {s:.1f}s" for m, s in top))
        md.append("")
        steps = e.get("e2e_seconds_by_step", {}).get("e2e_incremental", {})
        if steps:
            top = sorted(steps.items(), key=lambda kv: -kv[1])[:8]
            md.append(
                f"Scale {e['scale']:g}, incremental run, slowest Dagster steps of {sum(steps.values()):.1f}s: "
                + ", ".join(f"{k} {v:.1f}s" for k, v in top)
            )
            md.append("")
    (out / "report.md").write_text("\n".join(md))
    return out / "report.md"


def write_latest(out: Path, entry: dict) -> Path:
    """latest.json: this run's (last) scale at the top level, and under by_scale the newest entry of
    every scale measured into this folder (so runs of one scale at a time add up); then the report."""
    by_scale = newest_per_scale(out / "history.jsonl")
    latest = {**entry, "by_scale": by_scale, "generated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (out / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")
    return write_report(out, by_scale)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--scales", help="comma-separated scales, e.g. 1,10,50 (overrides --scale)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--delta", type=float, default=0.01, help="share of records in the incremental batch")
    ap.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench"))
    ap.add_argument(
        "--skip",
        default="",
        help="comma-separated stages to leave out, e.g. dbt_tests,e2e_full,delta,e2e_incremental "
        "(their ratios are null); for a quick look at a large scale",
    )
    ap.add_argument("--stage", help=argparse.SUPPRESS)  # internal: run one stage in this process
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stage:
        return _child(args)

    scales = [float(s) for s in args.scales.split(",")] if args.scales else [args.scale]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    skip = {s for s in args.skip.split(",") if s}
    bad = (skip - set(STAGE_ORDER)) | ({"generate", "ingest"} & skip)
    if bad:
        ap.error(f"cannot skip {sorted(bad)}")
    entries: list[dict] = []
    for s in scales:
        entries.append(run_scale(s, args.seed, args.delta, out, skip))
        # Written after every scale, so a long multi-scale run keeps what it has measured.
        with (out / "history.jsonl").open("a") as fh:
            fh.write(json.dumps(entries[-1]) + "\n")
        report = write_latest(out, entries[-1])
    print()
    print(table(entries))
    for e in entries:
        if e["gates_counts_mismatch"]:
            print(f"WARNING scale {e['scale']:g}: GE and SQL disagree: {e['gates_counts_mismatch'][:5]}")
        if e["e2e_failures"]:
            print(
                f"WARNING scale {e['scale']:g}: the pipeline failed, e2e times are not comparable: "
                f"{e['e2e_failures'][:3]}"
            )
    print(f"\n{out / 'latest.json'}, {report} ({time.perf_counter() - started:.0f}s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

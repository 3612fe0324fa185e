"""Query the governed metrics (dbt MetricFlow, dbt_project/models/semantic) against the published marts.

    python -m bi.metrics "bookings, win_rate_count by rep__manager_name, fiscal_quarter"
    python -m bi.metrics --list

MetricFlow's own CLI (`mf query`) uses the profile's default target, the warehouse, whose write lock a running
load holds. Here the project is parsed for the `serving` target of dbt_project/profiles.yml instead: relations
compile against the serving file's catalog (DuckDB names it after the file stem) and the file is opened
read-only, so metric queries read exactly what BI tools read and never wait for a load.

Metrics describe the business up to the marts' as-of date (marts.dim_date): a query reads no period after it
unless asked to (`after_as_of`, `--after-as-of`), so an open deal's planned close date never shows up as a
future quarter with zero bookings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestion.settings import DBT_PROJECT_DIR, Settings

SERVING_TARGET = "serving"
TIME_SPINE = "time_spine_daily"
# Bare group-by names that mean "metric_time at this grain" (fiscal ones are the time spine's custom grains).
TIME_GRAINS = ("day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")


class MetricsError(RuntimeError):
    """A metric query that cannot be answered, with what to do about it."""


@dataclass(frozen=True)
class MetricQuery:
    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    after_as_of: bool = False  # also periods after the as-of date (planned close dates, scheduled meetings)


@dataclass(frozen=True)
class MetricResult:
    columns: tuple[str, ...]
    rows: list[tuple]
    sql: str

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def text(self) -> str:
        cells = [self.columns, *[tuple(_fmt(v) for v in r) for r in self.rows]]
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 10 and v != int(v) else f"{v:,.2f}"
    if hasattr(v, "date") and getattr(v, "hour", 1) == 0 and getattr(v, "minute", 1) == 0:
        return v.date().isoformat()
    return str(v)


def parse_query(text: str) -> MetricQuery:
    """`<metric>[, <metric>...] [by <group>[, <group>...]]`: the Q= of `make metrics`."""
    m = re.fullmatch(
        r"\s*(?P<metrics>.+?)(?:\s+by\s+(?P<groups>.+?))?\s*", text, flags=re.IGNORECASE | re.DOTALL
    )
    if not m:
        raise MetricsError(
            f"cannot read the query {text!r}: write `<metric>[, <metric>...] [by <group>, ...]`"
        )
    metrics = tuple(s.strip() for s in m["metrics"].split(",") if s.strip())
    groups = tuple(s.strip() for s in (m["groups"] or "").split(",") if s.strip())
    if not metrics:
        raise MetricsError(f"no metric named in {text!r}; `python -m bi.metrics --list` lists them")
    return MetricQuery(metrics, groups)


def serving_profiles(marts: Path, folder: Path) -> Path:
    """A profiles.yml in ``folder`` holding only the project's serving output, with ``marts`` as the file it
    attaches: dbt renders profiles from the process environment, which this client leaves alone."""
    import yaml

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["salesdw"]
    output = dict(profile["outputs"][SERVING_TARGET])
    output["attach"] = [{**attached, "path": str(marts)} for attached in output["attach"]]
    (folder / "profiles.yml").write_text(
        yaml.safe_dump({"salesdw": {"target": SERVING_TARGET, "outputs": {SERVING_TARGET: output}}})
    )
    return folder


class MetricsClient:
    """One parsed semantic manifest and one read-only connection to the serving file, for many queries."""

    def __init__(self, marts: Path | None = None):
        from dbt.adapters.factory import get_adapter_by_type
        from dbt_metricflow.cli.dbt_connectors.adapter_backed_client import AdapterBackedSqlClient
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        self.marts = Path(marts or Settings.from_env().marts).resolve()
        if not self.marts.is_file():
            raise MetricsError(f"no published marts at {self.marts}: run `make run` (or `salesdw run`) first")
        self.as_of = as_of_date(self.marts)
        # Parse artifacts go to a private folder: dbt_project/target belongs to Dagster's manifest.
        self._work = tempfile.TemporaryDirectory(prefix="salesdw-metrics-")
        work = Path(self._work.name)
        parsed = self._parse(work)
        if not parsed.success:
            raise MetricsError(
                f"dbt parse of {DBT_PROJECT_DIR} for target {SERVING_TARGET} failed: {parsed.exception}"
            )
        manifest = parse_manifest_from_dbt_generated_manifest(
            (work / "target" / "semantic_manifest.json").read_text()
        )
        # `dbt parse` registered the adapter for the serving target; MetricFlow runs its SQL through it.
        self.sql_client = AdapterBackedSqlClient(get_adapter_by_type("duckdb"))
        self.lookup = SemanticManifestLookup(manifest)
        self.engine = MetricFlowEngine(semantic_manifest_lookup=self.lookup, sql_client=self.sql_client)
        self.metric_names = sorted(m.name for m in manifest.metrics)

    def _parse(self, work: Path):
        """`dbt parse` for the serving target into ``work``, from the state the last parse with this environment
        and serving file saved (orchestration/defs/dbt/project.py): dbt then reads only what changed since, about
        4 s of CPU less than a full parse. dbt checks the state itself: a stale one costs a full parse, never a
        wrong manifest. The key holds the serving file's path, which dbt counts as part of the profile."""
        from dbt.cli.main import dbtRunner

        from orchestration.defs.dbt.project import ProjectDirs, keep_partial_parse, seed_partial_parse

        dirs, target = ProjectDirs(), work / "target"
        kept_for = {**os.environ, "DBT_TARGET": SERVING_TARGET, "SALESDW_MARTS": str(self.marts)}
        target.mkdir()
        with contextlib.suppress(OSError):  # a read-only checkout: parse in full, as without the cache
            seed_partial_parse(dirs, target, kept_for)
        result = dbtRunner().invoke(
            [
                "parse", "--quiet", "--no-send-anonymous-usage-stats",
                "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(serving_profiles(self.marts, work)),
                "--target", SERVING_TARGET,
                "--target-path", str(target), "--log-path", str(work / "logs"),
            ]
        )  # fmt: skip
        if result.success:
            with contextlib.suppress(OSError):
                keep_partial_parse(dirs, target, kept_for)
        return result

    def close(self) -> None:
        """Release the serving file: dbt keeps one adapter and one DuckDB instance per process, which would
        otherwise go on reading the file as it was, even after a new publish replaced it."""
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
        from dbt.adapters.factory import reset_adapters

        reset_adapters()
        DuckDBConnectionManager.close_all_connections()
        self._work.cleanup()

    def __enter__(self) -> MetricsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def resolve_group_by(self, metrics: tuple[str, ...], name: str) -> str:
        """`fiscal_quarter` -> `metric_time__fiscal_quarter`, `manager_name` -> `rep__manager_name` (when unique)."""
        if "__" in name:
            return name
        if name in TIME_GRAINS:
            return f"metric_time__{name}"
        if name in {e.name for e in self.engine.entities_for_metrics(list(metrics))}:
            return name  # an entity (rep, account, ...): its key
        candidates = sorted(
            {
                d.dunder_name
                for d in self.engine.simple_dimensions_for_metrics(list(metrics))
                if d.name == name
            }
        )
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise MetricsError(
                f"{name!r} is not a dimension of {', '.join(metrics)}; "
                f"`python -m bi.metrics --dimensions {','.join(metrics)}` lists the ones that are"
            )
        raise MetricsError(
            f"{name!r} is ambiguous for {', '.join(metrics)}: say which of {', '.join(candidates)}"
        )

    def dimensions(self, metrics: list[str]) -> list[str]:
        self._check_metrics(metrics)
        return sorted({d.dunder_name for d in self.engine.simple_dimensions_for_metrics(metrics)})

    def _check_metrics(self, metrics) -> None:
        unknown = [m for m in metrics if m not in self.metric_names]
        if unknown:
            raise MetricsError(
                f"unknown metric {', '.join(unknown)}; the metrics are: {', '.join(self.metric_names)}"
            )

    def query(self, q: MetricQuery | str) -> MetricResult:
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        if isinstance(q, str):
            q = parse_query(q)
        self._check_metrics(q.metrics)
        groups = [self.resolve_group_by(q.metrics, g) for g in q.group_by]
        where = list(q.where)
        if self.as_of is not None and not q.after_as_of:
            where.append(f"{{{{ TimeDimension('metric_time', 'day') }}}} <= '{self.as_of.isoformat()}'")
        request = MetricFlowQueryRequest.create(
            metric_names=list(q.metrics),
            group_by_names=groups,
            where_constraints=where or None,
            order_by_names=list(q.order_by) or groups or None,
        )
        try:
            result = self.engine.query(request)
        except Exception as e:
            if TIME_SPINE in str(e) and "does not exist" in str(e):
                raise MetricsError(
                    f"the published marts in {self.marts} have no marts.{TIME_SPINE}, which fiscal-period queries "
                    "need: publish a build whose dbt step includes dbt_project/models/semantic; meanwhile group by "
                    "a calendar grain (month, quarter, year)"
                ) from e
            raise
        table = result.result_df
        return MetricResult(tuple(table.column_names), [tuple(r) for r in table.rows], result.sql)


def as_of_date(marts: Path) -> date | None:
    """The date the published marts describe (dim_date's as-of day); None for a file without one."""
    import duckdb

    con = duckdb.connect(str(marts), read_only=True)
    try:
        row = con.execute("SELECT max(date_day) FROM marts.dim_date WHERE is_as_of_date").fetchone()
    except duckdb.Error:  # no marts.dim_date: nothing to bound by
        return None
    finally:
        con.close()
    return row[0] if row else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bi.metrics", description=__doc__.splitlines()[0])
    ap.add_argument("query", nargs="?", help='e.g. "bookings by rep__manager_name, fiscal_quarter"')
    ap.add_argument("--marts", type=Path, help="serving file (default SALESDW_MARTS)")
    ap.add_argument(
        "--where",
        action="append",
        default=[],
        help="MetricFlow filter, e.g. \"{{ Dimension('rep__manager_name') }} = 'X'\"",
    )
    ap.add_argument(
        "--order-by", action="append", default=[], help="metric or group-by, '-' prefix for descending"
    )
    ap.add_argument("--list", action="store_true", help="list the metrics and their definitions")
    ap.add_argument(
        "--dimensions", metavar="METRICS", help="list the group-bys of these comma-separated metrics"
    )
    ap.add_argument(
        "--after-as-of", action="store_true", help="also periods after the as-of date (default: up to it)"
    )
    ap.add_argument("--sql", action="store_true", help="print the SQL MetricFlow ran")
    ap.add_argument("--json", action="store_true", help="print rows as JSON")
    args = ap.parse_args(argv)
    try:
        with MetricsClient(args.marts) as client:
            if args.list:
                for m in sorted(client.lookup.metric_lookup.metric_references, key=lambda r: r.element_name):
                    metric = client.lookup.metric_lookup.get_metric(m)
                    print(f"{metric.name:24} {' '.join((metric.description or '').split())}")
                return 0
            if args.dimensions:
                print("\n".join(client.dimensions([s.strip() for s in args.dimensions.split(",")])))
                return 0
            if not args.query:
                ap.error('give a query, e.g. "bookings by rep__manager_name, fiscal_quarter", or --list')
            q = parse_query(args.query)
            q = MetricQuery(q.metrics, q.group_by, tuple(args.where), tuple(args.order_by), args.after_as_of)
            result = client.query(q)
            if args.sql:
                print(result.sql, file=sys.stderr)
            if args.json:
                print(json.dumps(result.records(), default=str, indent=1))
            else:
                print(result.text())
                bound = (
                    ""
                    if args.after_as_of or client.as_of is None
                    else f" up to the as-of date {client.as_of}"
                )
                print(f"({len(result.rows)} rows{bound}, from {client.marts})")
            return 0
    except MetricsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

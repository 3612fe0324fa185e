"""The one verdict on a run: which findings are failures, which are warnings, what was skipped, and the headline.

``judge`` is the only place that decides. The report's headline and status, ``summary.json``'s counts and the
summary ``salesdw run`` prints all come from its ``Verdict``, so they always agree.

Failures (the run's numbers must not be used): a critical Great Expectations expectation that failed, a dbt
test that failed with severity error, a dbt unit test that failed, a dbt model that could not be built.
Warnings (use with care): a warning-level expectation or dbt test that failed, files refused or landing-zone
entries ignored in this run, rows set aside (quarantine) in this run, a source in use with nothing delivered
for longer than ``STALE_AFTER_HOURS``, BI still showing an older run although this one was not blocked.
Skipped (neither): rules that need a source that is not in use (``expectations.sources_in_use``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from expectations.report_dbt import FAILED, PASSED, WARNED
from expectations.report_facts import BLOCKED, TRUSTED, UNKNOWN, WARNING, as_datetime, source_of
from expectations.sources_in_use import SOURCE_LABELS, STALE_AFTER_HOURS

_RANK = {TRUSTED: 0, UNKNOWN: 0, WARNING: 1, BLOCKED: 2}


@dataclass(frozen=True)
class Finding:
    level: str  # blocked | warning
    where: str  # in words: "CRM (Salesforce) · Opportunity", "marts · fct_opportunities"
    text: str  # in words, for sales ops
    check: str  # a stable name for engineers: "<suite>: <expectation>", "dbt <layer>.<model>: <test>"
    count: int | None = None  # rows (or files) concerned, when known
    source: str | None = None  # the source it is about (crm, billing, activity)
    model: str | None = None  # the model it is about


@dataclass
class Verdict:
    status: str
    headline: str
    findings: list[Finding] = field(default_factory=list)
    checks_passed: int = 0
    checks_skipped: int = 0
    skipped_reasons: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.level == BLOCKED]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARNING]

    def level_of(self, *, source: str | None = None, model: str | None = None, default: str = TRUSTED) -> str:
        """The worst finding about one source or model (its status), ``default`` when there is none."""
        levels = [
            f.level for f in self.findings if (source and f.source == source) or (model and f.model == model)
        ]
        return max(levels, key=_RANK.get, default=default)

    def counts_line(self) -> str:
        """`0 failed, 1 warning; 1,204 checks passed, 26 skipped (billing not in use)`: as the report counts."""
        w = len(self.warnings)
        line = f"{len(self.failures)} failed, {w} warning{'s' if w != 1 else ''}; {self.checks_passed:,} checks passed"
        if self.checks_skipped:
            line += f", {self.checks_skipped:,} skipped ({'; '.join(self.skipped_reasons)})"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headline": self.headline,
            "failures": len(self.failures),
            "warnings": len(self.warnings),
            "checks_passed": self.checks_passed,
            "checks_skipped": self.checks_skipped,
            "skipped_reasons": self.skipped_reasons,
            "counts_line": self.counts_line(),
            "findings": [asdict(f) for f in self.findings],
        }


def published_run(
    published: dict[str, Any] | None, run_id: str | None, nothing_to_publish: bool
) -> str | None:
    """The run whose marts BI should read after `run_id`: that run, or, when it built nothing (a delta run whose
    files added no rows), the run of the file already published."""
    return (published or {}).get("run_id") if nothing_to_publish else run_id


def judge(
    *,
    run_id: str | None,
    suites: list[dict[str, Any]],
    dbt: dict[str, Any] | None,
    sources: list[dict[str, Any]],
    published: dict[str, Any] | None,
    published_checked: bool,
    now: datetime,
    nothing_to_publish: bool = False,
) -> Verdict:
    """The verdict on ``run_id`` from its suites (``report_facts.suite_summary``), dbt results
    (``report_dbt.dbt_results``), sources (``report.source_summary``) and the published file's facts."""
    findings = [*_suite_findings(suites), *_dbt_findings(dbt), *_source_findings(sources, now)]
    blocked = any(f.level == BLOCKED for f in findings)
    stale = published and run_id and published.get("run_id") != run_id and not nothing_to_publish
    if stale and not blocked:
        findings.append(
            Finding(
                WARNING,
                "BI",
                f"BI still shows the numbers of run {short(published['run_id'])} published "
                f"{fmt_time(published.get('published_at'))}: this run's marts are not published.",
                "publish: this run's marts published",
            )
        )
    findings.sort(key=lambda f: -_RANK[f.level])
    status = UNKNOWN if not run_id else max((f.level for f in findings), key=_RANK.get, default=TRUSTED)
    skipped = [x for s in suites for x in s["skipped"]]
    verdict = Verdict(
        status=status,
        headline="",
        findings=findings,
        checks_passed=_checks_passed(suites, dbt),
        checks_skipped=len(skipped),
        skipped_reasons=[
            f"{label} is not in use"
            for label in SOURCE_LABELS.values()
            if any(label in x["reason"] for x in skipped)
        ],
    )
    verdict.headline = headline(
        verdict, published, published_run(published, run_id, nothing_to_publish), published_checked
    )
    return verdict


def _suite_findings(suites: list[dict[str, Any]]) -> list[Finding]:
    out = []
    for s in suites:
        src = source_of(s["suite"])
        for f in s["failed"]:
            out.append(
                Finding(
                    BLOCKED if f["severity"] == "critical" else WARNING,
                    where(s),
                    failure_sentence(f),
                    f"{s['suite']}: {f['name']}",
                    f.get("unexpected_count"),
                    source=src,
                    model=None if src else s["table"],
                )
            )
    return out


def _dbt_findings(dbt: dict[str, Any] | None) -> list[Finding]:
    if not dbt:
        return []
    out = []
    for m in dbt["models"].values():
        if m["status"] == "error":
            out.append(
                Finding(
                    BLOCKED,
                    f"{m['layer']} · {m['model']}",
                    f"The model could not be built: {m['message'] or 'see the dbt log'}.",
                    f"dbt {m['layer']}.{m['model']}: build",
                    model=m["model"],
                )
            )
    layers = {name: m["layer"] for name, m in dbt["models"].items()}
    for t in dbt["tests"]:
        if t["status"] not in (*FAILED, *WARNED):
            continue
        model = t["models"][0] if t["models"] else None
        layer = layers.get(model or "", "dbt")
        level = WARNING if t["status"] in WARNED else BLOCKED
        out.append(
            Finding(
                level,
                f"{layer} · {model}" if model else "dbt",
                dbt_test_sentence(t),
                f"dbt {layer}.{model}: {t['name']}" if model else f"dbt: {t['name']}",
                t.get("failures"),
                model=model,
            )
        )
    return out


def _source_findings(sources: list[dict[str, Any]], now: datetime) -> list[Finding]:
    out = []
    for src in sources:
        if not src["in_use"]:
            continue

        key = src["source"]

        def warn(text: str, check: str, n: int | None = None, src: dict[str, Any] = src) -> None:
            out.append(Finding(WARNING, src["label"], text, check, n, source=src["source"]))

        if n := len(src["refused_files"]):
            warn(
                f"{n} delivered file{'s' if n > 1 else ''} could not be read and {'were' if n > 1 else 'was'} "
                f"refused; {'their' if n > 1 else 'its'} records are missing until the file is delivered again.",
                f"load {key}: refused files",
                n,
            )
        if n := len(src["ignored_files"]):
            warn(
                f"{n} entr{'ies' if n > 1 else 'y'} in the landing zone {'were' if n > 1 else 'was'} not loaded "
                "(not a file of the source contract); the list below says why.",
                f"load {key}: ignored landing-zone entries",
                n,
            )
        if n := src["rows_quarantined_run"]:
            warn(
                f"{n:,} record{'s' if n > 1 else ''} set aside in this run (quarantine): missing from the "
                "numbers until corrected at the source.",
                f"load {key}: quarantined rows",
                n,
            )
        if (stale := stale_hours(src.get("last_delivery"), now)) is not None:
            warn(
                f"Nothing new delivered for {_duration(stale)} (last delivery {fmt_time(src['last_delivery'])}): "
                "today's numbers may miss recent changes in this source.",
                f"freshness {key}: a delivery within {STALE_AFTER_HOURS} hours",
            )
    return out


def stale_hours(last_delivery: Any, now: datetime) -> float | None:
    """Hours since a source's last delivery when that is more than STALE_AFTER_HOURS, else None."""
    if not last_delivery:
        return None
    then = as_datetime(last_delivery)
    if then.year == 1:
        return None
    hours = (now - then).total_seconds() / 3600
    return hours if hours > STALE_AFTER_HOURS else None


def _checks_passed(suites: list[dict[str, Any]], dbt: dict[str, Any] | None) -> int:
    passed = sum(s["passed"] for s in suites)
    if dbt:
        passed += sum(1 for t in dbt["tests"] if t["status"] in PASSED)
        passed += sum(
            1 for m in dbt["models"].values() if m["contract_enforced"] and m["status"] == "success"
        )
    return passed


# --------------------------------------------------------------------------- words


def headline(verdict: Verdict, published: dict | None, run_id: str | None, checked: bool) -> str:
    status, warnings, blocked = verdict.status, len(verdict.warnings), len(verdict.failures)
    if status == UNKNOWN:
        return "No data-quality checks have run yet"
    if status == TRUSTED:
        return "Today's numbers can be trusted"
    if status == WARNING:
        return f"Use with care: {warnings} warning{'s' if warnings != 1 else ''}"
    problems = f"{blocked} critical problem{'s' if blocked != 1 else ''}"
    if published and published.get("run_id") and published.get("run_id") != run_id:
        return f"Blocked by {problems}: BI still shows the numbers published {fmt_time(published.get('published_at'))}"
    if checked and not published:
        return f"Blocked by {problems}: no numbers have been published to BI yet"
    return f"Blocked by {problems}: today's numbers were not published"


def where(s: dict[str, Any]) -> str:
    src = source_of(s["suite"])
    if src:
        return f"{SOURCE_LABELS.get(src, src)} · {s['object']}"
    return f"{s['layer']} · {s['table']}"


def failure_sentence(f: dict[str, Any]) -> str:
    desc = f["description"].rstrip(".")
    if f.get("error"):
        return f"{desc}: could not be checked ({f['error']})."
    n = f.get("unexpected_count")
    if isinstance(n, int):
        total = f.get("element_count")
        of = f" of {total:,}" if isinstance(total, int) and total else ""
        text = f"{desc}: {n:,}{of} record{'s' if n != 1 else ''} do{'es' if n == 1 else ''} not"
    elif f.get("observed_value") is not None:
        text = f"{desc}: found {f['observed_value']}"
    else:
        text = f"{desc}: not met"
    if f.get("sample_ids"):
        text += f" (e.g. {', '.join(f['sample_ids'][:3])})"
    return text + "."


def dbt_test_sentence(t: dict[str, Any]) -> str:
    what = "dbt unit test" if t["kind"] == "unit" else "dbt test"
    if t["status"] == "error":
        return f"{what} {t['name']} could not run: {t.get('message') or 'see the dbt log'}."
    n = t.get("failures")
    rows = f"{n:,} row{'s' if n != 1 else ''} fail{'s' if n == 1 else ''}" if isinstance(n, int) else "failed"
    return f"{what} {t['name']}: {rows}."


def short(run_id: str | None) -> str:
    if not run_id:
        return "?"
    return run_id[:8] if len(run_id) > 12 else run_id


def fmt_time(v: Any) -> str:
    if not v:
        return "never"
    d = as_datetime(v)
    if d.year == 1:
        return str(v)
    return d.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _duration(hours: float) -> str:
    if hours < 48:
        return f"{int(hours)} hours"
    return f"{int(hours // 24)} days"

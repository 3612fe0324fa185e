"""Great Expectations suites as Dagster asset checks: one blocking gate per gated table."""

import dagster as dg

from ingestion.settings import Settings
from orchestration.defs.resources import WRITER_POOL, takes_turns
from orchestration.selection import pipeline_run_id
from orchestration.targets import Target

MAX_SAMPLE_ROWS = 5  # per failed expectation, in the check's metadata (the report keeps 20)


def check_result_from_suite(result, report_path: str) -> dg.AssetCheckResult:
    """A suite's outcome as a check result: critical failures fail with ERROR (blocking downstream),
    warnings alone fail with WARN (reported, not blocking)."""
    failed = result.failures
    severity = dg.AssetCheckSeverity.ERROR if result.critical_failures else dg.AssetCheckSeverity.WARN
    metadata = {
        "expectations": len(result.results),
        "critical_failures": len(result.critical_failures),
        "warnings": len(result.warnings),
        "report": dg.MetadataValue.path(report_path),
        "failed_expectations": dg.MetadataValue.md(
            "\n".join(f"- **{r.severity}** {r.name}: {r.summary()}" for r in failed) or "none"
        ),
        "samples": dg.MetadataValue.json(
            {
                r.name: {"unexpected_count": r.unexpected_count, "rows": r.sample[:MAX_SAMPLE_ROWS]}
                for r in failed
            }
        ),
        "seconds": round(result.duration_seconds, 2),
    }
    return dg.AssetCheckResult(
        passed=not failed,
        severity=severity,
        description=None
        if not failed
        else "; ".join(
            f"{r.name} ({r.unexpected_count if r.unexpected_count is not None else 'error'})" for r in failed
        )[:1000],
        metadata=metadata,
    )


def suite_check(asset_key: dg.AssetKey, suite_name: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key,
        name="ge_suite",
        blocking=True,
        pool=WRITER_POOL,
        description=f"Great Expectations suite {suite_name}: {description}",
    )
    @takes_turns
    def _check(
        context: dg.AssetCheckExecutionContext,
        settings: dg.ResourceParam[Settings],
        target: dg.ResourceParam[Target],
    ) -> dg.AssetCheckResult:
        from expectations.runner import validate
        from expectations.store import save_result
        from expectations.suites import all_suites

        suite = all_suites()[suite_name]
        result = validate(target.suite_source(suite_name.split(".", 1)[0]), suite)
        path = save_result(settings.report_dir, pipeline_run_id(context.run), result)
        for r in result.failures:
            (context.log.error if r.blocking else context.log.warning)(f"{suite_name}: {r.summary()}")
        return check_result_from_suite(result, str(path))

    return _check

"""The run summary names each failed check and why it failed, on one line a check."""

from __future__ import annotations

from expectations.report_verdict import BLOCKED, Verdict, _dbt_findings
from ingestion.settings import Settings
from orchestration.runner import REASON_CHARS, RunSummary

# A dbt error of two lines, of the kind a failed Thrift session close gives after the model was built
DBT_ERROR = (
    "Unhandled error while executing target/run/salesdw/models/marts/core/dim_date.sql\n"
    "TCloseSessionResp(status=TStatus(statusCode=3, errorMessage='java.lang.NoClassDefFoundError: "
    "org/apache/hadoop/hive/llap/security/LlapSigner$Signable'))"
)


def _summary(message: str) -> RunSummary:
    dbt = {"models": {"dim_date": {"status": "error", "layer": "marts", "model": "dim_date", "message": message}},
           "tests": []}  # fmt: skip
    verdict = Verdict(BLOCKED, "Blocked by 1 critical problem", _dbt_findings(dbt))
    return RunSummary(run_id="eec4e799-04be", success=False, seconds=229.2, verdict=verdict.as_dict())


def test_a_failed_build_shows_dbts_error_under_its_check():
    lines = _summary(DBT_ERROR).render(Settings.from_env({})).splitlines()
    at = lines.index("  FAILED  dbt marts.dim_date: build")
    reason = lines[at + 1]
    assert reason.startswith("          The model could not be built: Unhandled error while executing ")
    assert "dim_date.sql TCloseSessionResp(" in reason  # dbt's two lines joined into one
    assert reason.endswith("LlapSigner$Signable')).")


def test_a_long_reason_is_cut_to_its_limit():
    lines = _summary("x" * 5000).render(Settings.from_env({})).splitlines()
    reason = lines[lines.index("  FAILED  dbt marts.dim_date: build") + 1].strip()
    assert len(reason) == REASON_CHARS and reason.endswith("x…")

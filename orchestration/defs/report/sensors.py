"""Rebuild the report when a loading or building run ends, whether it succeeded or failed."""

import dagster as dg

from orchestration.defs.jobs import full_pipeline, load_raw
from orchestration.defs.report.assets import report_job


def _request(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    run_id = context.dagster_run.run_id
    return dg.RunRequest(run_key=f"report-{run_id}", tags={"salesdw/report_for_run": run_id})


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[full_pipeline, load_raw],
    request_job=report_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a successful pipeline or load run, rebuild the data-quality report.",
)
def report_after_success(context: dg.RunStatusSensorContext):
    return _request(context)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.FAILURE,
    monitored_jobs=[full_pipeline, load_raw],
    request_job=report_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a failed pipeline or load run (e.g. a blocking gate), rebuild the report: that is when sales ops need it.",
)
def report_after_failure(context: dg.RunStatusSensorContext):
    return _request(context)

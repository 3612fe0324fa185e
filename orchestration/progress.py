"""A compact Dagster logger for `salesdw run`: one line per finished step, failures with their reason."""

from __future__ import annotations

import logging
import sys
import time

import dagster as dg

_QUIET_EVENTS = {
    "STEP_START",
    "STEP_OUTPUT",
    "HANDLED_OUTPUT",
    "LOADED_INPUT",
    "STEP_INPUT",
    "ASSET_MATERIALIZATION_PLANNED",
}


def failure_message(event) -> str:
    """One line from a STEP_FAILURE event: the cause's message (below Dagster's own wrapper, "Error occurred
    while executing op ..."), without its class name when it is one of ours, whitespace folded, capped."""
    data = event.event_specific_data
    err = data.error if data else None
    if err is None:
        return "unknown error"
    while err.cause is not None and err.cls_name and err.cls_name.startswith("Dagster"):
        err = err.cause
    text = err.message
    prefix = f"{err.cls_name}: "  # Dagster writes "module.Class: message"
    if err.cls_name in _OWN_ERRORS and prefix in text.split("\n", 1)[0]:
        text = text.split(prefix, 1)[1]
    return " ".join(text.split())[:500]


# Errors whose message is written for the operator (names the file or path, the cause and the fix).
_OWN_ERRORS = {
    "WarehouseError",
    "WarehouseLockedError",
    "WarehouseWriteError",
    "LandingError",
    "ConnectorError",
}


class ProgressHandler(logging.Handler):
    def __init__(self, stream=None):
        super().__init__(logging.DEBUG)  # Dagster's structured events arrive at DEBUG
        self.stream = stream or sys.stdout
        self.started = time.perf_counter()

    def _say(self, text: str) -> None:
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"[{int(elapsed // 60):02d}:{elapsed % 60:04.1f}] {text}\n")
        self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            # Messages our assets log themselves (files loaded, refusals): show info and above.
            if record.levelno >= logging.INFO and step:
                self._say(f"  {step}: {meta.get('orig_message', record.getMessage())}")
            return
        kind = event.event_type_value
        if kind == "STEP_SUCCESS":
            secs = (event.event_specific_data.duration_ms or 0) / 1000
            self._say(f"done   {step} ({secs:.1f}s)")
        elif kind == "STEP_FAILURE":
            self._say(f"FAILED {step}: {failure_message(event)}")
        elif kind == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            if not ev.passed:
                level = "warning" if ev.severity == dg.AssetCheckSeverity.WARN else "CHECK FAILED"
                self._say(f"{level} {ev.asset_key.to_user_string()}:{ev.check_name}")
        elif kind == "STEP_SKIPPED":
            self._say(f"skipped {step} (an upstream step or blocking check failed)")


@dg.logger(description="One line per finished step, for the salesdw command line.")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    lg = logging.Logger("salesdw.progress", level=logging.DEBUG)
    lg.addHandler(ProgressHandler())
    return lg

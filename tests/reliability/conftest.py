"""Reliability suite: the figures each test records are printed at the end of the pytest run.

`SALESDW_SOAK=1` turns on the long runs (every kill point of the full pipeline); without it only a
small subset runs, so `make test` stays within a few minutes.
"""

from __future__ import annotations

import os
import pickle
from collections import Counter
from pathlib import Path

import pytest

from tests.warehouses import built_once

FIGURES: Counter[str] = Counter()
NOTES: list[str] = []

SOAK = os.environ.get("SALESDW_SOAK", "") not in ("", "0")
soak = pytest.mark.skipif(not SOAK, reason="soak run: set SALESDW_SOAK=1 (make test-reliability SOAK=1)")


BIG = "activity/events/2099-01-01T000000_9999_reexport.jsonl"  # a re-export: seconds to load, no new data


@pytest.fixture(scope="session")
def pipeline_landing(tmp_path_factory) -> Path:
    """The demo landing zone (scale 0.05) plus one large file (every event again, 5 times): a re-export
    that takes seconds to load, so a kill can land in the middle of a file load, and changes nothing.
    Made once per pytest run (every worker reads the same folder; the loader never writes the landing zone)."""
    from ingestion.demo.generator import generate

    def build(folder: Path) -> None:
        root = folder / "landing"
        generate(root, scale=0.05, seed=7)
        body = b"".join(p.read_bytes() for p in sorted((root / "activity/events").glob("*.jsonl")))
        (root / BIG).write_bytes(body * 5)

    return built_once(tmp_path_factory, "pipeline_landing", build) / "landing"


@pytest.fixture(scope="session")
def pipeline_reference(pipeline_landing, tmp_path_factory) -> dict:
    """One uninterrupted `salesdw run` (a subprocess with planted fake secrets in its environment): the
    state every killed-then-rerun pipeline must reach, its serving file (the scenarios' 'previous good
    publication'), and everything it wrote or printed, for the secret scan. Run once per pytest run; the
    workers read its folder and the figures it saved."""
    from tests.reliability.support import env_for, marts_state, run_to_end, warehouse_state

    def build(root: Path) -> None:
        env = env_for(root, pipeline_landing)
        proc = run_to_end(env)
        marts = Path(env["SALESDW_MARTS"])
        reference = {
            "output": proc.lines,
            "warehouse": warehouse_state(Path(env["SALESDW_WAREHOUSE"])),
            "marts": marts_state(marts),
            "marts_file": marts,
        }
        (root / REFERENCE).write_bytes(pickle.dumps(reference))

    root = built_once(tmp_path_factory, "pipeline_reference", build)
    return {"root": root, **pickle.loads((root / REFERENCE).read_bytes())}


REFERENCE = "reference.pickle"  # beside the run's own files: the secret scan reads it too, and it holds none

CLASS_TITLES = {
    "names": "1 file names are data",
    "incomplete_lists": "2 incomplete nested lists",
    "redelivery": "3 a name delivered again",
    "internal_names": "4 columns named like the loader's",
    "odd_entries": "5 one odd entry never stops the load",
    "skipped_silently": "6 nothing skipped silently",
    "values": "7 values read as the standard says",
    "warehouse_path": "8 a bad warehouse path",
    "deleted_stubs": "9 Stripe deletion stubs",
}
CLASS_ORDER = list(CLASS_TITLES)


def record(**counts: int) -> None:
    FIGURES.update(counts)


def print_figures(terminalreporter) -> None:
    """The figures at the end of the run (tests/conftest.py calls this, on the controller under pytest-xdist)."""
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section("salesdw reliability figures")
    groups = {
        "bad-input corpus": (
            "corpus_tried",
            "corpus_refused",
            "corpus_quarantined",
            "corpus_loaded",
            "corpus_rows_in",
            "corpus_rows_quarantined",
            "corpus_lost",
        ),
        "delivery order": (
            "deliveries_duplicate",
            "deliveries_out_of_order",
            "deliveries_late",
            "deliveries_absorbed",
            "deliveries_lost_versions",
        ),
        "kill -9": ("kill_points_tried", "kill_points_survived"),
        "environment faults": ("env_faults_tried", "env_faults_survived"),
        "security": ("security_checks_tried", "security_checks_passed"),
    }
    for title, keys in groups.items():
        shown = [f"{k.split('_', 1)[1]}={FIGURES[k]}" for k in keys if k in FIGURES]
        if shown:
            tr.write_line(f"{title:<20} " + "  ".join(shown))
    # test_landing_classes.py: one line per class of odd landing-zone input (docs/reliability.md)
    classes = sorted({k.split(":")[1] for k in FIGURES if k.startswith("class:")}, key=CLASS_ORDER.index)
    if classes:
        tr.write_line("landing-zone classes (cases held / files and entries checked / records counted)")
    for c in classes:
        f = {k.split(":")[2]: v for k, v in FIGURES.items() if k.startswith(f"class:{c}:")}
        tr.write_line(
            f"  {CLASS_TITLES[c]:<40} cases={f.get('cases', 0)}  files={f.get('files', 0)}"
            + (f"  entries={f['entries']}" if f.get("entries") else "")
            + f"  records={f.get('rows_in', 0)}"
        )
    for note in NOTES:
        tr.write_line(f"  {note}")

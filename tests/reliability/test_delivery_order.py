"""Delivery order does not change the current state: duplicates, reversed, shuffled and late batches.

The demo landing zone (every object, several batches each, records updated across batches) is
delivered file by file in different orders into fresh warehouses; every `raw.*__current` table must
equal the one a single in-order load gives, and the history must keep every version (key, content)
that load keeps. A late record older than the loaded cursor on a versioned object is pinned by
tests/integration/test_loader.py::test_newer_versions_supersede_and_soft_deletes_are_flagged.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from ingestion.contract import BY_TABLE, OBJECTS, object_for
from ingestion.demo.generator import generate
from ingestion.loader import Loader, load_landing
from ingestion.warehouse import connect, quote_ident, raw_columns
from tests.conftest import write
from tests.reliability.conftest import record

SCALE = 0.05
LOAD_META = {"_load_id", "_loaded_at", "_source_file", "_batch", "_row_number"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, list[str]]:
    src = tmp_path_factory.mktemp("demo") / "landing"
    generate(src, scale=SCALE, seed=7)
    files = sorted(
        p.relative_to(src).as_posix()
        for p in src.rglob("*")
        if p.is_file() and object_for(*p.relative_to(src).parts[:2]) is not None
    )
    return src, files


def _state(con) -> tuple[dict, dict]:
    """Per object: the current table's rows (content only: which file a repeated version was first
    stored from may differ by order) and the set of (key, content hash) versions kept in history."""
    current, history = {}, {}
    for obj in OBJECTS:
        cols = [c for c in raw_columns(obj) if c not in LOAD_META]
        sel = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c in cols)
        current[obj.table] = con.execute(
            f'SELECT {sel} FROM raw."{obj.table}__current" ORDER BY ALL'
        ).fetchall()
        history[obj.table] = set(
            con.execute(f'SELECT {quote_ident(obj.key)}, _record_hash FROM raw."{obj.table}"').fetchall()
        )
    return current, history


def _deliver(src: Path, root: Path, deliveries: list[tuple[str, str]]) -> tuple[dict, dict]:
    """Copy each (source file, delivered name) into an empty landing zone and load after each one."""
    landing = root / "landing"
    con = connect(root / "w.duckdb")
    try:
        loader = Loader(con, landing)
        for rel, name in deliveries:
            target = landing / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, target)
            loader.load_object(object_for(*name.split("/")[:2]))
        return _state(con)
    finally:
        con.close()


@pytest.fixture(scope="module")
def reference(demo, tmp_path_factory):
    src, _ = demo
    root = tmp_path_factory.mktemp("reference")
    con = connect(root / "w.duckdb")
    load_landing(con, src)
    state = _state(con)
    con.close()
    assert all(state[0][o.table] for o in OBJECTS)
    return state


def _renamed(rel: str, suffix: str) -> str:
    p = Path(rel)
    return (p.parent / f"{p.stem}{suffix}{p.suffix}").as_posix()


def _scenarios(files: list[str]) -> dict[str, tuple[list[tuple[str, str]], dict[str, int]]]:
    """name -> (deliveries, figures). Figures count the deliveries each scenario must absorb."""
    in_order = [(f, f) for f in files]
    shuffled = list(in_order)
    random.Random(7).shuffle(shuffled)
    firsts = {}
    for f in files:  # the oldest batch of each object, held back and delivered after all the others
        firsts.setdefault(f.rsplit("/", 1)[0], f)
    late = [(f, f) for f in files if f not in firsts.values()] + [(f, f) for f in firsts.values()]
    twice = [d for f in files for d in ((f, f), (f, f), (f, _renamed(f, "_redelivered")))]
    out_of_order = lambda order: sum(a[0] > b[0] for a, b in zip(order, order[1:], strict=False))  # noqa: E731
    return {
        "reversed": (in_order[::-1], {"deliveries_out_of_order": len(files) - 1}),
        "shuffled": (shuffled, {"deliveries_out_of_order": out_of_order(shuffled)}),
        "late": (late, {"deliveries_late": len(firsts)}),
        "duplicated": (twice, {"deliveries_duplicate": 2 * len(files)}),
    }


@pytest.mark.parametrize("scenario", ["reversed", "shuffled", "late", "duplicated"])
def test_delivery_order_gives_the_in_order_current_state_and_keeps_every_version(
    scenario, demo, reference, tmp_path
):
    src, files = demo
    deliveries, figures = _scenarios(files)[scenario]
    current, history = _deliver(src, tmp_path, deliveries)
    ref_current, ref_history = reference
    for obj in OBJECTS:
        assert current[obj.table] == ref_current[obj.table], f"raw.{obj.table}__current differs ({scenario})"
    lost = sum(len(ref_history[t] - history[t]) for t in ref_history)
    extra = sum(len(history[t] - ref_history[t]) for t in ref_history)
    assert (lost, extra) == (0, 0)
    record(
        **figures,
        deliveries_absorbed=sum(figures.values()),
        deliveries_lost_versions=lost,
    )


def _sub(status: str, cancel_at_period_end: bool = False) -> str:
    rec = {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "created": 1704067200,
        "start_date": 1704067200,
        "currency": "usd",
        "cancel_at_period_end": cancel_at_period_end,
        "items": {"object": "list", "data": [], "has_more": False},
    }
    return json.dumps(rec) + "\n"


@pytest.mark.parametrize("order", ["in_order", "reversed"])
def test_an_unversioned_record_that_returns_to_an_earlier_content_is_current_again(tmp_path, order):
    """Stripe subscriptions carry no version stamp: the latest batch wins. A subscription set to cancel
    and then un-cancelled is byte for byte what it was two batches ago; that must not leave the
    cancelling version current (it would if the repeat were skipped as 'already stored')."""
    batches = [
        ("billing/subscriptions/2025-01-01_b1.jsonl", _sub("active")),
        ("billing/subscriptions/2025-02-01_b2.jsonl", _sub("active", cancel_at_period_end=True)),
        ("billing/subscriptions/2025-03-01_b3.jsonl", _sub("active")),
    ]
    con = connect(tmp_path / "w.duckdb")
    for rel, body in batches if order == "in_order" else batches[::-1]:
        write(tmp_path / "landing", rel, body)
        load_landing(con, tmp_path / "landing", objects=[BY_TABLE["billing__subscription"]])
    current = con.execute(
        "SELECT cancel_at_period_end, _batch FROM raw.billing__subscription__current"
    ).fetchall()
    assert current == [("false", "2025-03-01_b3")]
    # every delivered version is in history, the repeated one included
    assert con.execute("SELECT count(*) FROM raw.billing__subscription").fetchone()[0] == 3
    con.close()
    record(deliveries_absorbed=1, deliveries_out_of_order=int(order == "reversed"))

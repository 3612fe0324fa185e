"""Entry point of the demo-data generator: `generate(out_dir, scale, seed, dirty)` writes a landing zone."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..sources import stripe_versions
from . import _activity, _billing, _crm, _dirty
from ._common import QUARTER_CUTS, Writer


def generate(
    out_dir: Path,
    scale: float = 1.0,
    seed: int = 7,
    dirty: bool = False,
    stripe_api_version: str = stripe_versions.CURRENT,
) -> dict:
    """Write the demo landing zone (crm/, billing/, activity/) under `out_dir`.

    Billing objects are in the shape Stripe answers in for `stripe_api_version` (the connector's default: the
    current one); every version describes the same account, so the marts do not depend on it.
    Returns {relative file path: record count}. The same (scale, seed, dirty, version) always yields
    byte-identical files. With `dirty`, known defects are injected and listed in dirty_manifest.jsonl.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    stripe_api_version = stripe_versions.check(stripe_api_version)
    out = Path(out_dir)
    for sub in ("crm", "billing", "activity", "dirty_manifest.jsonl"):
        # stale files from an earlier run would silently become extra batches
        target = out / sub
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    w = Writer(out)
    try:
        crm = _crm.build(scale, seed, lambda obj, table: w.crm_object(obj, table, QUARTER_CUTS))
        _billing.build_and_write(w, crm, seed, scale, stripe_api_version)
        _activity.build_and_write(w, crm, seed, scale)
    finally:
        w.con.close()
    summary = dict(sorted(w.summary.items()))
    if dirty:
        summary = _dirty.inject(out, summary, seed)
    return summary

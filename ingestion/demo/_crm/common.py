"""What every CRM module uses: the table of versions an object is emitted as, and when reps do their work."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from ...contract import object_for
from .._common import HOUR, QUARTER_CUTS, arr, batch_index, keep_last_per_batch

# Receives each CRM object's version table (`versions`) as soon as it is built: (object name, table).
Emit = Callable[[str, pa.Table], None]


def versions(obj: str, columns: dict, key: np.ndarray, ts: np.ndarray) -> pa.Table:
    """The latest version per record per quarterly batch, with its batch index, in the contract's field order.

    `columns` maps every contract field of `obj` to its values, one per version (aligned with `key`, `ts`),
    or to (values, null mask).
    """
    fields = [f.name for f in object_for("crm", obj).fields]
    if set(columns) != set(fields):
        raise ValueError(
            f"{obj}: fields {sorted(set(columns) ^ set(fields))} differ from ingestion/contract.py"
        )
    b = batch_index(ts, QUARTER_CUTS)
    keep = keep_last_per_batch(key, ts, b)
    cols = {}
    for name in fields:
        values, mask = columns[name] if isinstance(columns[name], tuple) else (columns[name], None)
        v = values[keep] if isinstance(values, np.ndarray) else values
        m = mask[keep] if isinstance(mask, np.ndarray) else None
        cols[name] = arr(v, m)
    cols["_batch"] = pa.array(b[keep])
    return pa.table(cols)


def sample_rep_days(rng, weights: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` (rep, day) cells drawn in proportion to `weights` (rep x day)."""
    flat = weights.ravel()
    cum = np.cumsum(flat)
    pos = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    pos = np.minimum(pos, len(flat) - 1)
    return pos // weights.shape[1], pos % weights.shape[1]


def business_time(rng, day_ts: np.ndarray, utc_offset_h: np.ndarray) -> np.ndarray:
    """A working-hours instant (local 08:00-18:00) on the given UTC day, as UTC seconds."""
    local = rng.integers(8 * HOUR, 18 * HOUR, size=len(day_ts))
    return day_ts + local - utc_offset_h.astype(np.int64) * HOUR

"""Shared helpers of the demo generator: the fixed calendar, id minting, vectorised time maths, file writing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..contract import SourceObject, object_for

DAY = 86_400
HOUR = 3_600


def ts_of(s: str) -> int:
    """Unix seconds of a UTC ISO date/datetime string."""
    return int(np.datetime64(s, "s").astype(np.int64))


# The demo world is pinned to a fixed two-year window so that output never depends on the wall clock.
SPAN_START = ts_of("2024-01-01")
SPAN_END = ts_of("2026-01-01")  # exclusive: the last instant is 2025-12-31T23:59:59Z
N_DAYS = (SPAN_END - SPAN_START) // DAY


def _month_starts(first: str, n: int) -> np.ndarray:
    m0 = np.datetime64(first, "M")
    return (m0 + np.arange(n)).astype("datetime64[s]").astype(np.int64)


# CRM and billing arrive as an initial full extract followed by quarterly deltas; activity monthly.
# A cut is the extraction instant: a batch holds the latest version (before the cut) of every record
# that was created or changed since the previous cut.
QUARTER_CUTS = _month_starts("2024-04", 22)[::3]  # 2024-04-01 ... 2026-01-01, 8 cuts
MONTH_CUTS = _month_starts("2024-02", 24)  # 2024-02-01 ... 2026-01-01, 24 cuts


def batch_name(cut: int, seq: int = 1) -> str:
    """Chronologically sortable batch name, e.g. 2026-01-01T000000_0001."""
    s = str(np.datetime64(int(cut), "s"))
    return f"{s.replace(':', '')}_{seq:04d}"


def batch_index(ts: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Index of the first cut strictly after each timestamp."""
    return np.searchsorted(cuts, ts, side="right")


def rng_for(seed: int, stream: int) -> np.random.Generator:
    # One independent stream per concern, so adding draws in one module does not reshuffle the others.
    return np.random.default_rng([seed, stream])


# --------------------------------------------------------------------------- ids

_B62 = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
_SF_SUFFIX = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"))


def _fixed_chars(codes: np.ndarray) -> np.ndarray:
    """(n, w) array of base-62 digit codes -> n strings of width w."""
    n, w = codes.shape
    chars = np.ascontiguousarray(_B62[codes])
    return chars.view(f"<U{w}").reshape(n)


def base62(values: np.ndarray, width: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.int64).copy()
    codes = np.empty((len(v), width), dtype=np.int64)
    for i in range(width - 1, -1, -1):
        codes[:, i] = v % 62
        v //= 62
    return _fixed_chars(codes)


def sf_ids(prefix: str, counters: np.ndarray) -> np.ndarray:
    """18-character Salesforce ids: key prefix + pod + counter, plus the real case-checksum suffix."""
    body = np.char.add(prefix + "5g0000", base62(counters, 6))  # 3 + 6 + 6 = 15 characters
    n = len(body)
    codes = np.ascontiguousarray(body).view(np.uint32).reshape(n, 15)
    upper = ((codes >= 65) & (codes <= 90)).reshape(n, 3, 5).astype(np.int64)
    bits = (upper * (1 << np.arange(5))).sum(axis=2)
    suffix = np.ascontiguousarray(_SF_SUFFIX[bits]).view("<U3").reshape(n)
    return np.char.add(body, suffix)


def stripe_ids(prefix: str, rng: np.random.Generator, n: int, width: int = 14) -> np.ndarray:
    # Random like Stripe's; a collision among 62^14 values is not a practical concern.
    return np.char.add(prefix, _fixed_chars(rng.integers(0, 62, size=(n, width))))


# --------------------------------------------------------------------------- time maths


def add_months(ts: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Add calendar months, clamping the day to the month's end (Stripe's billing-anchor rule)."""
    t = np.asarray(ts, dtype=np.int64).astype("datetime64[s]")
    day = t.astype("datetime64[D]")
    m = t.astype("datetime64[M]")
    dom = (day - m.astype("datetime64[D]")).astype(np.int64)
    tod = (t - day.astype("datetime64[s]")).astype(np.int64)
    m2 = m + np.asarray(months, dtype=np.int64)
    dim = ((m2 + 1).astype("datetime64[D]") - m2.astype("datetime64[D]")).astype(np.int64)
    d2 = m2.astype("datetime64[D]") + np.minimum(dom, dim - 1)
    return d2.astype("datetime64[s]").astype(np.int64) + tod


def day_of(ts: np.ndarray) -> np.ndarray:
    """Days since the epoch (what the CSV writer renders as YYYY-MM-DD)."""
    return np.floor_divide(np.asarray(ts, dtype=np.int64), DAY)


def quarter_start(ts: np.ndarray) -> np.ndarray:
    m = np.asarray(ts, dtype=np.int64).astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return (m - m % 3).astype("datetime64[M]").astype("datetime64[s]").astype(np.int64)


def weekday(ts: np.ndarray) -> np.ndarray:
    """0 = Monday."""
    return (day_of(ts) + 3) % 7


def strictly_increasing(group: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Nudge timestamps (sorted by group, then time) so each group's are strictly increasing.

    Salesforce history rows are ordered by CreatedDate; equal stamps would make 'the last row' ambiguous.
    """
    i = np.arange(len(ts), dtype=np.int64)
    big = np.int64(1) << 34
    key = ts - i + group.astype(np.int64) * big
    return np.maximum.accumulate(key) - group.astype(np.int64) * big + i


def ffill_index(has: np.ndarray) -> np.ndarray:
    """Index of the last row at or before each row where `has` is true (the first row must have it)."""
    idx = np.where(has, np.arange(len(has)), 0)
    return np.maximum.accumulate(idx)


def keep_last_per_batch(key: np.ndarray, ts: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Row indices, in (key, batch) order, of the latest version of each record within each batch."""
    order = np.lexsort((ts, batch, key))
    k, b = key[order], batch[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (k[1:] != k[:-1]) | (b[1:] != b[:-1])
    return order[last]


def pick(rng: np.random.Generator, options: list, p: list[float], n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=np.asarray(p) / sum(p))]


def arr(values, mask: np.ndarray | None = None, type_=None) -> pa.Array:
    """numpy -> arrow, with `mask` marking nulls."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        values = values.astype(object)
    return pa.array(values, mask=mask, type=type_, from_pandas=False)


# --------------------------------------------------------------------------- writing

# How the generator stores each contract type, and how the Salesforce Bulk API CSV dialect renders it.
# Decimals are kept as integer hundredths (money and quantities stay exact to the cent), except the
# percentages below, which are whole numbers and written without decimals; conversion rates as integer
# millionths.
WHOLE_NUMBER_DECIMALS = frozenset({"Probability", "DefaultProbability"})
_CSV_RENDER = {
    "str": "{c}",
    "bool": "{c}",
    "int": "{c}",
    "datetime": "strftime(make_timestamp({c} * 1000000), '%Y-%m-%dT%H:%M:%S.000Z')",
    "date": "(DATE '1970-01-01' + CAST({c} AS INTEGER))",
    "decimal": "CAST({c} / 100 AS DECIMAL(18, 2))",
    "rate": "CAST({c} / 1000000 AS DECIMAL(18, 6))",
}


def csv_select(obj: SourceObject) -> str:
    """The SELECT list writing `obj`'s fields in the contract's order, each rendered for the CSV."""
    kinds = [(f.name, "int" if f.name in WHOLE_NUMBER_DECIMALS else f.type) for f in obj.fields]
    return ", ".join(_CSV_RENDER[kind].format(c=f'"{name}"') + f' AS "{name}"' for name, kind in kinds)


def json_select(obj: SourceObject, exprs: dict[str, str], order: list[str] | None = None) -> str:
    """The SELECT list writing the fields of `obj` that `exprs` maps to SQL, in the contract's order (or `order`).

    Every field must be the contract's and every required one present, so a renamed or new required field
    fails here rather than in a loader downstream.
    """
    names = [f.name for f in obj.fields]
    unknown = sorted(set(exprs) - set(names))
    missing = sorted(f.name for f in obj.fields if f.required and f.name not in exprs)
    if unknown or missing:
        raise ValueError(
            f"{obj.table}: fields {unknown} are not in ingestion/contract.py, required {missing} missing"
        )
    return ", ".join(f"{exprs[n]} AS {n}" for n in (order or names) if n in exprs)


class Writer:
    """Writes landing files through DuckDB (streamed, vectorised) and records row counts."""

    def __init__(self, out_dir: Path):
        self.out = Path(out_dir)
        self.con = duckdb.connect()
        # Order of output rows is fixed by ORDER BY; these keep memory bounded at large scales.
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET enable_progress_bar = false")
        self.summary: dict[str, int] = {}

    def copy(self, rel: str, sql: str, fmt: str) -> int:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        opts = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT json"
        lit = str(path).replace("'", "''")
        n = self.con.execute(f"COPY ({sql}) TO '{lit}' ({opts})").fetchone()[0]
        self.summary[rel] = int(n)
        return int(n)

    def crm_object(self, obj: str, table: pa.Table, cuts: np.ndarray) -> None:
        """One CSV per non-empty batch of a CRM object; `table` carries its fields plus an integer `_batch`."""
        name = f"_crm_{obj}"
        self.con.register(name, table)
        cols = csv_select(object_for("crm", obj))
        counts = np.bincount(table.column("_batch").to_numpy(), minlength=len(cuts))
        for b, cut in enumerate(cuts):
            if counts[b]:
                sql = f'SELECT {cols} FROM {name} WHERE _batch = {b} ORDER BY "Id"'  # noqa: S608
                self.copy(f"crm/{obj}/{batch_name(int(cut))}.csv", sql, "csv")
        self.con.unregister(name)

    def json_batches(
        self,
        rel_dir: str,
        select_sql: str,
        batch_col: str,
        cuts: np.ndarray,
        order: str,
        seq: int = 1,
        hidden: tuple[str, ...] = (),
    ) -> None:
        """`select_sql` must expose `batch_col` (and any `hidden` sort columns); one JSONL per non-empty batch."""
        # clustered by batch so each per-batch COPY reads only its own row groups
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _jb AS SELECT * FROM ({select_sql}) ORDER BY {batch_col}"
        )
        present = {r[0] for r in self.con.execute(f"SELECT DISTINCT {batch_col} FROM _jb").fetchall()}
        for b, cut in enumerate(cuts):
            if b in present:
                drop = ", ".join((batch_col, *hidden))
                sql = f"SELECT * EXCLUDE ({drop}) FROM _jb WHERE {batch_col} = {b} ORDER BY {order}"  # noqa: S608
                self.copy(f"{rel_dir}/{batch_name(int(cut), seq)}.jsonl", sql, "json")
        self.con.execute("DROP TABLE _jb")

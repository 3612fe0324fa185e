"""Load landing-zone batch files into the warehouse's raw layer: validate, quarantine, record, atomically.

One file is one transaction: its good rows land in `raw.<table>`, its bad rows in `audit.quarantine`
and its outcome in `audit.load_log`, or, if anything fails, none of them. Parsing and validation run
inside DuckDB (its CSV reader with reject tables, its JSON functions), never row by row in Python.

Consecutive new files of one object with the same columns are read, validated and written together,
as one transaction (a "group"): one multi-file scan uses both cores and pays the per-statement and
per-commit costs once (48 event files: 3x faster than file by file). The outcome is the same as file by
file, row for row (row numbers, duplicate handling, versions kept, quarantine, load log per file); a
group that meets anything unusual (an unparseable row, a read error, a batch older than raw's newest)
is rolled back and its files are loaded one by one, by the tolerant path.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.contract import OBJECTS, SourceObject
from ingestion.validation import RefusedFile, build_typed_select, csv_columns_from_header
from ingestion.warehouse import (
    current_view_sql,
    ensure_raw_schema,
    quote_ident,
    quote_literal,
    raw_columns,
    table_columns,
    write_failure,
)

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 128 * 1024 * 1024  # a 10 MB field is legitimate data, not a reason to refuse a file
# Input bytes read as one group: bounds the memory of a group's temp tables (about 4x its input).
MAX_GROUP_BYTES = 1024 * 1024 * 1024
FILE_COL = (
    "_salesdw_file"  # the file a row came from, in a group's _stage (contract names never start with _)
)


@dataclass
class FileResult:
    file: str
    object: str
    status: str  # loaded | refused | duplicate_file | already_loaded
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_unchanged: int = 0
    message: str = ""
    seconds: float = 0.0


@dataclass
class Prepared:
    extra_cols: dict[str, str]  # non-contract columns found, with their raw type
    raw_expr: str  # SQL over `_stage s` giving a row's raw record, for quarantined rows
    mode: str  # how _stage holds rows: csv | json_columns | json_lines
    n_rejects: int  # rows DuckDB's CSV reader could not parse (in temp._rejects)
    n_staged: int


@dataclass
class _GroupFile:
    """A new file loaded as part of a group."""

    path: Path
    rel: str
    sha: str
    size: int
    schema: tuple[str, ...]  # CSV header, or the JSON keys found in the file (sorted)


@dataclass
class ObjectResult:
    table: str
    files: list[FileResult] = field(default_factory=list)

    def total(self, attr: str, status: str | None = None) -> int:
        return sum(getattr(f, attr) for f in self.files if status is None or f.status == status)

    @property
    def rows_loaded(self) -> int:
        return self.total("rows_loaded")

    @property
    def rows_quarantined(self) -> int:
        return self.total("rows_quarantined")

    @property
    def refused(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "refused"]

    @property
    def new_files(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "loaded"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def discover_files(landing_dir: Path, obj: SourceObject) -> tuple[list[Path], list[tuple[str, str]]]:
    """Batch files of one object, in batch order, confined to the landing zone.

    Returns (files, skipped) where skipped lists (relative path, reason) for entries that are not
    loaded for safety: links leading out of the landing zone, other file types, partial uploads.
    """
    root = landing_dir.resolve()
    folder = landing_dir / obj.source / obj.name
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    if not folder.is_dir():
        return files, skipped
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        rel = f"{obj.source}/{obj.name}/{entry.name}"
        if entry.name.startswith("."):
            continue  # hidden files and in-flight uploads (.part, .tmp written as dotfiles)
        target = entry.resolve()
        if not target.is_relative_to(root):
            skipped.append((rel, f"links outside the landing zone ({target}); not read"))
            continue
        if not target.is_file():
            continue
        if entry.suffix.lower() not in obj.formats:
            skipped.append((rel, f"not a {'/'.join(obj.formats)} file; not read"))
            continue
        files.append(entry)
    return files, skipped


def _escapes(landing_dir: Path, path: Path) -> bool:
    """Does the path, links followed, lead out of the landing zone?"""
    return not path.resolve().is_relative_to(landing_dir.resolve())


def _sql_values(values: Iterable[object]) -> str:
    """Values as SQL literals. The loader binds no parameters: DuckDB's Python client imports pandas on
    the first bound parameter, which costs seconds per process (measured 4-8 s on a busy 2-core host)."""
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, bool | int | float):
            out.append(repr(int(v)) if isinstance(v, bool) else repr(v))
        else:
            out.append(quote_literal(str(v)))
    return ", ".join(out)


def _already_loaded(con: duckdb.DuckDBPyConnection, table: str, sha: str, rel: str = "") -> str | None:
    row = con.execute(
        f"SELECT file FROM audit.load_log WHERE raw_table = {quote_literal(table)} "
        f"AND file_sha256 = {quote_literal(sha)} AND status IN ('loaded', 'refused') "
        f"ORDER BY file = {quote_literal(rel)} DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


class Loader:
    """Loads new batch files of contract objects into one warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, landing_dir: Path, run_id: str | None = None):
        self.con = con
        self.landing_dir = Path(landing_dir)
        self.run_id = run_id or uuid.uuid4().hex
        ensure_raw_schema(con)

    # -- public -----------------------------------------------------------------------------------
    def load_object(
        self, obj: SourceObject, on_file: Callable[[FileResult], None] | None = None
    ) -> ObjectResult:
        result = ObjectResult(obj.table)
        files, skipped = discover_files(self.landing_dir, obj)
        for rel, reason in skipped:
            log.warning("%s: %s", rel, reason)
            if _escapes(self.landing_dir, self.landing_dir / rel):
                # Reported as refused (load log, run summary, warning check), not only in a log line.
                fr = self._refuse_unread(obj, rel, reason)
                result.files.append(fr)
                if on_file:
                    on_file(fr)
        for step in self._plan(obj, files):
            if isinstance(step, list):
                done = self._load_group(obj, step)
            else:
                path, sha = step
                done = [self.load_file(obj, path, sha=sha)]
            for fr in done:
                result.files.append(fr)
                if on_file:
                    on_file(fr)
        return result

    def load_file(self, obj: SourceObject, path: Path, *, sha: str | None = None) -> FileResult:
        try:
            rel = path.relative_to(self.landing_dir).as_posix()
        except ValueError:
            rel = str(path)
        if ".." in Path(rel).parts or _escapes(self.landing_dir, path):
            # Callers may pass names from outside (a sensor, an API): never read beyond the landing zone.
            return self._refuse_unread(obj, rel, f"is outside the landing zone {self.landing_dir}; not read")
        started = time.perf_counter()
        sha = sha or sha256_file(path)
        size = path.stat().st_size
        prior = _already_loaded(self.con, obj.table, sha, rel)
        # Without a version stamp the later batch wins: the same bytes as an earlier batch, under a later
        # batch name, may be a record returning to an earlier state, so its rows are compared one by one.
        if prior is not None and (prior == rel or obj.version is not None):
            status = "already_loaded" if prior == rel else "duplicate_file"
            msg = "" if prior == rel else f"same content as {prior}, already processed; skipped"
            if status == "duplicate_file":
                self._log(obj, rel, sha, size, FileResult(rel, obj.table, status, message=msg), started)
            return FileResult(rel, obj.table, status, message=msg)
        load_id = f"{obj.table}:{sha[:20]}" + (f":{path.stem}" if prior is not None else "")
        try:
            # Parsing and validation only touch temp tables; the transaction holds just the writes.
            prepared = self._prepare(obj, path)
            with self._transaction():
                fr = self._write(obj, path, rel, load_id, prepared)
                self._log(obj, rel, sha, size, fr, started, load_id=load_id)
        except RefusedFile as exc:
            fr = FileResult(rel, obj.table, "refused", message=f"{rel}: {exc}")
            self._log(obj, rel, sha, size, fr, started, load_id=load_id)
            log.error("refused %s", fr.message)
        except (duckdb.Error, OSError) as exc:
            # Disk full, read-only or vanished warehouse: say so, not DuckDB's internals.
            failure = write_failure(self.con, rel, exc)
            if failure is None:
                raise
            raise failure from exc
        finally:
            self._drop_temp()
        fr.seconds = time.perf_counter() - started
        return fr

    # -- groups of files --------------------------------------------------------------------------
    def _plan(self, obj: SourceObject, files: list[Path]) -> list[list[_GroupFile] | tuple[Path, str | None]]:
        """The object's files in batch order, as steps: a group (consecutive new files with the same
        columns, ready for one multi-file read) or one file for load_file (with its hash, when known).

        A file goes alone when anything about it needs the file-by-file path's care: Parquet, empty, seen
        before (same name or same bytes), a header or JSON keys it cannot stage as columns."""
        steps: list[list[_GroupFile] | tuple[Path, str | None]] = []
        group: list[_GroupFile] = []

        def flush() -> None:
            if len(group) > 1:
                steps.append(list(group))
            elif group:
                steps.append((group[0].path, group[0].sha))
            group.clear()

        candidates: list[_GroupFile | tuple[Path, str | None]] = []
        seen_sha: set[str] = set()
        seen_stem: set[str] = set()
        sizes = {p: p.stat().st_size for p in files}
        to_hash = [p for p in files if sizes[p] and p.suffix.lower() != ".parquet"]
        # hashlib releases the GIL: both cores hash (1.5 GB of scale-10 files: 2.3 s instead of 4.6 s)
        with ThreadPoolExecutor(max_workers=2) as pool:
            shas = dict(zip(to_hash, pool.map(sha256_file, to_hash), strict=True))
        for path in files:
            size = sizes[path]
            if path not in shas:
                candidates.append((path, None))
                continue
            sha = shas[path]
            rel = path.relative_to(self.landing_dir).as_posix()
            if sha in seen_sha or path.stem in seen_stem or _already_loaded(self.con, obj.table, sha, rel):
                candidates.append((path, sha))
                continue
            seen_sha.add(sha)
            seen_stem.add(path.stem)
            candidates.append(_GroupFile(path, rel, sha, size, ()))
        schemas = self._schemas(obj, [c.path for c in candidates if isinstance(c, _GroupFile)])
        for c in candidates:
            schema = schemas.get(c.path) if isinstance(c, _GroupFile) else None
            if not isinstance(c, _GroupFile) or schema is None:
                flush()
                steps.append(c if not isinstance(c, _GroupFile) else (c.path, c.sha))
                continue
            c.schema = schema
            if group and (group[0].schema != schema or sum(g.size for g in group) + c.size > MAX_GROUP_BYTES):
                flush()
            group.append(c)
        flush()
        return steps

    def _schemas(self, obj: SourceObject, paths: list[Path]) -> dict[Path, tuple[str, ...]]:
        """Each file's columns when it can be staged as columns in a group (others are left out)."""
        out: dict[Path, tuple[str, ...]] = {}
        if obj.kind == "csv":
            for p in paths:
                try:
                    header = csv_columns_from_header(p)
                except RefusedFile:
                    continue
                lowered = {h.lower() for h in header}
                if header and obj.key.lower() in lowered and FILE_COL not in lowered:
                    out[p] = tuple(header)
            return out
        if len(paths) < 2:
            return out
        found: dict[str, list[str]] = {}
        # One scan for all files; when a file has a line that is not a JSON object the scan fails, and
        # each file is asked alone, so only the odd one takes the tolerant path.
        for batch in [paths] + [[p] for p in paths]:
            lst = "[" + ", ".join(quote_literal(str(p)) for p in batch) + "]"
            try:
                rows = self.con.execute(
                    f"SELECT filename, list_sort(list(DISTINCT k)) FROM (SELECT filename, unnest(json_keys(json)) "
                    f"AS k FROM read_ndjson_objects({lst}, filename = true, maximum_object_size = {MAX_LINE_BYTES})) "
                    "GROUP BY ALL"
                ).fetchall()
            except duckdb.Error:
                continue
            found.update({r[0]: r[1] for r in rows})
            if batch is paths:
                break
        for p in paths:
            keys = found.get(str(p)) or []
            lowered = [k.lower() for k in keys]
            if keys and len(set(lowered)) == len(keys) and not any(k.startswith("_") for k in keys):
                out[p] = tuple(keys)
        return out

    def _load_group(self, obj: SourceObject, group: list[_GroupFile]) -> list[FileResult]:
        """Load several new files of one object as one transaction, or fall back to them one by one."""
        started = time.perf_counter()
        try:
            try:
                results = self._try_group(obj, group, started)
            except (duckdb.Error, OSError) as exc:
                # Disk full, read-only or vanished warehouse: say so, as load_file does; anything else
                # DuckDB raised is left to the file-by-file path, which refuses or reports it per file.
                failure = write_failure(self.con, f"{group[0].rel} and {len(group) - 1} more files", exc)
                if failure is not None:
                    raise failure from exc
                raise _GroupFallback(_first_line(exc)) from exc
        except _GroupFallback as why:
            self._drop_temp()
            log.info("%s: %d files loaded one by one (%s)", obj.table, len(group), why)
            return [self.load_file(obj, g.path, sha=g.sha) for g in group]
        finally:
            self._drop_temp()
        total = sum(g.size for g in group) or 1
        elapsed = time.perf_counter() - started
        for g, fr in zip(group, results, strict=True):
            fr.seconds = elapsed * g.size / total  # its share of the group's time
        return results

    def _try_group(self, obj: SourceObject, group: list[_GroupFile], started: float) -> list[FileResult]:
        con = self.con
        table = quote_ident(obj.table)
        key = quote_ident(obj.key)
        columns = list(group[0].schema)
        lst = "[" + ", ".join(quote_literal(str(g.path)) for g in group) + "]"
        if obj.version is None:
            # Without a version stamp the later batch wins; a group's rows are compared with raw's latest
            # version only, which is file-by-file's rule when every batch is newer than raw's.
            newest = con.execute(f"SELECT max(_batch) FROM raw.{table}").fetchone()[0]
            if newest is not None and min(g.path.stem for g in group) <= newest:
                raise _GroupFallback("a batch is not newer than raw's newest")
        try:
            if obj.kind == "csv":
                # File by file into one table: DuckDB's multi-file CSV scan was seen to drop a file's last
                # rows without a reject (an unterminated quote at the end of a later file); a scan of
                # one file reports them.
                colspec = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in columns) + "}"
                for i, g in enumerate(group):
                    scan = (
                        f"SELECT *, {quote_literal(str(g.path))} AS {FILE_COL} FROM read_csv({quote_literal(str(g.path))}, "
                        f"header = true, columns = {colspec}, delim = ',', quote = '\"', escape = '\"', "
                        "store_rejects = true, rejects_table = '_rejects', rejects_scan = '_rejects_scan', "
                        f"strict_mode = true, auto_detect = false, max_line_size = {MAX_LINE_BYTES})"
                    )
                    con.execute(f"INSERT INTO _stage {scan}" if i else f"CREATE TEMP TABLE _stage AS {scan}")
                    if con.execute("SELECT count(*) FROM _rejects").fetchone()[0]:
                        raise _GroupFallback(f"{g.rel} has rows the CSV reader could not parse")
                mode = "csv"
            else:
                colspec = "{" + ", ".join(f"{quote_literal(k)}: 'JSON'" for k in columns) + "}"
                con.execute(
                    f"CREATE TEMP TABLE _stage AS SELECT * FROM read_json({lst}, format = 'newline_delimited', "
                    f"columns = {colspec}, maximum_object_size = {MAX_LINE_BYTES}, filename = '{FILE_COL}')"
                )
                mode = "json_columns"
        except duckdb.Error as exc:
            raise _GroupFallback(_first_line(exc)) from exc
        values = ", ".join(
            f"({i}, {_sql_values([str(g.path), g.rel, g.path.stem, f'{obj.table}:{g.sha[:20]}'])})"
            for i, g in enumerate(group)
        )
        con.execute(
            "CREATE TEMP TABLE _files (_ord INTEGER, _file VARCHAR, _rel VARCHAR, _batch VARCHAR, _load_id VARCHAR)"
        )
        con.execute(f"INSERT INTO _files VALUES {values}")
        # A multi-file scan keeps files and rows in order (insertion order is preserved): a row's number
        # in its file is its distance from the file's first row.
        group_src = (
            f"SELECT s.rowid AS _rid, s.rowid - f._start + 1 AS _row_number, f._ord, s.* EXCLUDE ({FILE_COL}) "
            f"FROM _stage s JOIN (SELECT {FILE_COL}, min(st.rowid) AS _start, any_value(_ord) AS _ord FROM _stage st "
            f"JOIN _files ON _file = {FILE_COL} GROUP BY ALL) f USING ({FILE_COL})"
        )
        typed_select, extra_cols, raw_expr = build_typed_select(con, obj, columns, mode, group_src=group_src)
        con.execute(f"CREATE TEMP TABLE _typed AS {typed_select}")
        counts = {
            r[0]: (r[1], r[2])
            for r in con.execute(
                "SELECT _ord, count(*), count(*) FILTER (WHERE len(_errors) > 0) FROM _typed GROUP BY ALL"
            ).fetchall()
        }
        target_cols = [c for c in raw_columns(obj) if not c.startswith("_")] + list(extra_cols)
        meta_cols = ["_record_hash", "_load_id", "_loaded_at", "_source_file", "_batch", "_row_number"]
        sel = ", ".join(f"t.{quote_ident(c)}" for c in target_cols)
        good = "len(t._errors) = 0 AND t._first_of_dupes"
        if obj.version:
            # A version is stored once: not if raw has it, and only from the first file of the group.
            new_rows = (
                f"FROM _typed t JOIN _files f USING (_ord) "
                # an explicit anti join: NOT EXISTS became a delim join that first aggregated every row
                f"ANTI JOIN raw.{table} r ON r.{key} = t.{key} AND r._record_hash = t._record_hash "
                f"LEFT JOIN (SELECT {key}, _record_hash, min(_ord) AS _first FROM _typed t WHERE {good} "
                f"AND hash({key}, _record_hash) IN (SELECT hash({key}, _record_hash) FROM _typed t WHERE {good} "
                "GROUP BY ALL HAVING count(*) > 1) "  # the same 64-bit prefilter as build_typed_select's dupes
                f"GROUP BY ALL HAVING count(*) > 1) x ON x.{key} = t.{key} AND x._record_hash = t._record_hash "
                f"WHERE {good} AND (x._first IS NULL OR t._ord = x._first)"
            )
        else:
            # The latest batch wins: a row is a new version unless the version before it (in raw, or in an
            # earlier file of the group) has the same content.
            new_rows = (
                f"FROM (SELECT *, lag(_record_hash) OVER (PARTITION BY {key} ORDER BY _ord) AS _prev "
                f"FROM _typed t WHERE {good}) t JOIN _files f USING (_ord) "
                f"LEFT JOIN (SELECT {key}, arg_max(_record_hash, (_batch, _row_number)) AS _latest FROM raw.{table} "
                f"WHERE {key} IN (SELECT {key} FROM _typed) GROUP BY ALL) l ON l.{key} = t.{key} "
                "WHERE coalesce(t._prev, l._latest) IS DISTINCT FROM t._record_hash"
            )
        with self._transaction():
            self._add_columns(obj, extra_cols)
            con.execute(
                f"INSERT INTO raw.{table} ({', '.join(quote_ident(c) for c in target_cols + meta_cols)}) "
                f"SELECT {sel}, t._record_hash, f._load_id, current_timestamp, f._rel, f._batch, t._row_number "
                f"{new_rows}"
            )
            loaded = dict(
                con.execute(
                    f"SELECT _load_id, count(*) FROM raw.{table} WHERE _load_id IN (SELECT _load_id FROM _files) GROUP BY ALL"
                ).fetchall()
            )
            if any(bad for _, bad in counts.values()):
                con.execute(
                    f"INSERT INTO audit.quarantine SELECT f._load_id, {_sql_values([obj.source, obj.name, obj.table])}, "
                    f"f._rel, t._row_number, CAST(t.{key} AS VARCHAR), t._errors[1].code, "
                    f"array_to_string(list_transform(t._errors, e -> e.message), '; '), {raw_expr}, current_timestamp "
                    f"FROM _typed t JOIN _files f USING (_ord) JOIN (SELECT rowid AS _rid, * FROM _stage) s USING (_rid) "
                    "WHERE len(t._errors) > 0 ORDER BY t._ord, t._row_number"
                )
            results = []
            for i, g in enumerate(group):
                n_rows, n_bad = counts.get(i, (0, 0))
                load_id = f"{obj.table}:{g.sha[:20]}"
                fr = FileResult(g.rel, obj.table, "loaded", rows_in=n_rows, rows_quarantined=n_bad)
                fr.rows_loaded = loaded.get(load_id, 0)
                fr.rows_unchanged = n_rows - fr.rows_loaded - n_bad
                if n_rows == 0:
                    fr.message = "no records (header only)" if mode == "csv" else "no records"
                self._log(obj, g.rel, g.sha, g.size, fr, started, load_id=load_id)
                results.append(fr)
        return results

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """The writes of a file or a group: all committed, or all rolled back."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException:
            try:
                self.con.execute("ROLLBACK")
            except duckdb.TransactionException:
                pass  # a failed COMMIT has rolled back already; the original error is the one to show
            raise

    def _add_columns(self, obj: SourceObject, extra_cols: dict[str, str]) -> None:
        """Columns that arrived but are not in the contract are kept, as text/JSON (in the open transaction)."""
        con = self.con
        # (the catalog query costs ~15 ms a file: only ask when the file brought extra columns)
        existing = {c.lower() for c in table_columns(con, "raw", obj.table)} if extra_cols else set()
        added = False
        for name, typ in extra_cols.items():
            if name.lower() not in existing:
                con.execute(f"ALTER TABLE raw.{quote_ident(obj.table)} ADD COLUMN {quote_ident(name)} {typ}")
                added = True
        if added:
            con.execute(current_view_sql(obj))

    # -- internals --------------------------------------------------------------------------------
    def _refuse_unread(self, obj: SourceObject, rel: str, reason: str) -> FileResult:
        fr = FileResult(rel, obj.table, "refused", message=f"{rel}: {reason}")
        self._log(obj, rel, None, None, fr, time.perf_counter(), load_id=f"{obj.table}:unread")
        log.error("refused %s", fr.message)
        return fr

    def _drop_temp(self) -> None:
        try:
            for t in ("_stage", "_typed", "_rejects", "_rejects_scan", "_files"):
                self.con.execute(f"DROP TABLE IF EXISTS temp.{t}")
        except duckdb.Error:
            pass  # the connection broke (e.g. disk full); the error being raised already says why

    def _log(self, obj, rel, sha, size, fr: FileResult, started: float, load_id: str | None = None) -> None:
        values = _sql_values(
            [
                load_id or f"{obj.table}:{sha[:20]}",
                self.run_id,
                obj.source,
                obj.name,
                obj.table,
                rel,
                sha,
                size,
                fr.status,
                fr.rows_in,
                fr.rows_loaded,
                fr.rows_quarantined,
                fr.rows_unchanged,
                fr.message,
            ]
        )
        elapsed_us = int((time.perf_counter() - started) * 1e6)
        self.con.execute(
            f"INSERT INTO audit.load_log VALUES ({values}, "
            f"current_timestamp - to_microseconds(CAST({elapsed_us} AS BIGINT)), current_timestamp)"
        )

    def _stage_json_columns(self, lit: str) -> list[str] | None:
        """Fast path for JSON lines: DuckDB's own reader, one JSON column per key. None when any line is
        not a JSON object (or a key would clash): then the tolerant line-by-line path takes over."""
        con = self.con
        src = f"read_ndjson_objects({lit}, maximum_object_size = {MAX_LINE_BYTES})"
        try:
            # A line that is not a JSON object makes read_json fail below: then the tolerant path runs.
            keys = [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT unnest(json_keys(json)) FROM {src} ORDER BY 1"
                ).fetchall()
            ]
        except duckdb.Error:
            return None
        lowered = [k.lower() for k in keys]
        if not keys or len(set(lowered)) < len(keys) or any(k.startswith("_") for k in keys):
            return None
        colspec = "{" + ", ".join(f"{quote_literal(k)}: 'JSON'" for k in keys) + "}"
        try:
            con.execute(
                f"CREATE TEMP TABLE _stage AS SELECT * FROM read_json({lit}, format = 'newline_delimited', "
                f"columns = {colspec}, maximum_object_size = {MAX_LINE_BYTES})"
            )
        except duckdb.Error:
            con.execute("DROP TABLE IF EXISTS temp._stage")
            return None
        return keys

    def _stage(self, obj: SourceObject, path: Path) -> tuple[list[str], str]:
        """Read the file into temp._stage; returns (columns, mode) where mode is how _stage holds rows:
        'csv' (text columns), 'json_columns' (a JSON column per key) or 'json_lines' (raw lines)."""
        con = self.con
        lit = quote_literal(str(path))
        suffix = path.suffix.lower()
        if path.stat().st_size == 0:
            return [], obj.kind
        if suffix == ".parquet":
            try:
                if obj.kind == "csv":
                    cols = [
                        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit})").fetchall()
                    ]
                    casts = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in cols)
                    con.execute(f"CREATE TEMP TABLE _stage AS SELECT {casts} FROM read_parquet({lit})")
                    return cols, "csv"
                con.execute(
                    f"CREATE TEMP TABLE _stage AS SELECT CAST(to_json(t) AS VARCHAR) AS line "
                    f"FROM read_parquet({lit}) t"
                )
                return ["line"], "json_lines"
            except duckdb.Error as exc:
                raise RefusedFile(f"not a readable Parquet file ({_first_line(exc)})") from exc
        reject_opts = (
            "store_rejects = true, rejects_table = '_rejects', rejects_scan = '_rejects_scan', "
            f"strict_mode = true, auto_detect = false, max_line_size = {MAX_LINE_BYTES}"
        )
        if obj.kind == "csv":
            header = csv_columns_from_header(path)
            if not header:
                return [], "csv"
            colspec = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in header) + "}"
            sql = (
                f"CREATE TEMP TABLE _stage AS SELECT * FROM read_csv({lit}, header = true, columns = {colspec}, "
                f"delim = ',', quote = '\"', escape = '\"', {reject_opts})"
            )
        else:
            keys = self._stage_json_columns(lit)
            if keys is not None:
                return keys, "json_columns"
            header = ["line"]
            # One record per line: a delimiter that valid JSON text never contains raw, and no quoting.
            sql = (
                f"CREATE TEMP TABLE _stage AS SELECT * FROM read_csv({lit}, header = false, "
                f"columns = {{'line': 'VARCHAR'}}, delim = chr(31), quote = '', escape = '', {reject_opts})"
            )
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            if obj.kind == "csv":
                raise RefusedFile(f"not a readable CSV file ({_first_line(exc)})") from exc
            # DuckDB reads lines with its CSV machinery: say what the operator can act on.
            raise RefusedFile(
                "not a readable JSON lines file: expected UTF-8 text with one JSON object per line; "
                "re-export it from the source system"
            ) from exc
        return header, "csv" if obj.kind == "csv" else "json_lines"

    def _prepare(self, obj: SourceObject, path: Path) -> Prepared | None:
        """Stage the file, refuse it, or type and validate it into temp._typed (None: empty file)."""
        con = self.con
        columns, mode = self._stage(obj, path)
        if not columns:  # 0-byte or header-less empty CSV: nothing to load, nothing lost
            return None
        if mode == "csv" and obj.key.lower() not in {c.lower() for c in columns}:
            raise RefusedFile(
                f"the header has no {obj.key!r} column (found: {', '.join(columns[:12])}); "
                f"check the export's field list and delimiter (',')"
            )
        has_rejects = (
            con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_rejects' AND temporary"
            ).fetchone()[0]
            > 0
        )
        n_rejects = (
            con.execute("SELECT count(DISTINCT line) FROM _rejects").fetchone()[0] if has_rejects else 0
        )
        n_staged = con.execute("SELECT count(*) FROM _stage").fetchone()[0]
        if mode == "json_lines":
            n_lines, n_objects = con.execute(
                "SELECT count(*) FILTER (WHERE line IS NOT NULL AND trim(line) <> ''), "
                "count(*) FILTER (WHERE json_type(try_cast(ltrim(line, chr(65279)) AS JSON)) = 'OBJECT') "
                "FROM _stage"
            ).fetchone()
            if (n_lines + n_rejects) > 0 and n_objects == 0:
                raise RefusedFile(
                    f"not JSON lines: none of its {n_lines + n_rejects} lines is a JSON object; "
                    f"export one object per line"
                )
        typed_select, extra_cols, raw_expr = build_typed_select(con, obj, columns, mode)
        con.execute(f"CREATE TEMP TABLE _typed AS {typed_select}")
        return Prepared(extra_cols, raw_expr, mode, n_rejects, n_staged)

    def _write(
        self, obj: SourceObject, path: Path, rel: str, load_id: str, prep: Prepared | None
    ) -> FileResult:
        con = self.con
        fr = FileResult(rel, obj.table, "loaded")
        if prep is None:
            fr.message = "empty file"
            return fr
        self._add_columns(obj, prep.extra_cols)

        target_cols = [c for c in raw_columns(obj) if not c.startswith("_")] + list(prep.extra_cols)
        meta_cols = ["_record_hash", "_load_id", "_loaded_at", "_source_file", "_batch", "_row_number"]
        key = quote_ident(obj.key)
        sel = ", ".join(quote_ident(c) for c in target_cols)
        # A version already in raw (same key, same content) is not stored twice: re-exports overlap.
        # Without a version stamp the latest batch wins, so a record that returns to an earlier content
        # (B between two A's) is a new version: skip it only if no other content lies between the two.
        batch = quote_literal(path.stem)
        reverted = (
            ""
            if obj.version
            else f"AND NOT EXISTS (SELECT 1 FROM raw.{quote_ident(obj.table)} r2 WHERE r2.{key} = t.{key} "
            f"AND r2._record_hash <> t._record_hash "
            f"AND r2._batch BETWEEN least(r._batch, {batch}) AND greatest(r._batch, {batch}))"
        )
        loaded = con.execute(
            f"INSERT INTO raw.{quote_ident(obj.table)} ({', '.join(quote_ident(c) for c in target_cols + meta_cols)}) "
            f"SELECT {sel}, t._record_hash, {quote_literal(load_id)}, current_timestamp, {quote_literal(rel)}, "
            f"{batch}, t._row_number FROM _typed t "
            f"WHERE len(t._errors) = 0 AND t._first_of_dupes "
            f"AND NOT EXISTS (SELECT 1 FROM raw.{quote_ident(obj.table)} r "
            # No ORDER BY: every reader orders by _batch/_row_number itself, and sorting each file's
            # rows before the insert cost 40-60 % of the insert (76k events: 1.1-1.5 s vs 0.5-0.7 s).
            f"WHERE r.{key} = t.{key} AND r._record_hash = t._record_hash {reverted})"
        ).fetchone()[0]
        n_rows, n_bad = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE len(_errors) > 0) FROM _typed"
        ).fetchone()
        if n_bad:
            con.execute(
                f"INSERT INTO audit.quarantine SELECT {quote_literal(load_id)}, "
                f"{_sql_values([obj.source, obj.name, obj.table, rel])}, t._row_number, "
                f"CAST(t.{key} AS VARCHAR), t._errors[1].code, "
                f"array_to_string(list_transform(t._errors, e -> e.message), '; '), {prep.raw_expr}, current_timestamp "
                f"FROM _typed t JOIN (SELECT rowid + 1 AS _rn, * FROM _stage) s ON s._rn = t._row_number "
                f"WHERE len(t._errors) > 0 ORDER BY t._row_number"
            )
        if prep.n_rejects:
            con.execute(
                f"INSERT INTO audit.quarantine SELECT {_sql_values([load_id, obj.source, obj.name, obj.table, rel])}, "
                "NULL, NULL, 'unparseable_row', "
                "'line ' || line || ': ' || first(error_message ORDER BY column_idx), "
                "trim(first(csv_line ORDER BY column_idx), chr(10) || chr(13)), current_timestamp "
                "FROM _rejects GROUP BY line ORDER BY line"
            )
        fr.rows_in = n_rows + prep.n_rejects
        fr.rows_loaded = loaded
        fr.rows_quarantined = n_bad + prep.n_rejects
        # Exact duplicates within the file and versions already in raw carry nothing new.
        fr.rows_unchanged = fr.rows_in - fr.rows_loaded - fr.rows_quarantined
        if prep.n_staged == 0 and prep.n_rejects == 0:
            fr.message = "no records (header only)" if prep.mode == "csv" else "no records"
        return fr


class _GroupFallback(Exception):
    """A group of files meets something the file-by-file path handles; nothing was written."""


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@dataclass
class LandingReport:
    run_id: str
    objects: dict[str, ObjectResult]

    @property
    def files(self) -> list[FileResult]:
        return [f for o in self.objects.values() for f in o.files]

    def totals(self) -> dict[str, int]:
        fs = self.files
        return {
            "files_loaded": sum(f.status == "loaded" for f in fs),
            "files_refused": sum(f.status == "refused" for f in fs),
            "files_duplicate": sum(f.status == "duplicate_file" for f in fs),
            "rows_loaded": sum(f.rows_loaded for f in fs),
            "rows_quarantined": sum(f.rows_quarantined for f in fs),
        }


def load_landing(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    objects: Iterable[SourceObject] = OBJECTS,
    run_id: str | None = None,
) -> LandingReport:
    """Load every new batch file of the given objects (all contract objects by default)."""
    loader = Loader(con, landing_dir, run_id)
    return LandingReport(loader.run_id, {o.table: loader.load_object(o) for o in objects})

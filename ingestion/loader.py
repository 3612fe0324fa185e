"""Load landing-zone batch files into the warehouse's raw layer: validate, quarantine, record, atomically.

One file is one transaction: its good rows land in `raw.<table>`, its bad rows in `audit.quarantine`
and its outcome in `audit.load_log`, or, if anything fails, none of them. Parsing and validation run
inside DuckDB (its CSV reader with reject tables, its JSON functions), never row by row in Python.
A file that cannot be read, for whatever reason, is refused with the reason, and the others load; every
entry of the landing zone that is not a batch file of a contract object is logged as `ignored` with the
reason (docs/loading.md).

Consecutive new files of one object with the same columns are read, validated and written together,
as one transaction (a "group"): one multi-file scan uses both cores and pays the per-statement and
per-commit costs once (48 event files: 3x faster than file by file). The outcome is the same as file by
file, row for row (row numbers, duplicate handling, versions kept, quarantine, load log per file); a
group that meets anything unusual (an unparseable row, a read error, a batch older than raw's newest)
is rolled back and its files are loaded one by one, by the tolerant path.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.contract import OBJECTS, SOURCES, SourceObject, object_for
from ingestion.validation import (
    RefusedFile,
    Typed,
    build_typed_select,
    check_header,
    create_typed,
    csv_columns_from_header,
    normalized,
    staged_name,
)
from ingestion.warehouse import (
    READER_OPTIONS,
    WarehouseError,
    current_table,
    ensure_raw_schema,
    quote_ident,
    quote_literal,
    raw_columns,
    reader_path,
    refresh_current,
    table_columns,
    transaction,
    write_failure,
)

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 128 * 1024 * 1024  # a 10 MB field is legitimate data, not a reason to refuse a file
# Input bytes read as one group: bounds the memory of a group's temp tables (about 4x its input).
MAX_GROUP_BYTES = 1024 * 1024 * 1024
MAX_GROUP_FILES = 256
FILE_COL = "_salesdw_file"  # the file a row came from, in a group's _stage (staged columns are named #dN)
NOT_UTF8 = "its name is not UTF-8 text; rename it (a UTF-8 name may hold any character) and deliver it again"
COMPRESSED = (".gz", ".zip", ".bz2", ".xz", ".zst", ".7z", ".tgz")


class LandingError(RuntimeError):
    """The landing zone itself is missing or unusable; the message says what to do."""


def check_landing(landing_dir: Path) -> None:
    """Raise LandingError unless the landing zone is a folder: a missing one is an error, never "0 files"."""
    if not Path(landing_dir).is_dir():
        raise LandingError(
            f"the landing zone {landing_dir} "
            + ("is not a folder" if Path(landing_dir).exists() else "does not exist")
            + ": point SALESDW_LANDING_DIR at the folder holding crm/, billing/ and activity/ "
            "(with SALESDW_DEMO=auto a missing or empty one gets demo data)"
        )


@dataclass
class FileResult:
    file: str
    object: str
    status: str  # loaded | refused | duplicate_file | already_loaded | ignored
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_unchanged: int = 0
    message: str = ""
    seconds: float = 0.0


@dataclass
class Prepared:
    typed: Typed
    mode: str  # how _stage holds rows: csv | json_columns | json_lines
    n_rejects: int  # records DuckDB's CSV reader could not parse (temp._rejected); a group has none
    n_staged: int | None  # _stage's rows of one file, blank lines included (None: a group, counted by file)


@dataclass
class _GroupFile:
    """A new file to write: alone (a group of one) or as part of a group."""

    path: Path
    rel: str
    sha: str
    size: int
    schema: tuple[str, ...]  # CSV header, or the JSON keys found in the file (sorted); () when alone
    load_id: str


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
    def ignored(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "ignored"]

    @property
    def new_files(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "loaded"]


@dataclass(frozen=True)
class Entry:
    """Something in the landing zone that is not loaded, and why: `refused` (a batch file that cannot be
    read) or `ignored` (not a batch file of a contract object)."""

    rel: str
    status: str
    reason: str
    obj: SourceObject | None = None  # the contract object whose folder holds it
    source: str | None = None  # crm | billing | activity, when under one


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha_or_none(path: Path) -> str | None:
    """The file's hash, or None when it cannot be read (load_file then refuses it with the reason)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def shown_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by Python as surrogates) shown as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return _first_line(exc)


def _entry_problem(entry: Path, root: Path, formats: tuple[str, ...], where: str) -> tuple[str, str] | None:
    """(status, reason) for an entry of an object folder that is not a loadable batch file, else None."""
    if not _is_utf8(entry.name):
        return "refused", NOT_UTF8
    if entry.name.startswith("."):
        return (
            "ignored",
            "a hidden file (an upload in progress, or a system file such as .DS_Store); not read",
        )
    try:
        target = entry.resolve(strict=False)  # the entry, or its folder, may be a link
        if entry.is_symlink():
            os.stat(entry)
    except FileNotFoundError:
        return "ignored", f"a link to nothing (its target {os.readlink(entry)} does not exist); not read"
    except (RuntimeError, OSError) as exc:  # Python 3.11 says RuntimeError for a loop, later ones ELOOP
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            return "refused", "a symbolic link loop (the link leads back to itself); not read"
        return "refused", f"the link cannot be followed ({_os_reason(exc)}); not read"
    if not target.is_relative_to(root):
        return "refused", f"links outside the landing zone ({target}); not read"
    if entry.is_dir():
        if entry.suffix.lower() in formats:
            return (
                "ignored",
                f"a folder named like a batch file; batch files are regular files directly in {where}/",
            )
        return "ignored", f"a sub-folder; only files directly in {where}/ are loaded, nothing below them"
    if not entry.is_file():
        return "ignored", "not a regular file (a pipe, socket or device); not read"
    suffix = entry.suffix.lower()
    if suffix not in formats:
        kinds = "/".join(formats)
        if suffix in COMPRESSED:
            return "ignored", f"a compressed file; decompress it to {entry.stem} ({kinds}) to load it"
        return "ignored", f"not a {kinds} file; not read"
    return None


def discover_files(landing_dir: Path, obj: SourceObject) -> tuple[list[Path], list[Entry]]:
    """Batch files of one object, in batch order, confined to the landing zone, and every other entry of
    the object's folder with the reason it is not loaded (refused or ignored)."""
    root = landing_dir.resolve()
    where = f"{obj.source}/{obj.name}"
    folder = landing_dir / obj.source / obj.name
    files: list[Path] = []
    others: list[Entry] = []
    if not folder.is_dir():
        if folder.is_symlink() or folder.exists():
            why = "a file" if folder.is_file() else "a link that does not lead to a folder"
            others.append(
                Entry(
                    where,
                    "ignored",
                    f"{why} where the folder {where}/ belongs; nothing read",
                    obj,
                    obj.source,
                )
            )
        return files, others
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        return files, [
            Entry(where, "refused", f"the folder cannot be listed ({_os_reason(exc)})", obj, obj.source)
        ]
    for entry in entries:
        problem = _entry_problem(entry, root, obj.formats, where)
        if problem is None:
            files.append(entry)
        else:
            others.append(Entry(f"{where}/{shown_name(entry.name)}", *problem, obj, obj.source))
    return files, others


def _stem(name: str) -> str:
    low = name.lower()
    return low[:-3] + "y" if low.endswith("ies") else low[:-1] if low.endswith("s") else low


def landing_entries(landing_dir: Path) -> list[Entry]:
    """Entries of the landing zone outside every contract object's folder: all ignored, with the reason."""
    out: list[Entry] = []
    for top in _listing(landing_dir, "", out):
        name = shown_name(top.name)
        if top.name in SOURCES and top.is_dir():
            for e in _listing(top, top.name, out):
                if object_for(top.name, e.name) is not None:
                    continue  # an object folder: its own load reports what is in it
                rel = f"{top.name}/{shown_name(e.name)}"
                if e.name.startswith("."):
                    why = "a hidden entry; not read"
                elif e.is_dir():
                    objs = [o.name for o in OBJECTS if o.source == top.name]
                    near = [o for o in objs if _stem(o) == _stem(e.name)]
                    hint = (
                        f"did you mean {top.name}/{near[0]}/ (folder names are the API names, case-sensitive)?"
                        if near
                        else f"the {top.name} objects are {', '.join(objs)}"
                    )
                    why = f"not a contract object of {top.name}; nothing in it is read ({hint})"
                else:
                    why = f"a file directly in {top.name}/; batch files go in {top.name}/<object>/"
                out.append(Entry(rel, "ignored", why, None, top.name))
        elif top.name.startswith("."):
            out.append(Entry(name, "ignored", "a hidden entry; not read"))
        elif top.is_dir():
            out.append(
                Entry(
                    name,
                    "ignored",
                    "not a source folder; the landing zone holds crm/, billing/ and activity/",
                )
            )
        else:
            out.append(
                Entry(
                    name, "ignored", "a file outside the source folders; batch files go in <source>/<object>/"
                )
            )
    return out


def _listing(folder: Path, rel: str, out: list[Entry]) -> list[Path]:
    """A folder's entries by name; a folder that cannot be listed is reported (refused) instead."""
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        what = f"the folder cannot be listed ({_os_reason(exc)}); nothing in it is read"
        out.append(Entry(rel or str(folder), "refused", what, None, rel.split("/")[0] or None))
        return []


def _escapes(landing_dir: Path, path: Path) -> bool:
    """Does the path, links followed, lead out of the landing zone?"""
    try:
        return not path.resolve().is_relative_to(landing_dir.resolve())
    except RuntimeError:  # a link loop: it leads nowhere, inside or out
        return False


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
    """The file an earlier load of these bytes was logged under: this file's name when its latest delivery
    had this content, else another name (a re-delivery of the same bytes). A name re-delivered with other
    content and then with the first content again is a new delivery each time."""
    t, h, r = quote_literal(table), quote_literal(sha), quote_literal(rel)
    row = con.execute(
        f"SELECT file FROM audit.load_log l WHERE raw_table = {t} AND file_sha256 = {h} "
        f"AND status IN ('loaded', 'refused') AND (file <> {r} OR NOT EXISTS (SELECT 1 FROM audit.load_log l2 "
        f"WHERE l2.raw_table = {t} AND l2.file = {r} AND l2.status IN ('loaded', 'refused') "
        f"AND l2.finished_at > l.finished_at AND l2.file_sha256 IS DISTINCT FROM {h})) "
        f"ORDER BY file = {r} DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def _batches_loaded(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> set[str]:
    """Batch names (file stems) of the object loaded before: a file under one of them is a re-delivery."""
    rows = con.execute(
        f"SELECT DISTINCT file FROM audit.load_log WHERE raw_table = {quote_literal(obj.table)} AND status = 'loaded'"
    ).fetchall()
    return {Path(r[0]).stem for r in rows}


class Loader:
    """Loads new batch files of contract objects into one warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, landing_dir: Path, run_id: str | None = None):
        self.con = con
        self.landing_dir = Path(landing_dir)
        self.run_id = run_id or uuid.uuid4().hex
        self._landing_reported = False
        ensure_raw_schema(con)

    # -- public -----------------------------------------------------------------------------------
    def load_object(
        self, obj: SourceObject, on_file: Callable[[FileResult], None] | None = None
    ) -> ObjectResult:
        check_landing(self.landing_dir)
        result = ObjectResult(obj.table)

        def done(fr: FileResult) -> None:
            result.files.append(fr)
            if on_file:
                on_file(fr)

        files, others = discover_files(self.landing_dir, obj)
        for entry in self._landing_wide() + others:
            done(self._report_entry(entry))
        for step in self._plan(obj, files):
            if isinstance(step, list):
                for fr in self._load_group(obj, step):
                    done(fr)
            else:
                path, sha = step
                done(self.load_file(obj, path, sha=sha))
        return result

    def load_file(self, obj: SourceObject, path: Path, *, sha: str | None = None) -> FileResult:
        try:
            rel = path.relative_to(self.landing_dir).as_posix()
        except ValueError:
            rel = str(path)
        rel = shown_name(rel)
        if ".." in Path(rel).parts or _escapes(self.landing_dir, path):
            # Callers may pass names from outside (a sensor, an API): never read beyond the landing zone.
            return self._report_entry(
                Entry(
                    rel,
                    "refused",
                    f"is outside the landing zone {self.landing_dir}; not read",
                    obj,
                    obj.source,
                )
            )
        if not _is_utf8(str(path)):
            return self._report_entry(Entry(rel, "refused", NOT_UTF8, obj, obj.source))
        started = time.perf_counter()
        try:
            sha = sha or sha256_file(path)
            size = path.stat().st_size
        except OSError as exc:
            return self._report_entry(
                Entry(
                    rel,
                    "refused",
                    f"cannot be read ({_os_reason(exc)}); fix its permissions or re-deliver it",
                    obj,
                    obj.source,
                )
            )
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
        redelivery = path.stem in _batches_loaded(self.con, obj)
        try:
            # Parsing and validation only touch temp tables; the transaction holds just the writes.
            prepared = self._prepare(obj, path)
            new = _GroupFile(path, rel, sha, size, (), load_id)
            fr = self._write(obj, [new], prepared, started, redelivery=redelivery)[0]
        except RefusedFile as exc:
            fr = FileResult(rel, obj.table, "refused", message=f"{rel}: {exc}")
            self._log(obj, rel, sha, size, fr, started, load_id=load_id)
            log.error("refused %s", fr.message)
        except WarehouseError:
            raise
        except Exception as exc:  # one file's failure never stops the others: refused, with its cause
            # Disk full, read-only or vanished warehouse: say so, not DuckDB's internals, and stop.
            failure = None if _names_file(exc, path) else write_failure(self.con, rel, exc)
            if failure is not None:
                raise failure from exc
            fr = FileResult(
                rel, obj.table, "refused", message=f"{rel}: could not be read ({_os_reason(exc)})"
            )
            self._log(obj, rel, sha, size, fr, started, load_id=load_id)
            log.error("refused %s", fr.message)
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
        loaded_stems = _batches_loaded(self.con, obj)
        sizes = {}
        for p in files:
            try:
                sizes[p] = p.stat().st_size
            except OSError:
                sizes[p] = None  # load_file says why it cannot be read
        to_hash = [p for p in files if sizes[p] and p.suffix.lower() != ".parquet"]
        # hashlib releases the GIL: both cores hash (1.5 GB of scale-10 files: 2.3 s instead of 4.6 s)
        with ThreadPoolExecutor(max_workers=2) as pool:
            shas = dict(zip(to_hash, pool.map(_sha_or_none, to_hash), strict=True))
        for path in files:
            size, sha = sizes[path], shas.get(path)
            if sha is None:
                candidates.append((path, None))
                continue
            rel = path.relative_to(self.landing_dir).as_posix()
            # A name loaded before goes alone: its rows are compared with that earlier delivery's (load_file).
            if (
                sha in seen_sha
                or path.stem in seen_stem
                or path.stem in loaded_stems
                or _already_loaded(self.con, obj.table, sha, rel)
            ):
                candidates.append((path, sha))
                continue
            seen_sha.add(sha)
            seen_stem.add(path.stem)
            candidates.append(_GroupFile(path, rel, sha, size, (), f"{obj.table}:{sha[:20]}"))
        schemas = self._schemas(obj, [c.path for c in candidates if isinstance(c, _GroupFile)])
        for c in candidates:
            schema = schemas.get(c.path) if isinstance(c, _GroupFile) else None
            if not isinstance(c, _GroupFile) or schema is None:
                flush()
                steps.append(c if not isinstance(c, _GroupFile) else (c.path, c.sha))
                continue
            c.schema = schema
            if group and (
                group[0].schema != schema
                or sum(g.size for g in group) + c.size > MAX_GROUP_BYTES
                or len(group) >= MAX_GROUP_FILES
            ):
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
                except (RefusedFile, OSError):
                    continue
                if header and obj.key.lower() in {normalized(h) for h in header}:
                    out[p] = tuple(header)
            return out
        if len(paths) < 2:
            return out
        found: dict[str, list[str]] = {}
        # One scan for all files; when a file has a line that is not a JSON object the scan fails, and
        # each file is asked alone, so only the odd one takes the tolerant path.
        for batch in [paths] + [[p] for p in paths]:
            lst = "[" + ", ".join(reader_path(p) for p in batch) + "]"
            try:
                rows = self.con.execute(
                    f"SELECT filename, list_sort(list(DISTINCT k)) FROM (SELECT filename, unnest(json_keys(json)) "
                    f"AS k FROM read_ndjson_objects({lst}, filename = true, maximum_object_size = {MAX_LINE_BYTES}, "
                    f"{READER_OPTIONS})) GROUP BY ALL"
                ).fetchall()
            except duckdb.Error:
                continue
            found.update({r[0]: r[1] for r in rows})
            if batch is paths:
                break
        for p in paths:
            keys = found.get(os.path.abspath(p)) or []
            lowered = [k.lower() for k in keys]
            # distinct column names for read_json, none named like the group's file column, none empty
            if keys and len(set(lowered)) == len(keys) and FILE_COL not in lowered and "" not in keys:
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
        table = quote_ident(obj.table)
        if obj.version is None:
            # Without a version stamp the later batch wins; a group's rows are compared with raw's latest
            # version only, which is file-by-file's rule when every batch is newer than raw's.
            newest = self.con.execute(f"SELECT max(_batch) FROM raw.{table}").fetchone()[0]
            if newest is not None and min(g.path.stem for g in group) <= newest:
                raise _GroupFallback("a batch is not newer than raw's newest")
        columns = list(group[0].schema)
        mode = self._stage_group(obj, group, columns)
        values = ", ".join(
            f"({i}, {_sql_values([os.path.abspath(g.path), g.rel, g.path.stem, g.load_id])})"
            for i, g in enumerate(group)
        )
        self.con.execute(
            "CREATE TEMP TABLE _files (_ord INTEGER, _file VARCHAR, _rel VARCHAR, _batch VARCHAR, _load_id VARCHAR)"
        )
        self.con.execute(f"INSERT INTO _files VALUES {values}")
        # A multi-file scan keeps files and rows in order (insertion order is preserved): a row's number
        # in its file is its distance from the file's first row.
        group_src = (
            f"SELECT s.rowid AS _rid, s.rowid - f._start + 1 AS _row_number, f._ord, s.* EXCLUDE ({FILE_COL}) "
            f"FROM _stage s JOIN (SELECT {FILE_COL}, min(st.rowid) AS _start, any_value(_ord) AS _ord FROM _stage st "
            f"JOIN _files ON _file = {FILE_COL} GROUP BY ALL) f USING ({FILE_COL})"
        )
        typed = build_typed_select(self.con, obj, columns, mode, group_src=group_src)
        create_typed(self.con, typed)
        return self._write(obj, group, Prepared(typed, mode, 0, None), started)

    def _stage_group(self, obj: SourceObject, group: list[_GroupFile], columns: list[str]) -> str:
        """Read the group's files into temp._stage, each row tagged with its file (FILE_COL); returns the mode."""
        con = self.con
        try:
            if obj.kind != "csv":
                con.execute(
                    f"CREATE TEMP TABLE _stage AS {_json_columns_scan([g.path for g in group], columns, FILE_COL)}"
                )
                return "json_columns"
            # File by file into one table: DuckDB's multi-file CSV scan was seen to drop a file's last
            # rows without a reject (an unterminated quote at the end of a later file); a scan of
            # one file reports them.
            for i, g in enumerate(group):
                scan = f"SELECT *, {quote_literal(os.path.abspath(g.path))} AS {FILE_COL} FROM {_csv_scan(g.path, len(columns))}"
                con.execute(f"INSERT INTO _stage {scan}" if i else f"CREATE TEMP TABLE _stage AS {scan}")
                if con.execute("SELECT count(*) FROM _rejects").fetchone()[0]:
                    raise _GroupFallback(f"{g.rel} has rows the CSV reader could not parse")
            return "csv"
        except duckdb.Error as exc:
            raise _GroupFallback(_first_line(exc)) from exc

    def _add_columns(self, obj: SourceObject, typed: Typed) -> None:
        """Columns that arrived but are not in the contract are kept, as text/JSON (in the open transaction)."""
        con = self.con
        # (the catalog query costs ~15 ms a file: only ask when the file brought extra columns)
        existing = {c.lower() for c in table_columns(con, "raw", obj.table)} if typed.extras else set()
        for e in typed.extras:
            if e.name.lower() not in existing:
                for table in (f"raw.{quote_ident(obj.table)}", current_table(obj)):
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_ident(e.name)} {e.type}")

    # -- internals --------------------------------------------------------------------------------
    def _report_entry(self, entry: Entry) -> FileResult:
        """Log an entry that is not loaded (refused or ignored) and return its result."""
        table = entry.obj.table if entry.obj else None
        fr = FileResult(entry.rel, table or "", entry.status, message=f"{entry.rel}: {entry.reason}")
        values = _sql_values(
            [
                f"{table or 'landing'}:{entry.status}",
                self.run_id,
                entry.source,
                entry.obj.name if entry.obj else None,
                table,
                entry.rel,
                None,
                None,
                entry.status,
                0,
                0,
                0,
                0,
                fr.message,
            ]
        )
        self.con.execute(
            f"INSERT INTO audit.load_log VALUES ({values}, current_timestamp, current_timestamp)"
        )
        (log.error if entry.status == "refused" else log.warning)("%s %s", entry.status, fr.message)
        return fr

    def _landing_wide(self) -> list[Entry]:
        """Entries outside every object folder, once per run: the first object loaded in a run reports them."""
        if self._landing_reported:
            return []
        self._landing_reported = True
        done = {
            r[0]
            for r in self.con.execute(
                f"SELECT file FROM audit.load_log WHERE run_id = {quote_literal(self.run_id)} "
                "AND status IN ('ignored', 'refused') AND raw_table IS NULL"
            ).fetchall()
        }
        return [e for e in landing_entries(self.landing_dir) if e.rel not in done]

    def _drop_temp(self) -> None:
        try:
            for t in ("_stage", "_typed", "_dupes", "_rejects", "_rejects_scan", "_rejected", "_files"):
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

    def _stage_json_columns(self, path: Path) -> list[str] | None:
        """Fast path for JSON lines: DuckDB's own reader, one JSON column per key. None when any line is
        not a JSON object, or an object repeats a key: then the tolerant line-by-line path takes over."""
        con = self.con
        src = f"read_ndjson_objects({reader_path(path)}, maximum_object_size = {MAX_LINE_BYTES}, {READER_OPTIONS})"
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
        if "" in keys:
            raise RefusedFile(
                "a JSON key is the empty string; every value needs a field name (re-export the file from the source)"
            )
        if not keys or len({k.lower() for k in keys}) < len(keys):
            return None  # keys differing in case only: DuckDB's column names are case-insensitive
        try:
            con.execute(f"CREATE TEMP TABLE _stage AS {_json_columns_scan([path], keys)}")
        except duckdb.Error:
            con.execute("DROP TABLE IF EXISTS temp._stage")
            return None  # e.g. an object repeating a key: DuckDB's reader refuses it, the tolerant path says which
        return keys

    def _stage(self, obj: SourceObject, path: Path) -> tuple[list[str], str]:
        """Read the file into temp._stage; returns (columns, mode) where mode is how _stage holds rows:
        'csv' (text columns), 'json_columns' (a JSON column per key) or 'json_lines' (raw lines).
        In the first two, the delivered column i is _stage's staged_name(i) and `columns` its delivered name."""
        con = self.con
        lit = reader_path(path)
        suffix = path.suffix.lower()
        if path.stat().st_size == 0:
            return [], obj.kind
        if suffix == ".parquet":
            src = f"read_parquet({lit}, {READER_OPTIONS})"
            try:
                cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
            except duckdb.Error as exc:
                raise RefusedFile(f"not a readable Parquet file ({_first_line(exc)})") from exc
            check_header(cols)
            try:
                if obj.kind == "csv":
                    casts = ", ".join(
                        f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(staged_name(i))}"
                        for i, c in enumerate(cols)
                    )
                    con.execute(f"CREATE TEMP TABLE _stage AS SELECT {casts} FROM {src}")
                    return cols, "csv"
                row = "_salesdw_row"  # the row as one value; a column of that name would shadow it
                while row.lower() in {c.lower() for c in cols}:
                    row += "_"
                con.execute(
                    f"CREATE TEMP TABLE _stage AS SELECT CAST(to_json({row}) AS VARCHAR) AS line FROM {src} {row}"
                )
                return ["line"], "json_lines"
            except duckdb.Error as exc:
                raise RefusedFile(f"not a readable Parquet file ({_first_line(exc)})") from exc
        if obj.kind == "csv":
            header = csv_columns_from_header(path)
            if not header:
                return [], "csv"
            sql = f"CREATE TEMP TABLE _stage AS SELECT * FROM {_csv_scan(path, len(header))}"
        else:
            keys = self._stage_json_columns(path)
            if keys is not None:
                return keys, "json_columns"
            header = ["line"]
            # One record per line: a delimiter that valid JSON text never contains raw, and no quoting.
            sql = (
                f"CREATE TEMP TABLE _stage AS SELECT * FROM read_csv({lit}, header = false, "
                f"columns = {{'line': 'VARCHAR'}}, delim = chr(31), quote = '', escape = '', {_REJECT_OPTIONS})"
            )
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            if write_failure(con, "", exc) is not None:
                raise  # the disk is full (DuckDB's temp files): load_file says so and stops
            problem = _unreadable(path)
            if problem:
                raise RefusedFile(
                    f"cannot be read ({problem}); fix its permissions or re-deliver it"
                ) from exc
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
        if mode == "csv" and obj.key.lower() not in {normalized(c) for c in columns}:
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
        n_rejects = 0
        if has_rejects and con.execute("SELECT count(*) FROM _rejects").fetchone()[0]:
            con.execute(f"CREATE TEMP TABLE _rejected AS {_REJECTED_RECORDS}")
            n_rejects = con.execute("SELECT count(*) FROM _rejected").fetchone()[0]
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
        typed = build_typed_select(con, obj, columns, mode)
        create_typed(con, typed)
        return Prepared(typed, mode, n_rejects, n_staged)

    def _write(
        self,
        obj: SourceObject,
        files: list[_GroupFile],
        prep: Prepared | None,
        started: float,
        *,
        redelivery: bool = False,
    ) -> list[FileResult]:
        """The one write path of a file and of a group: temp._typed's new versions into raw, its bad rows
        into quarantine, a load-log row per file; all in one transaction. One result per file, in order.
        prep is None for an empty file (nothing staged)."""
        with transaction(self.con):  # the writes of a file or a group: all committed, or all rolled back
            if prep is None:
                results = [FileResult(g.rel, obj.table, "loaded", message="empty file") for g in files]
            else:
                results = self._write_rows(obj, files, prep, redelivery)
            for g, fr in zip(files, results, strict=True):
                self._log(obj, g.rel, g.sha, g.size, fr, started, load_id=g.load_id)
        return results

    def _write_rows(
        self, obj: SourceObject, files: list[_GroupFile], prep: Prepared, redelivery: bool
    ) -> list[FileResult]:
        con = self.con
        of = _origin(files)
        self._add_columns(obj, prep.typed)
        target, sel = _insert_columns(obj, prep.typed)
        # No ORDER BY: every reader orders by _batch/_row_number itself, and sorting each file's
        # rows before the insert cost 40-60 % of the insert (76k events: 1.1-1.5 s vs 0.5-0.7 s).
        inserted = con.execute(
            f"INSERT INTO raw.{quote_ident(obj.table)} ({target}) "
            f"SELECT {sel}, t._record_hash, {of.load_id}, current_timestamp, {of.rel}, {of.batch}, t._row_number "
            f"{_new_rows(obj, files, redelivery)}"
        ).fetchone()[0]
        if inserted:
            load_ids = ", ".join(quote_literal(g.load_id) for g in files)
            refresh_current(con, obj, f"_load_id IN ({load_ids})")
        loaded = {files[0].load_id: inserted} if len(files) == 1 else self._loaded(obj)
        counts = {
            r[0]: (r[1], r[2])
            for r in con.execute(
                f"SELECT {of.ord}, count(*), count(*) FILTER (WHERE len(_errors) > 0) FROM _typed t{of.group_by}"
            ).fetchall()
        }
        if any(bad for _, bad in counts.values()):
            con.execute(
                f"INSERT INTO audit.quarantine SELECT {of.load_id}, {_sql_values([obj.source, obj.name, obj.table])}, "
                f"{of.rel}, t._row_number, CAST(t.{quote_ident(obj.key)} AS VARCHAR), t._errors[1].code, "
                f"array_to_string(list_transform(t._errors, e -> e.message), '; '), {prep.typed.raw_expr}, "
                f"current_timestamp FROM {of.rows} {of.stage} WHERE len(t._errors) > 0 ORDER BY {of.order}"
            )
        # Rejects come from one file only: a group falls back to file by file when the CSV reader rejects a row.
        if prep.n_rejects:
            g = files[0]
            con.execute(
                f"INSERT INTO audit.quarantine SELECT {_sql_values([g.load_id, obj.source, obj.name, obj.table, g.rel])}, "
                "NULL, NULL, 'unparseable_row', 'line ' || line || ': ' || message, raw, current_timestamp "
                "FROM _rejected ORDER BY line"
            )
        return [
            _result(obj, g, prep, *counts.get(i, (0, 0)), loaded.get(g.load_id, 0))
            for i, g in enumerate(files)
        ]

    def _loaded(self, obj: SourceObject) -> dict[str, int]:
        """Rows a group's insert stored, by load id (each file of a group has its own, new load id)."""
        return dict(
            self.con.execute(
                f"SELECT _load_id, count(*) FROM raw.{quote_ident(obj.table)} "
                "WHERE _load_id IN (SELECT _load_id FROM _files) GROUP BY ALL"
            ).fetchall()
        )


@dataclass(frozen=True)
class _Origin:
    """SQL over `_typed t` naming each row's file: literals for one file, the _files table for a group.
    A file alone is typed without _ord and _rid (it may be staged as raw lines, which a group never is)."""

    ord: str  # the file's position in the group
    group_by: str
    load_id: str
    rel: str
    batch: str
    rows: str  # FROM clause: t (and f, a group's _files row)
    stage: str  # joins `_stage s`, the rows as staged (a quarantined row's raw record is rebuilt from it)
    order: str


def _origin(files: list[_GroupFile]) -> _Origin:
    if len(files) == 1:
        g = files[0]
        return _Origin(
            "0",
            "",
            quote_literal(g.load_id),
            quote_literal(g.rel),
            quote_literal(g.path.stem),
            "_typed t",
            "JOIN (SELECT rowid + 1 AS _rn, * FROM _stage) s ON s._rn = t._row_number",
            "t._row_number",
        )
    return _Origin(
        "_ord",
        " GROUP BY ALL",
        "f._load_id",
        "f._rel",
        "f._batch",
        "_typed t JOIN _files f USING (_ord)",
        "JOIN (SELECT rowid AS _rid, * FROM _stage) s USING (_rid)",
        "t._ord, t._row_number",
    )


def _result(
    obj: SourceObject, g: _GroupFile, prep: Prepared, n_rows: int, n_bad: int, loaded: int
) -> FileResult:
    fr = FileResult(g.rel, obj.table, "loaded")
    fr.rows_in = n_rows + prep.n_rejects
    fr.rows_loaded = loaded
    fr.rows_quarantined = n_bad + prep.n_rejects
    # Exact duplicates within the file and versions already in raw carry nothing new.
    fr.rows_unchanged = fr.rows_in - fr.rows_loaded - fr.rows_quarantined
    staged = n_rows if prep.n_staged is None else prep.n_staged
    if staged == 0 and prep.n_rejects == 0:
        fr.message = "no records (header only)" if prep.mode == "csv" else "no records"
    return fr


def _new_rows(obj: SourceObject, files: list[_GroupFile], redelivery: bool) -> str:
    """FROM/WHERE of temp._typed's rows that are new versions (a version already in raw is not stored
    twice: re-exports overlap). A file alone may be a re-delivery or older than raw's newest batch;
    a group is planned to hold neither, and compares across its files."""
    good = "len(t._errors) = 0 AND t._first_of_dupes"
    table, key = quote_ident(obj.table), quote_ident(obj.key)
    if len(files) == 1:
        return (
            f"FROM _typed t WHERE {good} AND NOT EXISTS (SELECT 1 FROM raw.{table} r "
            f"WHERE r.{key} = t.{key} AND r._record_hash = t._record_hash "
            f"{_again(obj, quote_literal(files[0].path.stem), redelivery)})"
        )
    if obj.version:
        # A version is stored once: not if raw has it, and only from the first file of the group.
        return (
            f"FROM _typed t JOIN _files f USING (_ord) "
            # an explicit anti join: NOT EXISTS became a delim join that first aggregated every row
            f"ANTI JOIN raw.{table} r ON r.{key} = t.{key} AND r._record_hash = t._record_hash "
            f"LEFT JOIN (SELECT {key}, _record_hash, min(_ord) AS _first FROM _typed t WHERE {good} "
            f"AND hash({key}, _record_hash) IN (SELECT hash({key}, _record_hash) FROM _typed t WHERE {good} "
            "GROUP BY ALL HAVING count(*) > 1) "  # the same 64-bit prefilter as build_typed_select's dupes
            f"GROUP BY ALL HAVING count(*) > 1) x ON x.{key} = t.{key} AND x._record_hash = t._record_hash "
            f"WHERE {good} AND (x._first IS NULL OR t._ord = x._first)"
        )
    # The latest batch wins: a row is a new version unless the version before it (in raw, or in an
    # earlier file of the group) has the same content.
    return (
        f"FROM (SELECT *, lag(_record_hash) OVER (PARTITION BY {key} ORDER BY _ord) AS _prev "
        f"FROM _typed t WHERE {good}) t JOIN _files f USING (_ord) "
        f"LEFT JOIN (SELECT {key}, arg_max(_record_hash, (_batch, _loaded_at, _row_number)) AS _latest FROM raw.{table} "
        f"WHERE {key} IN (SELECT {key} FROM _typed) GROUP BY ALL) l ON l.{key} = t.{key} "
        "WHERE coalesce(t._prev, l._latest) IS DISTINCT FROM t._record_hash"
    )


def _again(obj: SourceObject, batch: str, redelivery: bool) -> str:
    """The extra condition under which a file's row whose key and content raw already has is not stored."""
    table, key = quote_ident(obj.table), quote_ident(obj.key)
    if not obj.version:
        # Without a version stamp the latest batch wins, so a record that returns to an earlier content
        # (B between two A's) is a new version: skip it only if no other content lies between the two.
        return (
            f"AND NOT EXISTS (SELECT 1 FROM raw.{table} r2 WHERE r2.{key} = t.{key} "
            f"AND r2._record_hash <> t._record_hash "
            f"AND r2._batch BETWEEN least(r._batch, {batch}) AND greatest(r._batch, {batch}))"
        )
    if redelivery:
        # A name delivered again is a later delivery: on a version tie its content must become current,
        # also when it returns to content an earlier delivery had (A, then B, then A again).
        version = quote_ident(obj.version)
        return (
            f"AND NOT EXISTS (SELECT 1 FROM raw.{table} r2 WHERE r2.{key} = t.{key} "
            f"AND r2.{version} IS NOT DISTINCT FROM t.{version} AND r2._record_hash <> t._record_hash)"
        )
    return ""


_REJECT_OPTIONS = (
    "store_rejects = true, rejects_table = '_rejects', rejects_scan = '_rejects_scan', "
    f"strict_mode = true, auto_detect = false, max_line_size = {MAX_LINE_BYTES}, {READER_OPTIONS}"
)

# One row per record DuckDB's CSV reader rejected: (line, message, raw text). A quote left open swallows the
# records after it up to the next quote (DuckDB reports them as one rejected "line"): each physical line it
# swallowed is counted and quarantined as the record it was meant to be.
_REJECTED_RECORDS = """
WITH r AS (
  SELECT line, first(error_type ORDER BY column_idx) AS kind, first(error_message ORDER BY column_idx) AS message,
         first(csv_line ORDER BY column_idx) AS csv_line
  FROM _rejects GROUP BY line
), parts AS (
  SELECT line, message, CASE WHEN kind = 'UNQUOTED VALUE' AND contains(csv_line, chr(10))
    THEN string_split(rtrim(csv_line, chr(10) || chr(13)), chr(10)) ELSE [trim(csv_line, chr(10) || chr(13))] END AS p
  FROM r
)
SELECT line + g.i - 1 AS line,
  CASE WHEN g.i = 1 THEN message ELSE 'swallowed by the quote left open on line ' || line END AS message,
  rtrim(p[g.i], chr(13)) AS raw
FROM parts, unnest(range(1, len(p) + 1)) AS g(i)
"""


def _csv_scan(path: Path, n_columns: int) -> str:
    """read_csv of one delivered CSV file, its columns staged as staged_name(i), rejects kept."""
    colspec = "{" + ", ".join(f"{quote_literal(staged_name(i))}: 'VARCHAR'" for i in range(n_columns)) + "}"
    return (
        f"read_csv({reader_path(path)}, header = true, columns = {colspec}, delim = ',', quote = '\"', "
        f"escape = '\"', {_REJECT_OPTIONS})"
    )


def _json_columns_scan(paths: list[Path], keys: list[str], filename: str | None = None) -> str:
    """SELECT of JSON lines files as one JSON column per key, staged as staged_name(i) (plus the file name)."""
    lst = "[" + ", ".join(reader_path(p) for p in paths) + "]"
    colspec = "{" + ", ".join(f"{quote_literal(k)}: 'JSON'" for k in keys) + "}"
    cols = ", ".join(f"{quote_ident(k)} AS {quote_ident(staged_name(i))}" for i, k in enumerate(keys))
    opts = f", filename = {quote_literal(filename)}" if filename else ""
    return (
        f"SELECT {cols}{', ' + filename if filename else ''} FROM read_json({lst}, format = 'newline_delimited', "
        f"columns = {colspec}, maximum_object_size = {MAX_LINE_BYTES}, {READER_OPTIONS}{opts})"
    )


def _insert_columns(obj: SourceObject, typed: Typed) -> tuple[str, str]:
    """(raw column list, SELECT list over `_typed t`) of an insert, up to the load metadata columns."""
    fields = [c for c in raw_columns(obj) if not c.startswith("_")]
    meta = ["_record_hash", "_load_id", "_loaded_at", "_source_file", "_batch", "_row_number"]
    target = ", ".join(quote_ident(c) for c in fields + [e.name for e in typed.extras] + meta)
    sel = ", ".join(
        [f"t.{quote_ident(c)}" for c in fields] + [f"t.{quote_ident(e.internal)}" for e in typed.extras]
    )
    return target, sel


def _names_file(exc: BaseException, path: Path) -> bool:
    """Is the error the operating system's about reading this landing file (not about the warehouse)?"""
    return (
        isinstance(exc, OSError)
        and exc.filename is not None
        and os.path.abspath(exc.filename) == os.path.abspath(path)
    )


def _unreadable(path: Path) -> str | None:
    """Why the file cannot be opened and read now (it vanished, its permissions changed), else None."""
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        return _os_reason(exc)
    return None


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
            "files_ignored": sum(f.status == "ignored" for f in fs),
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

"""What arrived in the landing zone since last time: new batch files by content, per object.

Pure functions for the file sensor: no warehouse access (a running load may hold the DuckDB lock),
only the files and a small state of what was already seen (path -> size, mtime, sha256).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ingestion.contract import OBJECTS, SourceObject
from ingestion.loader import discover_files, sha256_file

Seen = dict[str, list]  # relative path -> [size, mtime_ns, sha256]


def scan_landing(
    landing: Path, seen: Seen, objects: Iterable[SourceObject] = OBJECTS
) -> tuple[dict[str, list[str]], Seen]:
    """Returns ({table: [new relative paths]}, new state). A file is new when its content (sha256)
    was never seen before, under any name: a re-delivery of the same bytes triggers nothing."""
    known_shas = {v[2] for v in seen.values()}
    state: Seen = {}
    new: dict[str, list[str]] = {}
    for obj in objects:
        files, _ = discover_files(landing, obj)
        for path in files:
            rel = path.relative_to(landing).as_posix()
            prior = seen.get(rel)
            try:
                st = path.stat()
                if prior and prior[0] == st.st_size and prior[1] == st.st_mtime_ns:
                    state[rel] = prior
                    continue
                sha = sha256_file(path)
            except OSError:
                # Unreadable now: the load refuses it with the reason, so a run is started for it.
                new.setdefault(obj.table, []).append(rel)
                continue
            state[rel] = [st.st_size, st.st_mtime_ns, sha]
            # Unversioned objects: a new batch name with old bytes may be a record's return to an earlier
            # state (the later batch wins), so it is new too; the loader skips rows that change nothing.
            # A name delivered again with other content is a later delivery, whatever bytes it holds.
            changed = prior is not None and prior[2] != sha
            if sha not in known_shas or changed or (obj.version is None and prior is None):
                known_shas.add(sha)
                new.setdefault(obj.table, []).append(rel)
    # Keep hashes of files since removed from the landing zone, so their re-delivery stays a no-op.
    for rel, v in seen.items():
        state.setdefault(rel, v)
    return new, state

"""A landing file replaced by other bytes is new, even when the replacement keeps the old size and mtime (`cp -p`,
`rsync -t`, `touch -r`, an archive unpacked): `salesdw run`, the schedules and the sensor must not take it for the
file already loaded (orchestration/changes.py, whose hash cache is keyed on the file's stamp)."""

from __future__ import annotations

import os

from ingestion.loader import load_landing
from ingestion.settings import Settings
from ingestion.warehouse import connect
from orchestration.changes import new_in_landing


def test_a_file_replaced_with_its_old_size_and_mtime_is_new():
    settings = Settings.from_env()
    path = settings.landing_dir / "crm" / "Opportunity" / "batch_1.csv"
    path.parent.mkdir(parents=True)
    path.write_text("Id,Name\n006A,first\n")
    con = connect(settings.warehouse)
    try:
        load_landing(con, settings.landing_dir)
    finally:
        con.close()
    new, _ = new_in_landing(settings)
    assert new == {}  # logged, and its hash now cached

    before = path.stat()
    replacement = path.with_name("incoming.tmp")
    replacement.write_text("Id,Name\n006B,fixed\n")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    new, _ = new_in_landing(settings)
    assert new == {"crm__opportunity": ["crm/Opportunity/batch_1.csv"]}

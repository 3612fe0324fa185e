"""Every path setting is isolated per test by tests/conftest.py, so no test touches the developer's data/."""

from __future__ import annotations

import os
from pathlib import Path

from ingestion.settings import PROJECT_ROOT, location_settings


def _path_settings() -> list[str]:
    """The settings whose default is a folder or file under data/ (the project's own state)."""
    return sorted(location_settings())


def test_every_path_setting_points_into_this_tests_tmp_path(tmp_path: Path):
    names = _path_settings()
    # landing, warehouse, marts, reports, lake, spark home and the connector spool
    assert len(names) == 7, names
    for name in names:
        value = Path(os.environ[name])
        assert value.is_relative_to(tmp_path), (name, value)
        assert not value.is_relative_to(PROJECT_ROOT / "data"), (name, value)

"""The README stays a newcomer's page and keeps step with the code; docs/ is reference, not history."""

from __future__ import annotations

import re

from ingestion.settings import PROJECT_ROOT, VARIABLES

README = PROJECT_ROOT / "README.md"
DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
# Read outside ingestion/settings.py, and documented in the same table: Dagster's own home, and the browser the
# screenshots use (expectations/report_browser.py).
OTHER_VARIABLES = {"DAGSTER_HOME": "data/dagster", "SALESDW_CHROMIUM": "/usr/bin/chromium"}


def configuration_table() -> dict[str, str]:
    """variable -> its table row, from the README's Configuration section."""
    text = README.read_text()
    section = text[text.index("## Configuration") :]
    section = section[: section.index("\n## ", 3)]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            names_cell = line.split("|")[1]
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", names_cell):
                rows[name] = line
    return rows


def dbt_settings() -> set[str]:
    """The SALESDW_* variables dbt_project.yml reads (the dbt vars' environment overrides)."""
    text = (PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text()
    return set(re.findall(r"env_var\('(SALESDW_[A-Z_]+)'", text))


def test_readme_is_short():
    assert len(README.read_text().splitlines()) <= 150


def test_configuration_table_lists_every_setting_with_its_default():
    table = configuration_table()
    expected = set(VARIABLES) | dbt_settings() | set(OTHER_VARIABLES)
    assert set(table) == expected, {"undocumented": expected - set(table), "unknown": set(table) - expected}
    defaults = {name: default for name, (default, _) in VARIABLES.items()} | OTHER_VARIABLES
    wrong = {
        name: table[name]
        for name, default in defaults.items()
        if default and f"`{default}`" not in table[name]
    }
    assert wrong == {}


def test_docs_explain_the_system_not_its_history():
    progress = re.compile(
        r"\bissue \d+|\bMeasured \d{4}-\d\d-\d\d|\bbefore this work\b|\bthis session\b", re.I
    )
    found = {p.name: progress.findall(p.read_text()) for p in [README, *DOCS]}
    assert {k: v for k, v in found.items() if v} == {}


def test_links_and_make_targets_exist():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    for page in [README, *DOCS]:
        text = page.read_text()
        for link in re.findall(r"\]\(([^)#]+)\)", text):
            if not link.startswith("http"):
                assert (page.parent / link).exists(), f"{page.name}: {link}"
        for target in re.findall(r"`make ([a-z][a-z-]*)", text):
            assert target in targets, f"{page.name}: make {target}"

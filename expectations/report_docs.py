"""The Great Expectations Data Docs site of the data-quality report, rendered by GE itself, working offline.

``build_data_docs(report_dir, run_ids)`` fills the validation-results store of an in-memory GE context
(analytics off) with the ``ExpectationSuiteValidationResult`` JSON that ``expectations.store`` kept for
each run, adds each suite (rebuilt from the configurations in those results, so the index's suite links
work), and lets GE's ``SiteBuilder`` write the site to ``report_dir/gx/data_docs``.

GE's page templates load Bootstrap, jQuery, Popper, bootstrap-table, bootstrap-datepicker, Font Awesome,
Vega and a dark Bootstrap theme from public CDNs (``great_expectations/render/view/templates/*.j2``) and
its logo from S3: offline the pages render unstyled and the index (filled by bootstrap-table) is empty.
The copies vendored under ``expectations/static/vendor`` (``scripts/vendor_report_assets.sh``) are copied
into the site, and every page's CDN URLs are rewritten to them (``ASSETS``). GE's newsletter footer is
replaced by a link back to the sales-ops summary.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
SITE_NAME = "salesdw"
SITE_DIR = Path("gx") / "data_docs"  # under the report dir
VENDOR_IN_SITE = "static/vendor"  # under the site root

# CDN URL in GE 1.24's templates -> the vendored copy (relative to expectations/static/vendor).
ASSETS: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    # The templates ask for 1.19.0's filter-control CSS next to 1.19.1's JS; 1.19.1's CSS is used for both.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js"
    ),
    # The minified build of the same file (GE links the 880 KB unminified one).
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark/dist/css/bootstrap-prefers-dark.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-free/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}
# Images GE takes from its S3 bucket -> the copies GE itself puts in the site's static/images.
GE_IMAGES: dict[str, str] = {
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png": "static/images/logo-long.png",
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png": "static/images/logo-long.png",
}
# An asset reference (script, stylesheet, image, font) that still leaves the machine.
EXTERNAL_ASSET = re.compile(
    r"""<(?:script|img|source|iframe)\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//"""
    r"""|@import\s+["'](?:https?:)?//""",
    re.IGNORECASE,
)
_SRI = re.compile(r"""\s+(?:integrity|crossorigin)\s*=\s*("[^"]*"|'[^']*'|\S+)""")
_TAG_WITH_ASSET = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_FAVICON = re.compile(r"""href="(?:\.\./)*static/images/favicon\.ico""")
_FOOTER = re.compile(r"<footer>\s*<p>Stay current on everything GX.*?</footer>", re.DOTALL)
_IMG_URL = re.compile(r"""(src="|url\(')(https://great-expectations-web-assets\.s3\.[^"'?]+)(\?[^"']*)?""")


def external_assets(html: str) -> list[str]:
    """The script/style/image/font references in ``html`` that point off the machine (none, offline)."""
    return [html[m.start() : m.start() + 160] for m in EXTERNAL_ASSET.finditer(html)]


def build_data_docs(report_dir: Path, runs: dict[str, list[dict[str, Any]]], summary_href: str) -> Path:
    """(Re)write the Data Docs site under ``report_dir/gx/data_docs`` from stored results; its index.html.

    ``runs``: run id -> the stored suite documents of that run (``expectations.store.load_run``), oldest
    run first. ``summary_href``: the sales-ops summary, relative to the report dir (linked from every page).

    A run's validation pages never change once written (its stored results do not), so the pages of a run the
    current site already holds in full are carried into the new site, and GE renders the other runs' pages, the
    suite pages and the index. A site written by another GE version or another version of this module
    (``site_format``) is rendered anew.
    """
    report_dir = Path(report_dir)
    site = report_dir / SITE_DIR
    tmp = site.with_name(f".{site.name}.{uuid.uuid4().hex[:8]}.tmp")
    fmt = site_format()
    try:
        carried = _carried_pages(site, runs, fmt)
        for rel in carried:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site / rel, tmp / rel)
        _render_site(tmp, runs, carried_runs={_run_of(rel) for rel in carried})
        _vendor_assets(tmp)
        _rewrite_pages(
            tmp, summary_site_rel=os.path.relpath(report_dir / summary_href, site), skip=set(carried)
        )
        (tmp / SITE_FORMAT_FILE).write_text(fmt)
        if site.exists():
            old = site.with_name(f".{site.name}.{uuid.uuid4().hex[:8]}.old")
            site.rename(old)
            tmp.rename(site)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(site)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return site / "index.html"


SITE_FORMAT_FILE = ".salesdw_site_format"  # in the site root: which GE and which renderer wrote its pages


def site_format() -> str:
    """GE's version and a digest of this module: pages written under another one are not carried over."""
    import great_expectations as gx

    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"great_expectations {gx.__version__}; report_docs {digest}"


def _run_of(rel: Path) -> str:
    """The run of a validation page (validations/<suite parts>/<run>/<time>/<batch>.html)."""
    return rel.parts[-3]


def _carried_pages(site: Path, runs: dict[str, list[dict[str, Any]]], fmt: str) -> list[Path]:
    """The validation pages (relative to the site) of every run in ``runs`` whose pages the current site holds
    all of: one per stored GE result. An empty list when the site is missing or of another format than ``fmt``."""
    marker = site / SITE_FORMAT_FILE
    if not marker.is_file() or marker.read_text() != fmt:
        return []
    by_run: dict[str, list[Path]] = {}
    validations = site / "validations"
    for page in validations.rglob("*.html") if validations.is_dir() else ():
        rel = page.relative_to(site)
        if len(rel.parts) >= 5:
            by_run.setdefault(_run_of(rel), []).append(rel)
    carried: list[Path] = []
    for run_id, docs in runs.items():
        pages = by_run.get(run_id, [])
        if pages and len(pages) == sum(1 for d in docs if d.get("ge_validation_result")):
            carried += pages
    return carried


def validation_page(site: Path, suite: str, run_id: str) -> Path | None:
    """The Data Docs page of ``suite`` in ``run_id`` (GE names it suite/parts/run/time/batch.html)."""
    folder = site / "validations" / Path(*suite.split(".")) / run_id
    pages = sorted(folder.glob("*/*.html")) if folder.is_dir() else []
    return pages[-1] if pages else None


def _render_site(
    out: Path, runs: dict[str, list[dict[str, Any]]], carried_runs: set[str] = frozenset()
) -> None:
    """GE's site in ``out``: a page per result of the runs not in ``carried_runs`` (whose pages are in ``out``
    already), the suite pages and the index. The index lists every run: a carried run's results go into the
    store without their expectation results, which only its (carried) pages show."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_cta_footer": False},
            }
        },
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    schema = ExpectationSuiteValidationResultSchema()
    suites: dict[str, list[dict[str, Any]]] = {}
    rendered: list[Any] = []
    for run_id, docs in runs.items():
        for doc in docs:
            ge = doc.get("ge_validation_result")
            if not ge:
                continue
            try:
                result = schema.load({**ge, "results": []} if run_id in carried_runs else ge)
            except Exception as exc:  # a result written by another GE version: skip it, keep the site
                log.warning("Data Docs: cannot read %s of run %s: %s", doc.get("suite"), run_id, exc)
                continue
            table = doc["suite"].split(".", 1)[-1]
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(doc["suite"]),
                run_id=RunIdentifier(run_name=run_id, run_time=doc.get("validated_at")),
                batch_identifier=table,
            )
            context.validation_results_store.set(key, result)
            if run_id not in carried_runs:
                rendered.append(key)
            suites[doc["suite"]] = [r.get("expectation_config") or {} for r in ge.get("results") or []]
    for name, configs in suites.items():  # the latest run's configuration of each suite
        try:
            _add_suite(context, name, configs)
        except Exception as exc:  # the suite page is a nicety; the validation pages matter
            log.warning("Data Docs: cannot add suite %s: %s", name, exc)
    # Pages for these only (GE renders every key of the store when the list is empty: never empty here, as
    # a run with results gives at least one suite).
    rendered += [ExpectationSuiteIdentifier(name) for name in suites]
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=rendered)


def _add_suite(context: Any, name: str, configs: list[dict[str, Any]]) -> None:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    suite = context.suites.add(__import__("great_expectations").ExpectationSuite(name=name))
    for cfg in configs:
        if not cfg.get("type"):
            continue
        kwargs = {k: v for k, v in (cfg.get("kwargs") or {}).items() if k != "batch_id"}
        expectation = ExpectationConfiguration(
            type=cfg["type"], kwargs=kwargs, meta=cfg.get("meta"), description=cfg.get("description")
        ).to_domain_obj()
        suite.expectations.append(expectation)
    context.suites.add_or_update(suite)


def _vendor_assets(site: Path) -> None:
    if not VENDOR_DIR.is_dir():
        raise FileNotFoundError(
            f"{VENDOR_DIR} is missing: run scripts/vendor_report_assets.sh to fetch the report's assets"
        )
    shutil.copytree(
        VENDOR_DIR, site / VENDOR_IN_SITE, ignore=shutil.ignore_patterns("README.md"), dirs_exist_ok=True
    )


def _rewrite_pages(site: Path, summary_site_rel: str, skip: set[Path] = frozenset()) -> None:
    """Every page GE wrote, with its assets local (``rewrite_page``); ``skip``: carried pages (rewritten
    already), relative to the site."""
    for page in site.rglob("*.html"):
        if page.relative_to(site) in skip:
            continue
        up = os.path.relpath(site, page.parent).replace(os.sep, "/")
        prefix = "" if up == "." else up + "/"
        text = page.read_text(encoding="utf-8")
        text = rewrite_page(text, prefix, prefix + summary_site_rel.replace(os.sep, "/"))
        leftover = external_assets(text)
        if leftover:
            log.warning("Data Docs page %s still loads from the network: %s", page, leftover[:3])
        page.write_text(text, encoding="utf-8")


def rewrite_page(text: str, root: str, summary_href: str) -> str:
    """One generated page with its CDN/S3 assets pointed at the local copies; ``root``: '../..'-style
    prefix from the page to the site root (empty for the index)."""

    def local(tag: re.Match[str]) -> str:
        t = tag.group(0)
        for url, rel in ASSETS.items():
            for quote in ('"', "'"):
                if f"{quote}{url}{quote}" in t:
                    t = t.replace(f"{quote}{url}{quote}", f'"{root}{VENDOR_IN_SITE}/{rel}"')
                    t = _SRI.sub("", t)  # file:// pages cannot load crossorigin scripts
        return t

    text = _TAG_WITH_ASSET.sub(local, text)

    def image(m: re.Match[str]) -> str:
        return m.group(1) + root + GE_IMAGES.get(m.group(2), "static/images/logo-long.png")

    text = _IMG_URL.sub(image, text)
    text = _FAVICON.sub(f'href="{root}static/images/favicon.ico', text)  # GE gets the depth wrong
    back = (
        f'<footer class="salesdw-footer" style="padding:1rem 3rem;border-top:1px solid #ddd">'
        f'<a href="{summary_href}">&larr; Back to the sales-ops summary (is today\'s data trustworthy?)</a>'
        f"</footer>"
    )
    text, n = _FOOTER.subn(back, text)
    if not n:
        text = text.replace("</body>", back + "</body>", 1)
    banner = (
        '<div class="alert alert-info mb-0 rounded-0" style="padding:.5rem 3rem">'
        f'<a href="{summary_href}"><strong>Sales-ops summary</strong>: can today\'s numbers be trusted?</a>'
        " &nbsp;This site holds the detailed results of every check.</div>"
    )
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, text, count=1)

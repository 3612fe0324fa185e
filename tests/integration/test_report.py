"""The data-quality report: summary facts, statuses, quarantine counts, dbt tests, trend, offline rendering.

One small hand-written warehouse (module fixture): CRM opportunities with an unknown stage (a critical
failure) and bad rows (quarantine), CRM users with a malformed e-mail (a warning), clean billing
invoices and two billing landing-zone entries the loader ignored, no activity data ever (not in use);
three stored runs (trusted, warning, blocked), marts published by the second run, and the dbt results
of the third run as dagster-dbt leaves them (run_results.json + manifest.json in a step's target dir).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from expectations.report import build_report
from expectations.report_browser import chromium_path, dump_dom, screenshot
from expectations.report_docs import SITE_FORMAT_FILE, build_data_docs, validation_page
from expectations.runner import validate
from expectations.store import load_run, save_result
from expectations.suites import all_suites
from ingestion.loader import load_landing
from ingestion.publish import publish_marts
from ingestion.warehouse import connect
from tests.conftest import write

OPP_HEADER = (
    "Id,Name,AccountId,OwnerId,StageName,Amount,Probability,CloseDate,IsClosed,IsWon,ForecastCategoryName,"
    "CurrencyIsoCode,CreatedDate,SystemModstamp,IsDeleted"
)
STAGE_HEADER = "Id,MasterLabel,SortOrder,IsClosed,IsWon,DefaultProbability,ForecastCategoryName,IsActive"
USER_HEADER = "Id,Name,Email,IsActive,CreatedDate,SystemModstamp"
TS = "2024-01-05T10:00:00.000Z"

OPP_SUITE = "raw.crm__opportunity__current"  # planted critical failure
USER_SUITE = "raw.crm__user__current"  # planted warning
INVOICE_SUITE = "raw.billing__invoice__current"  # clean
RUNS = {
    "run-1": [INVOICE_SUITE],
    "run-2": [INVOICE_SUITE, USER_SUITE],
    "run-3": [INVOICE_SUITE, USER_SUITE, OPP_SUITE],
}
MARTS = ("fct_opportunities", "dim_users", "rpt_unchecked")
IGNORED = {  # file -> reason, as the loader logs a landing-zone entry it does not load (status 'ignored')
    "billing/invoices/old/2024.jsonl": "a sub-folder of an object folder: move the file up into billing/invoices",
    "billing/exports.zip": "not a folder of a billing object: unzip it into the object folders",
}


def csv(*rows: str, header: str = OPP_HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def opp(id_: str, stage: str = "Prospecting", amount: str = "1000.00") -> str:
    return (
        f"{id_},Deal {id_},001000000000001AAA,005000000000001AAA,{stage},{amount},10,2024-03-31,false,false,"
        f"Pipeline,USD,{TS},{TS},false"
    )


def invoice(i: int) -> str:
    return json.dumps(
        {
            "id": f"in_{i}",
            "object": "invoice",
            "customer": f"cus_{i}",
            "status": "paid",
            "created": 1711904709 + i,
            "period_start": 1711904709,
            "period_end": 1714496709,
            "currency": "usd",
            "subtotal": 1000,
            "total": 1000,
            "amount_due": 1000,
            "amount_paid": 1000,
            "lines": {"object": "list", "data": [], "has_more": False},
        }
    )


DBT_TESTS = {  # unique_id -> (model, column, generic test, status, failing rows, severity)
    "test.salesdw.not_null_fct_opportunities_Id": ("fct_opportunities", "Id", "not_null", "pass", 0, "error"),
    "test.salesdw.unique_fct_opportunities_Id": ("fct_opportunities", "Id", "unique", "pass", 0, "error"),
    "test.salesdw.not_null_dim_users_email": ("dim_users", "email", "not_null", "warn", 2, "warn"),
}


def write_dbt_step(folder: Path) -> None:
    """A dbt step's target dir as dagster-dbt leaves it: the manifest it ran and its run_results.json."""
    folder.mkdir(parents=True)
    models = {
        f"model.salesdw.{m}": {
            "resource_type": "model",
            "package_name": "salesdw",
            "name": m,
            "schema": "marts",
            "config": {"materialized": "table", "contract": {"enforced": m == "fct_opportunities"}},
        }
        for m in ("fct_opportunities", "dim_users")
    }
    tests = {
        uid: {
            "resource_type": "test",
            "package_name": "salesdw",
            "name": uid.split(".")[-1],
            "column_name": column,
            "attached_node": f"model.salesdw.{model}",
            "test_metadata": {"name": generic, "kwargs": {"column_name": column}},
            "config": {"severity": severity},
            "depends_on": {"nodes": [f"model.salesdw.{model}"]},
        }
        for uid, (model, column, generic, _, _, severity) in DBT_TESTS.items()
    }
    unit = "unit_test.salesdw.fct_opportunities.test_won_amount"
    manifest = {
        "nodes": {**models, **tests},
        "unit_tests": {unit: {"name": "test_won_amount", "model": "fct_opportunities"}},
    }
    results = [{"unique_id": uid, "status": "success", "failures": None, "message": "OK"} for uid in models]
    results += [
        {
            "unique_id": uid,
            "status": status,
            "failures": n,
            "message": None if status == "pass" else f"Got {n} results",
        }
        for uid, (_, _, _, status, n, _) in DBT_TESTS.items()
    ]
    results.append({"unique_id": unit, "status": "pass", "failures": 0, "message": None})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "run_results.json").write_text(json.dumps({"metadata": {}, "results": results}))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("report")
    landing, wh, reports, marts = (
        root / "landing",
        root / "wh.duckdb",
        root / "reports",
        root / "serving.duckdb",
    )
    write(
        landing,
        "crm/OpportunityStage/b1.csv",
        csv(
            "01J000000000001AAA,Prospecting,1,false,false,10,Pipeline,true",
            "01J000000000002AAA,Closed Won,2,true,true,100,Closed,true",
            header=STAGE_HEADER,
        ),
    )
    write(
        landing,
        "crm/Opportunity/b1.csv",
        csv(
            opp("006000000000001AAA"),
            opp("006000000000002AAA", stage="Closed Won"),
            opp("006000000000003AAA", stage="Negotiation (old)"),  # not an OpportunityStage: critical
            opp("006000000000004AAA", stage="Mystery"),  # critical
            opp("006000000000005AAA", amount="abc"),  # wrong_type -> quarantine
            opp("006000000000006AAA", stage=""),  # missing_required -> quarantine
        ),
    )
    write(
        landing,
        "crm/User/b1.csv",
        csv(
            f"005000000000001AAA,Ann,ann@example.com,true,{TS},{TS}",
            f"005000000000002AAA,Bob,bob-at-example,true,{TS},{TS}",  # bad e-mail: warning
            header=USER_HEADER,
        ),
    )
    write(landing, "billing/invoices/b1.jsonl", "\n".join(invoice(i) for i in range(1, 6)) + "\n")
    con = connect(wh)
    load_landing(con, landing, run_id="run-3")
    for file, reason in IGNORED.items():
        con.execute(
            "INSERT INTO audit.load_log (load_id, run_id, source, file, status, message, started_at, finished_at) "
            "VALUES (?, 'run-3', 'billing', ?, 'ignored', ?, now(), now())",
            [f"ignored-{file}", file, reason],
        )
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.fct_opportunities AS SELECT Id FROM raw.crm__opportunity__current")
    con.close()
    publish_marts(wh, marts, run_id="run-2")
    con = connect(wh)
    con.execute("CREATE TABLE marts.dim_users AS SELECT Id FROM raw.crm__user__current")  # built after
    con.execute("CREATE TABLE marts.rpt_unchecked AS SELECT 1 AS x")  # no dbt test, no GE suite
    con.close()
    dbt_target = root / "dbt_target"
    write_dbt_step(dbt_target / "dbt_marts-run-3-0a1b2c3")

    suites = all_suites()
    for run_id, names in RUNS.items():
        for name in names:
            save_result(reports, run_id, validate(wh, suites[name]))
    index = build_report(wh, reports, marts_path=marts, dbt_target=dbt_target)
    return {
        "index": index,
        "reports": reports,
        "warehouse": wh,
        "summary": json.loads((reports / "summary.json").read_text()),
    }


def by(items: list[dict], key: str) -> dict[str, dict]:
    return {i[key]: i for i in items}


def test_summary_statuses(report):
    s = report["summary"]
    assert s["run_id"] == "run-3"
    assert s["status"] == "blocked"
    assert s["headline"].startswith("Blocked by 1 critical problem: BI still shows the numbers published")
    sources = by(s["sources"], "source")
    assert list(sources) == ["crm", "billing", "activity"]
    suites = {x["suite"]: x for src in s["sources"] for x in src["suites"]}
    assert suites[OPP_SUITE]["status"] == "blocked"
    assert suites[USER_SUITE]["status"] == "warning"
    assert suites[INVOICE_SUITE]["status"] == "trusted" and suites[INVOICE_SUITE]["failed"] == []
    assert sources["crm"]["status"] == "blocked"
    assert sources["billing"]["status"] == "warning"  # its checks passed; two landing entries were ignored
    # nothing was ever delivered from activity: not in use, which is no warning
    assert sources["activity"]["status"] == "not in use" and not sources["activity"]["in_use"]
    assert not [i for i in s["issues"] if i["where"] == "Sales activity"]

    stage = next(f for f in suites[OPP_SUITE]["failed"] if f["name"] == "StageName: a known OpportunityStage")
    assert stage["severity"] == "critical" and stage["unexpected_count"] == 2
    assert set(stage["sample_ids"]) == {"006000000000003AAA", "006000000000004AAA"}
    assert "stages defined in Salesforce" in stage["description"]
    email = suites[USER_SUITE]["failed"][0]
    assert email["severity"] == "warning" and email["sample_ids"] == [
        "005000000000002AAA (Email: bob-at-example)"
    ]
    blocked = [i for i in s["issues"] if i["level"] == "blocked"]
    assert len(blocked) == 1 and "006000000000003AAA" in blocked[0]["text"]
    assert s["counts"]["failed_critical"] == 1 and s["counts"]["failed_warning"] == 1
    # warnings: the e-mail format (GE), email not null on dim_users (dbt, severity warn), the two quarantined
    # CRM rows, the ignored billing entries, BI not showing this run is not one (the run is blocked)
    warnings = [i["text"] for i in s["issues"] if i["level"] == "warning"]
    assert len(warnings) == 4 == s["counts"]["warnings"] == s["verdict"]["warnings"], warnings
    # every check on a source links to its Data Docs page
    assert all((report["reports"] / x["page"]).is_file() for x in suites.values())


def test_summary_marts_and_publication(report):
    s = report["summary"]
    assert s["published"]["run_id"] == "run-2"
    marts = by(s["marts"], "mart")
    assert set(marts) == set(MARTS)
    assert all(m["status"] == "blocked" for m in marts.values())  # run-3 blocked: BI keeps run-2's numbers
    assert (
        marts["fct_opportunities"]["rows_published"] == 4
        and marts["fct_opportunities"]["published_run_id"] == "run-2"
    )
    assert marts["dim_users"]["rows_published"] is None  # built after the publication
    assert "run-2" in marts["fct_opportunities"]["note"]


def test_quarantine_counts_match_audit(report):
    con = connect(report["warehouse"], read_only=True)
    expected = {
        (src, code): n
        for src, code, n in con.execute(
            "SELECT source, reason_code, count(*) FROM audit.quarantine GROUP BY ALL"
        ).fetchall()
    }
    loaded = dict(
        con.execute(
            "SELECT source, sum(rows_loaded) FROM audit.load_log WHERE status = 'loaded' GROUP BY 1"
        ).fetchall()
    )
    con.close()
    assert expected == {("crm", "wrong_type"): 1, ("crm", "missing_required"): 1}
    got = {
        (src["source"], q["reason_code"]): q["count"]
        for src in report["summary"]["sources"]
        for q in src["quarantine_by_reason"]
    }
    assert got == expected
    sources = by(report["summary"]["sources"], "source")
    assert sources["crm"]["rows_quarantined"] == 2 and sources["crm"]["rows_quarantined_run"] == 2
    assert {k: sources[k]["rows_loaded_total"] for k in loaded} == loaded
    assert sources["crm"]["last_successful_load"] and sources["billing"]["latest_record_at"]


def test_dbt_tests_beside_ge_checks_per_mart(report):
    """Each mart shows its dbt tests (from the step's run_results.json) and its GE checks; only a mart with
    neither says "no checks defined"."""
    marts = by(report["summary"]["marts"], "mart")
    opp, users, unchecked = (
        marts["fct_opportunities"]["dbt"],
        marts["dim_users"]["dbt"],
        marts["rpt_unchecked"],
    )
    # two data tests, one unit test and the enforced contract passed
    assert opp["passed"] == 4 and opp["failed"] == [] and opp["contract"]
    assert {t["name"] for t in opp["tests"]} == {"Id: not null", "Id: unique"}
    assert [(t["name"], t["status"], t["failures"]) for t in users["failed"]] == [
        ("email: not null", "warn", 2)
    ]
    assert marts["fct_opportunities"]["checks_defined"] and marts["dim_users"]["checks_defined"]
    assert not unchecked["checks_defined"] and not unchecked["dbt"]["ran"]
    finding = next(i for i in report["summary"]["verdict"]["findings"] if i["model"] == "dim_users")
    assert (
        finding["level"] == "warning"
        and finding["count"] == 2
        and finding["check"] == "dbt marts.dim_users: email: not null"
    )

    html = report["index"].read_text()
    rows = dict(re.findall(r"<tr data-mart=\"([^\"]+)\"(.*?)</tr>", html, re.S))
    assert "no checks defined" in rows["rpt_unchecked"]
    assert "no checks defined" not in rows["fct_opportunities"] + rows["dim_users"]
    assert (
        "4 passed" in rows["fct_opportunities"]
        and "email: not null: 2 rows fail (warning)" in rows["dim_users"]
    )
    assert (
        report["summary"]["counts"]["dbt_tests"] == 3 and report["summary"]["counts"]["dbt_unit_tests"] == 1
    )


def test_ignored_landing_entries_listed_per_source(report):
    sources = by(report["summary"]["sources"], "source")
    assert {i["file"]: i["message"] for i in sources["billing"]["ignored_files"]} == IGNORED
    assert sources["crm"]["ignored_files"] == []
    html = report["index"].read_text()
    billing = html[html.index('id="source-billing"') :]
    billing = billing[: billing.index("</div>")]
    for file, reason in IGNORED.items():
        assert f"{file}: {reason}" in billing
    assert any(
        "2 entries in the landing zone were not loaded" in i["text"] for i in report["summary"]["issues"]
    )


def test_one_verdict_in_headline_counts_and_page(report):
    """The headline, summary.json's counts and the page's banner are one count (expectations.report_verdict)."""
    s = report["summary"]
    verdict = s["verdict"]
    assert (
        verdict["failures"]
        == s["counts"]["blocked"]
        == len([i for i in s["issues"] if i["level"] == "blocked"])
    )
    assert verdict["headline"] == s["headline"] and f"{verdict['failures']} critical problem" in s["headline"]
    html = report["index"].read_text()
    assert f'data-failures="{verdict["failures"]}" data-warnings="{verdict["warnings"]}"' in html
    assert verdict["counts_line"] in html


def test_trend_covers_stored_runs(report):
    trend = report["summary"]["trend"]
    assert [r["run_id"] for r in trend] == list(RUNS)
    assert [r["status"] for r in trend] == ["trusted", "warning", "blocked"]
    assert [r["suites"] for r in trend] == [1, 2, 3]
    html = report["index"].read_text()
    assert html.count('<g class="run"') == 3


def test_summary_page_in_plain_words(report):
    html = report["index"].read_text()
    assert "Blocked by 1 critical problem: BI still shows the numbers published" in html
    assert "Not in use: nothing has ever been delivered from this source" in html
    assert "A required field is empty" in html and "stages defined in Salesforce" in html
    assert "<script" not in html.lower()  # readable without JavaScript


def test_no_external_assets(report):
    pages = list(report["reports"].rglob("*.html"))
    assert len(pages) > 5
    asset = re.compile(
        r"""<(?:script|img|link|source)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//"""
        r"""|@import\s+["']?(?:https?:)?//""",
        re.I,
    )
    offenders = {str(p): asset.findall(p.read_text(errors="replace"))[:2] for p in pages}
    assert {k: v for k, v in offenders.items() if v} == {}
    summary = report["index"].read_text()
    assert "http://" not in summary and "https://" not in summary


needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (/usr/bin/chromium, Debian package `chromium`)"
)

PROBE = """<script>
window.addEventListener('load', function () {
  document.fonts.ready.then(function () {
    var nav = document.querySelector('nav.navbar');
    var fa = Array.from(document.fonts).filter(function (f) {
      return f.family.indexOf('Font Awesome') >= 0 && f.status === 'loaded'; }).length;
    var out = {
      navbar_display: nav ? getComputedStyle(nav).display : null,
      body_font: getComputedStyle(document.body).fontFamily,
      jquery: typeof window.jQuery,
      bootstrap_table: !!(window.jQuery && window.jQuery.fn.bootstrapTable),
      font_awesome_loaded: fa,
      rows: document.querySelectorAll('table tbody tr').length
    };
    var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  });
});
</script>"""


def probe(page: Path) -> dict:
    """Load a copy of ``page`` (same folder, so relative links hold) with a script reporting styles."""
    copy = page.with_name("_probe_" + page.name)
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>", 1))
    try:
        dom = dump_dom(copy)
    finally:
        copy.unlink()
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, f"the probe did not run: {dom[-500:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@needs_chromium
def test_data_docs_render_offline(report):
    site = report["reports"] / "gx" / "data_docs"
    page = validation_page(site, OPP_SUITE, "run-3")
    got = probe(page)
    assert got["navbar_display"] == "flex", got  # Bootstrap's .navbar { display: flex }
    assert got["jquery"] == "function" and got["bootstrap_table"], got
    assert got["font_awesome_loaded"] >= 1, got
    index = probe(site / "index.html")
    assert index["navbar_display"] == "flex" and index["bootstrap_table"], index
    assert index["rows"] >= sum(len(v) for v in RUNS.values()), index  # bootstrap-table filled the index


@needs_chromium
def test_summary_renders_offline(report, tmp_path):
    dom = dump_dom(report["index"])
    sources = set(re.findall(r'<tr data-source="([^"]+)"', dom))
    marts = set(re.findall(r'<tr data-mart="([^"]+)"', dom))
    assert sources == {"crm", "billing", "activity"}
    assert marts == set(MARTS)
    shot = screenshot(report["index"], tmp_path / "summary.png", height=1600)
    assert shot.stat().st_size > 20_000


def test_report_asset_says_it_is_not_built_on_the_postgres_target(tmp_path: Path, monkeypatch):
    """On Postgres the DuckDB file holds raw and audit only: a report from it would vouch for unchecked marts."""
    import dagster as dg

    from ingestion.settings import Settings
    from orchestration.defs.report.assets import data_quality_report
    from orchestration.defs.resources import salesdw_resources

    monkeypatch.setenv("SALESDW_TARGET", "postgres")
    monkeypatch.setenv("SALESDW_POSTGRES_DSN", "postgresql://u:not-a-real-password@127.0.0.1:1/none")
    result = dg.materialize([data_quality_report], resources=salesdw_resources(Settings.from_env()))
    assert result.success
    [mat] = result.get_asset_materialization_events()
    metadata = mat.materialization.metadata
    assert metadata["status"].value == "not built"
    assert "DuckDB only" in metadata["headline"].value
    assert not (tmp_path / "reports" / "index.html").exists()


def _pages(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted((site / "validations").rglob("*.html"))}


def test_data_docs_carry_the_pages_of_runs_already_rendered(report, tmp_path: Path):
    """A report renders the validation pages of new runs only: a run the site holds in full keeps its pages. GE
    draws random element ids into every page it renders, so equal bytes mean a page was carried."""
    reports = tmp_path / "reports"
    shutil.copytree(report["reports"], reports)
    site = reports / "gx" / "data_docs"
    runs = {r: load_run(reports, r) for r in RUNS}
    first = _pages(site)
    assert len(first) == sum(len(v) for v in RUNS.values())

    # every page re-rendered when the site was written by another renderer (or GE version): all bytes change
    (site / SITE_FORMAT_FILE).write_text("great_expectations 0.18; report_docs 0")
    build_data_docs(reports, runs, summary_href="index.html")
    rendered = _pages(site)
    assert rendered.keys() == first.keys() and all(rendered[p] != first[p] for p in first)

    # a new run: its pages are rendered, the others carried byte for byte, and the index lists all four runs
    runs["run-4"] = runs["run-3"]
    build_data_docs(reports, runs, summary_href="index.html")
    after = _pages(site)
    new = {p for p in after if "/run-4/" in p}
    assert len(new) == len(RUNS["run-3"]) and after.keys() - new == first.keys()
    assert all(after[p] == rendered[p] for p in first)
    index = (site / "index.html").read_text()
    assert all(f"/{run}/" in index for run in runs)

    # a run whose pages are not all there (a page removed) is rendered again, and only that run
    missing = sorted(p for p in after if "/run-2/" in p)[0]
    (site / missing).unlink()
    build_data_docs(reports, runs, summary_href="index.html")
    again = _pages(site)
    assert again.keys() == after.keys()
    assert {p for p in after if again[p] != after[p]} == {p for p in after if "/run-2/" in p}

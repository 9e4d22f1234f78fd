"""The policy dashboard end to end: the suite's demo home (README's demo command) served by
``lcdp serve``, driven by Debian's headless Chromium through Playwright, checked by axe-core.

Screenshots go to ``LCDP_SCREENSHOT_DIR`` when it is set (README's come from there), else to
the test's temporary folder; each page's time to interactive (navigation start to every chart
drawn, in the browser's own clock) is written beside them as ``timings.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from lcdp.contracts import reference
from lcdp.service.background import free_port, wait_healthy
from tests.conftest import LCDP, last_json

CHROMIUM = "/usr/bin/chromium"
#: Hangul the font must draw as two different glyphs (no font: the same box twice)
HANGUL = ("경", "기")


def _cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([LCDP, "--home", str(home), "--json", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


@pytest.fixture(scope="module")
def served(demo_home):
    """The suite's demo home (README's demo command at 300 businesses × 24 months: both models
    and all three products), then ``lcdp serve`` on it, with an admin, a consumer granted
    spending and forecasts, and a consumer granted nothing."""
    home = demo_home["home"]
    if demo_home["summary"] is not None:
        demo = demo_home["summary"]
        assert {"spending", "risk", "forecasts"} <= set(demo["exports"]), demo
    made = {}
    for name, role, subject in (("admin", "admin", "ops"), ("analyst", "consumer", "city-analyst"),
                                ("stranger", "consumer", "no-grants")):
        proc = _cli(home, "keys", "create", "--role", role, "--subject", subject)
        assert proc.returncode == 0, proc.stderr
        made[name] = last_json(proc)["key"]
    for product in ("spending", "forecasts"):
        assert _cli(home, "grants", "add", "--consumer", "city-analyst", "--product", product).returncode == 0
    port = free_port()
    server = subprocess.Popen([LCDP, "--home", str(home), "serve", "--port", str(port)], env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, server)
    yield {"url": url, "keys": made}
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("LCDP_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Visit:
    """A browser context signed in with one key, recording every request it makes."""

    def __init__(self, browser, url: str, key: str, lang: str = "ko") -> None:
        self.url, self.key = url, key
        self.context = browser.new_context(viewport={"width": 1360, "height": 1000}, locale="ko-KR")
        self.requests: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page = self.context.new_page()
        self.page.goto(f"{url}/dashboard?lang={lang}")
        assert urlparse(self.page.url).path == "/dashboard/login"  # not signed in yet
        self.page.fill("#api_key", key)
        self.page.click("form.card button[type=submit]")
        self.page.wait_for_load_state()

    def open(self, path: str):
        response = self.page.goto(self.url + path)
        return response

    def ready_ms(self) -> int:
        self.page.wait_for_selector("body[data-ready]", timeout=30_000)
        assert self.page.get_attribute("body", "data-ready") == "true", "a chart failed to draw"
        return int(self.page.get_attribute("body", "data-ready-ms"))

    def close(self) -> None:
        self.context.close()


def _serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def _hangul_drawn(page) -> bool:
    """Whether the page's font draws Hangul: two different syllables drawn on a canvas in the
    heading's font give different pixels (a missing glyph is the same box for both)."""
    return page.evaluate("""([a, b]) => {
        const font = getComputedStyle(document.querySelector('h1')).font;
        const pixels = (ch) => { const c = document.createElement('canvas'); c.width = 40; c.height = 40;
            const x = c.getContext('2d'); x.font = font; x.fillText(ch, 4, 30);
            return Array.from(x.getImageData(0, 0, 40, 40).data).join(','); };
        return pixels(a) !== pixels(b) && document.fonts.check('16px NanumGothic', a + b);
    }""", list(HANGUL))


def test_the_admin_sees_every_page_drawn_from_loopback_with_the_export_apis_figures(served, browser, shots):
    url, key = served["url"], served["keys"]["admin"]
    visit = Visit(browser, url, key)
    timings, loopback = {}, f"{url}/"
    pages = {"overview": "/dashboard", "overview-yoy": "/dashboard?measure=yoy", "region": "/dashboard/region/41110",
             "risk": "/dashboard/risk", "health": "/dashboard/health", "overview-en": "/dashboard?lang=en"}
    for name, path in pages.items():
        response = visit.open(path)
        assert response.status == 200, (name, response.status)
        timings[name] = visit.ready_ms()
        assert _serious_violations(visit.page) == [], name
        visit.page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=True)
        if name == "overview":
            _check_overview(visit, served)
        if name in ("overview", "risk"):
            _check_map(visit.page, "#map" if name == "overview" else "#risk-map", "비공개")
        if name == "overview":
            # amounts on axes and legends in the page's units: "결제액 (억원)" over 1.2, 18
            assert re.search(r"\((억원|만원)\)", _texts(visit.page, "#industries .role-axis-title text")), name
            assert re.search(r"\((억원|만원)\)", _texts(visit.page, "#map .role-legend-title text")), name
            _check_bars(visit.page, "#industries", "비공개")
        if name == "overview-en":
            assert visit.page.inner_text("h1") == "Overview" and "KRW" in visit.page.inner_text("[data-figure=spending]")
            assert re.search(r"\(KRW( M| bn)?\)", _texts(visit.page, "#industries .role-axis-title text"))
            _check_map(visit.page, "#map", "withheld")
        if name == "region":
            heading = visit.page.inner_text("h1")
            assert heading == "수원시"
            assert visit.page.locator("#forecast svg").count() == 1  # the forecast drawn
            assert re.search(r"\((억원|만원)\)", _texts(visit.page, "#by-industry .role-axis-title text"))
            _check_lines_break(visit.page)
            _check_bars(visit.page, "#age-band", "비공개")
        if name == "risk":
            _check_stacked(visit.page, "#risk-industry")
            # what "high risk" means: the champion's master scale, in words under the map
            assert re.search(r"신용위험 모형 v\d+이 향후 12개월 안에 보증 사고나 폐업이 날 확률을 \d+\.\d% 이상",
                             visit.page.locator(".note", has_text="신용위험 모형").first.inner_text())
        if name == "health":
            # the credit champion's master scale on its holdout: five bands, E's rate above A's
            table = visit.page.locator("table", has_text="위험 등급 검증")
            rows = table.locator("tbody tr")
            assert rows.count() == 5
            observed = [float(rows.nth(k).locator("td").nth(4).inner_text().rstrip("%")) for k in range(5)]
            assert observed[0] < observed[-1], observed
    visit.open("/dashboard?lang=ko")
    assert _hangul_drawn(visit.page)
    assert visit.page.inner_text("nav") == "개요\n위험\n데이터 상태"
    # no request went anywhere but this service on loopback, and no key was in a URL
    assert visit.requests and all(r.startswith(loopback) for r in visit.requests), \
        sorted({r for r in visit.requests if not r.startswith(loopback)})
    assert not any(key in r for r in visit.requests)
    (shots / "timings.json").write_text(json.dumps({"interactive_ms": timings}, indent=1) + "\n")
    print("dashboard time to interactive (ms):", timings)
    visit.close()


def _texts(page, selector: str) -> str:
    """The text a chart's SVG draws under ``selector``, one line each."""
    return "\n".join(page.locator(selector).all_text_contents())


def _check_map(page, map_id: str, withheld: str) -> None:
    """All 31 시군 drawn (the base layer); a region without a published value is grey under
    the legend entry ``withheld`` and "suppressed" in the table, never 0. (In a world where
    every region is published there is no grey layer and no such entry.)"""
    layers = page.locator(f"{map_id} g.mark-shape")
    assert layers.first.locator("path").count() == len(reference().sigun) == 31
    colored = layers.nth(1).locator("path").count()
    grey = layers.nth(2).locator("path").count() if layers.count() > 2 else 0
    assert page.locator(f"{map_id} ~ details tbody tr").count() == 31
    suppressed = page.locator(f"{map_id} ~ details tbody tr td:nth-child(2).suppressed").count()
    assert 0 < colored and colored + grey == 31 and suppressed == grey, (colored, grey, suppressed)
    legend = page.locator(f"{map_id} .role-legend text").all_text_contents()
    assert (withheld in legend) == (suppressed > 0), (legend, suppressed)


def _check_bars(page, chart_id: str, withheld: str) -> None:
    """A bar chart keeps every category of its table on its axis; a suppressed one has no bar
    and is marked ``withheld``."""
    categories = page.locator(f"{chart_id} ~ details tbody tr td:first-child").all_text_contents()
    suppressed = page.locator(f"{chart_id} ~ details tbody tr td:nth-child(2).suppressed").count()
    assert page.locator(f"{chart_id} g.mark-rect.role-mark path").count() == len(categories) - suppressed
    assert page.locator(f"{chart_id} g.mark-text.role-mark text").all_text_contents() == [withheld] * suppressed
    labels = page.locator(f"{chart_id} .role-axis-label text").all_text_contents()
    assert all(c in labels for c in categories), (categories, labels)


def _check_lines_break(page) -> None:
    """Each industry's line on the region page is drawn in as many pieces as it has runs of
    published months: broken at a suppressed month, never drawn across it."""
    runs, last = {}, {}
    rows = sorted(page.locator("#by-industry ~ details tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => [c.textContent, c.classList.contains('suppressed')]))"))
    for (month, _), (industry, _), (_, suppressed) in rows:
        if not suppressed and not last.get(industry):
            runs[industry] = runs.get(industry, 0) + 1
        last[industry] = not suppressed
    paths = page.locator("#by-industry g.mark-line path").evaluate_all("ps => ps.map(p => p.getAttribute('d') || '')")
    assert sum(d.count("M") for d in paths) == sum(runs.values()), (runs, paths)


def _check_stacked(page, chart_id: str) -> None:
    """Every column of a stacked share chart reaches 100 %; where a band is suppressed the
    withheld share is its own band, named in the legend."""
    heights = page.evaluate("""(sel) => { const cols = {};
        for (const p of document.querySelectorAll(sel)) { const b = p.getBBox();
            cols[Math.round(b.x)] = (cols[Math.round(b.x)] || 0) + b.height; }
        return Object.values(cols); }""", f"{chart_id} g.mark-rect.role-mark path")
    assert heights and max(heights) - min(heights) < 1.5, heights
    suppressed = page.locator(f"{chart_id} ~ details td.suppressed").count()
    assert ("비공개" in page.locator(f"{chart_id} .role-legend text").all_text_contents()) == (suppressed > 0)


def _check_overview(visit: Visit, served) -> None:
    """The headline figures are the export API's for the province's cell of the month, and a
    chart's download link serves that data to the signed-in browser."""
    page = visit.page
    month = page.input_value("#month")
    answer = httpx.get(f"{served['url']}/v1/products/spending/rows",
                       params={"region": "ALL", "industry": "ALL", "month_from": month, "month_to": month},
                       headers={"X-API-Key": served["keys"]["admin"]}, timeout=30).json()
    cell = next(r for r in answer["rows"] if r["breakdown"] == "total" and r["category"] == "ALL")
    for figure in ("spending", "transactions", "cardholders", "merchants"):
        shown = page.get_attribute(f"[data-figure={figure}]", "data-value")
        assert shown == str(cell[figure]), (figure, shown, cell[figure])
    assert "억원" in page.inner_text("[data-figure=spending]")
    href = page.get_attribute("#map ~ p a.download", "href")
    download = page.request.get(served["url"] + href)
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")
    assert "sigun_cd" in download.text()


def test_a_consumer_sees_only_the_pages_of_its_grants(served, browser):
    visit = Visit(browser, served["url"], served["keys"]["analyst"], lang="en")
    assert visit.open("/dashboard").status == 200
    visit.ready_ms()
    assert visit.page.inner_text("nav") == "Overview"  # no risk page, no data health
    assert visit.open("/dashboard/region/41590").status == 200
    visit.ready_ms()
    assert visit.page.locator("#forecast svg").count() == 1  # forecasts granted
    refused = visit.open("/dashboard/risk")
    assert refused.status == 403 and "not granted" in visit.page.inner_text("main")
    assert visit.open("/dashboard/health").status == 403
    assert visit.open("/dashboard/region/99999").status == 404
    visit.close()
    stranger = Visit(browser, served["url"], served["keys"]["stranger"])
    response = stranger.open("/dashboard")
    assert response.status == 403 and "허용되지 않았습니다" in stranger.page.inner_text("main")
    assert stranger.page.request.get(served["url"] + "/v1/products/spending/rows").status == 403
    stranger.close()


def test_signing_in_refuses_wrong_and_partner_keys_and_signing_out_ends_the_session(served, browser):
    context = browser.new_context()
    page = context.new_page()
    for wrong in ("lcdp_nope_nope", "x" * 150):
        page.goto(served["url"] + "/dashboard/login")
        page.fill("#api_key", wrong)
        with page.expect_response(lambda r: r.url.endswith("/dashboard/login")) as answer:
            page.click("form.card button[type=submit]")
        assert answer.value.status == 401
        assert "API 키가 맞지 않거나" in page.inner_text("[role=alert]")
    # no session: every page sends the browser to sign in, the export API answers 401
    assert urlparse(page.goto(served["url"] + "/dashboard/risk").url).path == "/dashboard/login"
    assert page.request.get(served["url"] + "/v1/products").status == 401
    # a forged cookie is no session
    context.add_cookies([{"name": "lcdp_session", "value": "eyJrIjoiYWRtaW4ifQ.forged.sig", "url": served["url"]}])
    assert urlparse(page.goto(served["url"] + "/dashboard").url).path == "/dashboard/login"
    context.close()
    visit = Visit(browser, served["url"], served["keys"]["admin"])
    assert visit.page.url.endswith("/dashboard")
    visit.page.click("header form button")
    visit.page.wait_for_load_state()
    assert urlparse(visit.page.url).path == "/dashboard/login"
    assert urlparse(visit.open("/dashboard").url).path == "/dashboard/login"
    visit.close()


# --------------------------------------------------------------------------- models over time

#: the bureau grades the planted drift adds to every business in the month it plants it in
PLANTED_GRADES = 3


def _month_rows(settings, name: str, months: list) -> dict:
    """The rows of ``name`` in each of ``months`` (pandas, as the lake holds them)."""
    from lcdp.lake import catalog

    frame = catalog.to_arrow(name, settings).to_pandas()
    return {m: frame[frame["month"] == m].reset_index(drop=True) for m in months}


def _write_month(settings, name: str, ddl: str, month, rows) -> None:
    """Replace ``month`` of ``name`` with ``rows`` (none: the month is not there) through the
    lake's own write path."""
    from lcdp.lake import catalog, engine

    frame = engine.spark(settings).createDataFrame(rows if rows is not None else [], ddl)
    catalog.overwrite_where(frame, name, settings, "month", f"month = DATE'{month.isoformat()}'")


@pytest.fixture(scope="module")
def drift_world(demo_home, tmp_path_factory, spark):
    """A copy of the suite's demo home whose last two months land after its champions were
    trained, one at a time, each followed by what the models DAG does after a new month (score
    with the champions, monitor): the first as the partners delivered it, the second with a
    drift planted in it (every business's bureau grade 3 worse). Yields the home, an admin key
    and the months."""
    from jobs.gold_features import OUTPUT_DDL as FEATURES_DDL
    from jobs.gold_spending_cube import OUTPUT_DDL as CUBE_DDL
    from lcdp.settings import Settings

    home = tmp_path_factory.mktemp("drift") / "home"
    shutil.copytree(demo_home["home"], home, symlinks=True, ignore=shutil.ignore_patterns("run", "logs"))
    settings = Settings(home=home)
    tables = {"gold.merchant_month_features": FEATURES_DDL, "gold.spending_cube": CUBE_DDL}
    from lcdp.lake import catalog

    months = sorted(catalog.to_arrow("gold.merchant_month_features", settings, columns=["month"])
                    .column("month").unique().to_pylist())
    held, planted = months[-2:], months[-1]
    kept = {name: _month_rows(settings, name, held) for name in tables}

    def land(month, plant: bool = False) -> None:
        for name, ddl in tables.items():
            rows = kept[name][month].copy()
            if plant and name == "gold.merchant_month_features":
                rows["credit_grade"] = (rows["credit_grade"] + PLANTED_GRADES).clip(upper=10)
            _write_month(settings, name, ddl, month, rows)
        for command in (("score",), ("monitor",)):
            proc = _cli(home, *command, timeout=900)
            assert proc.returncode == 0, (command, proc.stderr[-3000:])

    for month in held:  # the lake as it stood before these months were delivered
        for name, ddl in tables.items():
            _write_month(settings, name, ddl, month, None)
    for command in (("score",), ("monitor",)):
        assert _cli(home, *command, timeout=900).returncode == 0
    land(held[0])
    proc = _cli(home, "keys", "create", "--role", "admin", "--subject", "drift-ops")
    key = last_json(proc)["key"]
    yield {"home": home, "key": key, "months": held, "planted": planted, "land": land}


def _serve(home: Path):
    port = free_port()
    server = subprocess.Popen([LCDP, "--home", str(home), "serve", "--port", str(port)], env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, server)
    return server, url


def _psi_state(page, feature: str, month: str) -> str:
    """The state the PSI heat map's table view gives ``feature`` in ``month``."""
    rows = page.locator("#drift-heatmap ~ details tbody tr")
    for cells in (rows.nth(i).locator("td").all_text_contents() for i in range(rows.count())):
        if cells[0] == feature and cells[1] == month:
            return cells[3]
    raise AssertionError(f"no PSI of {feature} in {month}")


def test_the_data_health_page_flags_a_planted_drift_and_shows_realized_performance(drift_world, browser, shots):
    """Months land after the champions were trained. The page measures each against the
    credit champion's training window: the month delivered as it was flags nothing of the
    bureau grade; the month with a drift planted in it names ``credit_grade`` as flagged,
    further than any month the model learned from, and colours it so in the heat map. Realized
    AUC and calibration are drawn for the months whose 12-month outcomes are known, realized
    WAPE for the forecasts whose months have arrived."""
    home, months = drift_world["home"], drift_world["months"]
    server, url = _serve(home)
    try:
        visit = Visit(browser, url, drift_world["key"])
        # the first month landed as delivered
        assert visit.open("/dashboard/health").status == 200
        visit.ready_ms()
        first = f"{months[0]:%Y-%m}"
        flagged = visit.page.locator("#drift-flagged")
        assert flagged.get_attribute("data-month") == first
        assert "credit_grade" not in flagged.get_attribute("data-flagged").split()
        assert _psi_state(visit.page, "credit_grade", first) == "정상"
        visit.page.screenshot(path=str(shots / "dashboard-health-before-drift.png"), full_page=True)

        # the next month lands with every business's bureau grade 3 worse
        drift_world["land"](drift_world["planted"], plant=True)
        for lang, flagged_word in (("ko", "경보"), ("en", "flagged")):
            assert visit.open(f"/dashboard/health?lang={lang}").status == 200
            visit.ready_ms()
            assert _serious_violations(visit.page) == [], lang
            latest = f"{months[1]:%Y-%m}"
            flagged = visit.page.locator("#drift-flagged")
            assert flagged.get_attribute("data-month") == latest
            assert "credit_grade" in flagged.get_attribute("data-beyond").split()
            assert "credit_grade" in flagged.locator("p.flagged").inner_text()
            assert _psi_state(visit.page, "credit_grade", latest) == flagged_word
            assert _psi_state(visit.page, "credit_grade", first) != flagged_word  # the month before is as it was
            # the heat map draws one cell per feature and month, the lines chart the thresholds
            cells = visit.page.locator("#drift-heatmap ~ details tbody tr").count()
            assert visit.page.locator("#drift-heatmap g.mark-rect.role-mark path").count() == cells > 0
            assert {"0.1", "0.25"} <= {t.split()[-1] for t in
                                       visit.page.locator("#drift-lines g.mark-text text").all_text_contents()}
            # realized performance: AUC and calibration where outcomes are known, WAPE where actuals arrived
            for chart in ("#realized-auc", "#calibration", "#realized-wape"):
                assert visit.page.locator(f"{chart} svg").count() == 1, chart
                assert visit.page.locator(f"{chart} ~ details tbody tr").count() > 0, chart
            wape_months = set(visit.page.locator("#realized-wape ~ details tbody tr td:first-child").all_text_contents())
            assert wape_months == {first, latest}
            visit.page.screenshot(path=str(shots / f"dashboard-health-drift-{lang}.png"), full_page=True)
        visit.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    # what the models DAG's task asks: nothing new since the last measurement, no new version;
    # the forecasts' versions the realized WAPE was read from are kept for the next one
    from lcdp.errors import NothingNew
    from lcdp.lake import catalog, maintenance
    from lcdp.pipeline import monitoring as step
    from lcdp.settings import Settings

    settings = Settings(home=home)
    before = catalog.version("gold.model_monitoring", settings)
    with pytest.raises(NothingNew):
        step.monitor(settings, only_if_new=True)
    assert catalog.version("gold.model_monitoring", settings) == before
    assert len(maintenance.pinned_versions(settings, "gold.spending_forecasts")) >= 3


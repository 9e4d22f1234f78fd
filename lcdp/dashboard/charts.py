"""The dashboard's charts as Vega-Lite specs (rendered in the browser by the Vega bundle the
service serves). Each takes plain rows; a suppressed value is left out of the marks (and
shown as suppressed in the chart's table view), never drawn as zero."""

from __future__ import annotations

from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # a version tag: never fetched
MAP_URL = "/dashboard/static/sigun.geojson"
FONT = "NanumGothic, 'Noto Sans CJK KR', sans-serif"
CONFIG = {"font": FONT, "view": {"stroke": None}, "axis": {"labelFontSize": 12, "titleFontSize": 12},
          "legend": {"labelFontSize": 12, "titleFontSize": 12}}


def _spec(description: str, body: dict, height: int = 260) -> dict[str, Any]:
    return {"$schema": SCHEMA, "description": description, "width": "container", "height": height,
            "autosize": {"type": "fit", "contains": "padding"}, "config": CONFIG, **body}


def choropleth(description: str, values: list[dict], legend: str, percent: bool = False,
               diverging: bool = False, scheme: str = "blues") -> dict:
    """The 31 시군 colored by ``value`` (rows: sigun_cd, value, label, href). Every region is
    drawn (grey when its value is suppressed); a region links to its page."""
    color: dict[str, Any] = {"field": "value", "type": "quantitative", "title": legend,
                             "scale": {"scheme": "redblue", "domainMid": 0, "reverse": True} if diverging
                             else {"scheme": scheme},
                             "legend": {"format": ".0%" if percent else "~s", "orient": "bottom-right"}}
    data = {"url": MAP_URL, "format": {"type": "json", "property": "features"}}
    lookup = {"lookup": "id", "from": {"data": {"values": values}, "key": "sigun_cd",
                                       "fields": ["value", "label", "href"]}}
    tooltip = [{"field": "properties.sigun_name", "type": "nominal", "title": "시군"},
               {"field": "label", "type": "nominal", "title": legend}]
    return _spec(description, {
        "data": data, "transform": [lookup], "projection": {"type": "mercator"},
        "layer": [
            {"mark": {"type": "geoshape", "fill": "#d9d9d9", "stroke": "#ffffff", "strokeWidth": 0.8,
                      "cursor": "pointer"},
             "encoding": {"tooltip": tooltip, "href": {"field": "href"}}},
            {"transform": [{"filter": "isValid(datum.value)"}],
             "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 0.8, "cursor": "pointer"},
             "encoding": {"color": color, "tooltip": tooltip, "href": {"field": "href"}}},
        ]}, height=460)


def lines(description: str, values: list[dict], series_title: str, y_title: str, percent: bool = False) -> dict:
    """One line per series (rows: month, series, value); a suppressed month is a gap."""
    return _spec(description, {
        "data": {"values": [v for v in values if v["value"] is not None]},
        "mark": {"type": "line", "point": True},
        "encoding": {"x": {"field": "month", "type": "temporal", "title": None, "axis": {"format": "%Y-%m"}},
                     "y": {"field": "value", "type": "quantitative", "title": y_title,
                           "axis": {"format": ".0%" if percent else "~s"}},
                     "color": {"field": "series", "type": "nominal", "title": series_title},
                     "tooltip": [{"field": "series", "title": series_title},
                                 {"field": "month", "type": "temporal", "format": "%Y-%m"},
                                 {"field": "label", "title": y_title}]}})


def forecast(description: str, actual: list[dict], predicted: list[dict], y_title: str,
             actual_label: str, forecast_label: str) -> dict:
    """The actual series, then the forecast with its interval as a band."""
    rows = [{"month": a["month"], "value": a["value"], "kind": actual_label} for a in actual if a["value"] is not None]
    rows += [{"month": p["month"], "value": p["forecast"], "lower": p["lower"], "upper": p["upper"],
              "kind": forecast_label} for p in predicted if p["forecast"] is not None]
    x = {"field": "month", "type": "temporal", "title": None, "axis": {"format": "%Y-%m"}}
    kind = {"field": "kind", "type": "nominal", "title": None,
            "scale": {"domain": [actual_label, forecast_label], "range": ["#1f4e79", "#c0504d"]}}
    return _spec(description, {
        "data": {"values": rows},
        "layer": [
            {"transform": [{"filter": "isValid(datum.lower) && isValid(datum.upper)"}],
             "mark": {"type": "area", "opacity": 0.25, "color": "#c0504d"},
             "encoding": {"x": x, "y": {"field": "lower", "type": "quantitative"}, "y2": {"field": "upper"}}},
            {"mark": {"type": "line", "point": True},
             "encoding": {"x": x, "y": {"field": "value", "type": "quantitative", "title": y_title,
                                        "axis": {"format": "~s"}},
                          "color": kind, "strokeDash": {"field": "kind", "type": "nominal", "legend": None,
                                                        "scale": {"domain": [actual_label, forecast_label],
                                                                  "range": [[1, 0], [5, 3]]}}}},
        ]})


def bars(description: str, values: list[dict], x_title: str, y_title: str, percent: bool = False,
         height: int = 220) -> dict:
    """One bar per category (rows: category, value, label), in the given order."""
    return _spec(description, {
        "data": {"values": [v for v in values if v["value"] is not None]},
        "mark": {"type": "bar", "color": "#2e75b6"},
        "encoding": {"x": {"field": "category", "type": "nominal", "title": x_title, "sort": None,
                           "axis": {"labelAngle": 0}},
                     "y": {"field": "value", "type": "quantitative", "title": y_title,
                           "axis": {"format": ".0%" if percent else "~s"}},
                     "tooltip": [{"field": "category", "title": x_title}, {"field": "label", "title": y_title}]}},
        height=height)


def stacked(description: str, values: list[dict], x: str, x_title: str, x_type: str = "nominal",
            color_title: str = "", y_title: str = "") -> dict:
    """Shares stacked per ``x`` (rows: x, band, value, label) on a 0–100 % axis: a suppressed
    band leaves its part of the column empty rather than stretching the others."""
    x_encoding = {"field": x, "type": x_type, "title": x_title, "sort": None, "axis": {"labelAngle": -30}}
    if x_type == "temporal":
        x_encoding = {"field": x, "type": "temporal", "title": x_title, "axis": {"format": "%Y-%m"}}
    return _spec(description, {
        "data": {"values": [v for v in values if v["value"] is not None]},
        "mark": {"type": "bar" if x_type != "temporal" else "area"},
        "encoding": {"x": x_encoding,
                     "y": {"field": "value", "type": "quantitative", "stack": "zero", "title": y_title,
                           "scale": {"domain": [0, 1]}, "axis": {"format": ".0%"}},
                     "color": {"field": "band", "type": "ordinal", "title": color_title,
                               "scale": {"scheme": "orangered"}},
                     "tooltip": [{"field": x, "title": x_title, **({"type": "temporal", "format": "%Y-%m"}
                                                                   if x_type == "temporal" else {})},
                                 {"field": "band", "title": color_title}, {"field": "label", "title": y_title}]}})

"""The dashboard's charts as Vega-Lite specs (rendered in the browser by the Vega bundle the
service serves). Each takes plain rows; a suppressed value (None) is never drawn as zero, and
a chart says where it is: a map draws its region grey under its own legend entry, a stacked
chart gives the withheld share its own band, a line breaks at the month, a bar chart keeps
the category with the word instead of a bar (the chart's table view writes the cell as
suppressed too).

Amounts arrive already scaled to the unit their axis title names (``Text.money_unit``), so
axes and legends read 1.2 and 18 under "결제액 (억원)", never "120M"."""

from __future__ import annotations

from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # a version tag: never fetched
MAP_URL = "/dashboard/static/sigun.geojson"
FONT = "NanumGothic, 'Noto Sans CJK KR', sans-serif"
#: a null value breaks a line (and is not interpolated over); the axes still span its month
INVALID = "break-paths-show-domains"
CONFIG = {"font": FONT, "view": {"stroke": None}, "axis": {"labelFontSize": 12, "titleFontSize": 12},
          "legend": {"labelFontSize": 12, "titleFontSize": 12}, "mark": {"invalid": INVALID}}
WITHHELD_GREY = "#d9d9d9"
#: the "orangered" scheme's five ordinal steps as Vega draws them (light A … dark E), written out
#: because a stacked chart's withheld band needs its grey in the same range
ORANGE_RED = ("#fdc690", "#fca570", "#f67d53", "#e65238", "#cc2418")
#: amounts on a scaled axis: 1.2, 18, 1,500 (never SI prefixes like "1.5k")
AMOUNT = ",~r"


def _spec(description: str, body: dict, height: int = 260) -> dict[str, Any]:
    return {"$schema": SCHEMA, "description": description, "width": "container", "height": height,
            "autosize": {"type": "fit", "contains": "padding"}, "config": CONFIG, **body}


def choropleth(description: str, values: list[dict], legend: str, withheld: str, percent: bool = False,
               diverging: bool = False, scheme: str = "blues") -> dict:
    """The 31 시군 colored by ``value`` (rows: sigun_cd, value, label, href). Every region is
    drawn; a region whose value is suppressed is grey, under its own legend entry ``withheld``
    (present only when some region is). A region links to its page."""
    color: dict[str, Any] = {"field": "value", "type": "quantitative", "title": legend,
                             "scale": {"scheme": "redblue", "domainMid": 0, "reverse": True} if diverging
                             else {"scheme": scheme},
                             "legend": {"format": ".0%" if percent else AMOUNT, "orient": "bottom-right"}}
    data = {"url": MAP_URL, "format": {"type": "json", "property": "features"}}
    lookup = {"lookup": "id", "from": {"data": {"values": values}, "key": "sigun_cd",
                                       "fields": ["value", "label", "href"]}}
    tooltip = [{"field": "properties.sigun_name", "type": "nominal", "title": "시군"},
               {"field": "label", "type": "nominal", "title": legend}]
    shape = {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 0.8, "cursor": "pointer"}
    layers: list[dict[str, Any]] = [
        {"mark": {**shape, "fill": WITHHELD_GREY}, "encoding": {"tooltip": tooltip, "href": {"field": "href"}}},
        {"transform": [{"filter": "isValid(datum.value)"}], "mark": shape,
         "encoding": {"color": color, "tooltip": tooltip, "href": {"field": "href"}}},
    ]
    body: dict[str, Any] = {"data": data, "transform": [lookup], "projection": {"type": "mercator"}, "layer": layers}
    if any(v["value"] is None for v in values):
        # its own layer with a constant color so that grey has a legend entry of its own
        layers.append({"transform": [{"filter": "!isValid(datum.value)"}], "mark": shape,
                       "encoding": {"color": {"datum": withheld, "type": "nominal",
                                              "scale": {"domain": [withheld], "range": [WITHHELD_GREY]},
                                              "legend": {"title": None, "orient": "bottom-right",
                                                         "symbolType": "square"}},
                                    "tooltip": tooltip, "href": {"field": "href"}}})
        body["resolve"] = {"scale": {"color": "independent"}}
    return _spec(description, body, height=460)


def lines(description: str, values: list[dict], series_title: str, y_title: str, percent: bool = False) -> dict:
    """One line per series (rows: month, series, value, label); a suppressed month (value None)
    stays in the data so that its series breaks there instead of being drawn across it."""
    return _spec(description, {
        "data": {"values": values},
        "mark": {"type": "line", "point": True},
        "encoding": {"x": {"field": "month", "type": "temporal", "title": None, "axis": {"format": "%Y-%m"}},
                     "y": {"field": "value", "type": "quantitative", "title": y_title,
                           "axis": {"format": ".0%" if percent else AMOUNT}},
                     "color": {"field": "series", "type": "nominal", "title": series_title},
                     "tooltip": [{"field": "series", "title": series_title},
                                 {"field": "month", "type": "temporal", "format": "%Y-%m"},
                                 {"field": "label", "title": y_title}]}})


def forecast(description: str, actual: list[dict], predicted: list[dict], y_title: str,
             actual_label: str, forecast_label: str) -> dict:
    """The actual series (broken at a suppressed month), then the forecast with its interval
    as a band."""
    rows = [{"month": a["month"], "value": a["value"], "kind": actual_label} for a in actual]
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
                                        "axis": {"format": AMOUNT}},
                          "color": kind, "strokeDash": {"field": "kind", "type": "nominal", "legend": None,
                                                        "scale": {"domain": [actual_label, forecast_label],
                                                                  "range": [[1, 0], [5, 3]]}}}},
        ]})


def bars(description: str, values: list[dict], x_title: str, y_title: str, withheld: str, percent: bool = False,
         height: int = 220) -> dict:
    """One bar per category (rows: category, value, label), in the given order. A suppressed
    category keeps its place on the axis, with no bar and the word ``withheld`` over it."""
    x = {"field": "category", "type": "nominal", "title": x_title, "sort": None, "axis": {"labelAngle": 0}}
    return _spec(description, {
        "data": {"values": values},
        "layer": [
            {"mark": {"type": "bar", "color": "#2e75b6"},
             "encoding": {"x": x, "y": {"field": "value", "type": "quantitative", "title": y_title,
                                        "axis": {"format": ".0%" if percent else AMOUNT}},
                          "tooltip": [{"field": "category", "title": x_title}, {"field": "label", "title": y_title}]}},
            {"transform": [{"filter": "!isValid(datum.value)"}],
             "mark": {"type": "text", "baseline": "bottom", "dy": -3, "color": "#595959"},
             "encoding": {"x": x, "y": {"datum": 0}, "text": {"value": withheld}}},
        ]},
        height=height)


def stacked(description: str, values: list[dict], x: str, x_title: str, withheld: str, x_type: str = "nominal",
            color_title: str = "", y_title: str = "", bands: list | None = None) -> dict:
    """Shares stacked per ``x`` (rows: x, band, value) on a 0–100 % axis. Where a band
    is suppressed, the share the published bands leave (1 − their sum: they are shares of one
    published total) is drawn as one more band, ``withheld``, in grey on top, so every column
    reaches 100 % and says how much of it is not shown. ``bands``: every band, in order, so
    a band has the same colour in every chart given them (a band only in the rows comes last)."""
    shown = [v for v in values if v["value"] is not None]
    known = list(bands or [])
    every_band = known + [b for b in dict.fromkeys(v["band"] for v in values) if b not in known]
    columns: dict[Any, list[float | None]] = {}
    for v in values:
        columns.setdefault(v[x], []).append(v["value"])
    rest = [{x: key, "band": withheld, "value": max(0.0, 1.0 - sum(s for s in shares if s is not None))}
            for key, shares in columns.items() if any(s is None for s in shares)]
    domain = every_band + ([withheld] if rest else [])
    steps = len(ORANGE_RED) - 1
    colours = [ORANGE_RED[round(i * steps / max(len(every_band) - 1, 1))] for i in range(len(every_band))]
    rows = [{**v, "order": domain.index(v["band"])} for v in shown + rest]
    x_encoding = {"field": x, "type": x_type, "title": x_title, "sort": None, "axis": {"labelAngle": -30}}
    if x_type == "temporal":
        x_encoding = {"field": x, "type": "temporal", "title": x_title, "axis": {"format": "%Y-%m"}}
    return _spec(description, {
        "data": {"values": rows},
        "mark": {"type": "bar" if x_type != "temporal" else "area"},
        "encoding": {"x": x_encoding,
                     "y": {"field": "value", "type": "quantitative", "stack": "zero", "title": y_title,
                           "scale": {"domain": [0, 1]}, "axis": {"format": ".0%"}},
                     "color": {"field": "band", "type": "ordinal", "title": color_title,
                               "scale": {"domain": domain, "range": colours + ([WITHHELD_GREY] if rest else [])}},
                     "order": {"field": "order", "type": "quantitative"},
                     "tooltip": [{"field": x, "title": x_title, **({"type": "temporal", "format": "%Y-%m"}
                                                                   if x_type == "temporal" else {})},
                                 {"field": "band", "title": color_title},
                                 {"field": "value", "type": "quantitative", "title": y_title, "format": ".1%"}]}})


def heatmap(description: str, values: list[dict], x_title: str, y_title: str, legend: str,
            thresholds: tuple[float, float], colours: tuple[str, str, str], y_order: list[str]) -> dict:
    """One cell per ``x`` (a month, ``YYYY-MM``) and ``y`` (rows: x, y, value, label, state),
    coloured by which side of ``thresholds`` its value is (a threshold scale: the legend names
    the ranges, the table view the state in words)."""
    rows = max(len(y_order), 1)
    return _spec(description, {
        "data": {"values": values},
        "mark": {"type": "rect", "stroke": "#ffffff", "strokeWidth": 0.5},
        "encoding": {"x": {"field": "x", "type": "ordinal", "title": x_title, "axis": {"labelAngle": -60}},
                     "y": {"field": "y", "type": "nominal", "title": y_title, "sort": y_order},
                     "color": {"field": "value", "type": "quantitative", "title": legend,
                               "scale": {"type": "threshold", "domain": list(thresholds), "range": list(colours)},
                               "legend": {"orient": "top", "format": ".2"}},
                     "tooltip": [{"field": "y", "title": y_title}, {"field": "x", "title": x_title},
                                 {"field": "label", "title": legend}, {"field": "state", "title": " "}]}},
        height=min(18 * rows, 900))


def lines_with_rules(description: str, values: list[dict], series_title: str, y_title: str,
                     rules: list[dict] | None = None, percent: bool = False, x_rule: dict | None = None,
                     domain: list[str] | None = None, symlog: bool = False) -> dict:
    """``lines`` (rows: month, series, value, label) with horizontal rules (``rules``: value,
    label), a threshold or a reference figure each, named at the right end, and a vertical one
    at ``x_rule`` (month, label), the end of a training window. ``symlog``: a y axis linear
    near 0 and logarithmic above 0.1, so that thresholds of 0.1 and 0.25 stay apart beside a
    value of 5."""
    fmt = ".0%" if percent else ".3~f"
    months = len({v["month"] for v in values})
    # a tick per month (every few months on a long axis): a short one would tick days, each labelled its month
    ticks = {"interval": "month", "step": max(1, -(-months // 12))}
    x = {"field": "month", "type": "temporal", "title": None, "axis": {"format": "%Y-%m", "tickCount": ticks}}
    colour: dict[str, Any] = {"field": "series", "type": "nominal", "title": series_title, "legend": {"orient": "bottom"}}
    if domain:
        colour["scale"] = {"domain": domain}
    layers: list[dict[str, Any]] = [{
        "data": {"values": values},
        "mark": {"type": "line", "point": True},
        "encoding": {"x": x, "y": {"field": "value", "type": "quantitative", "title": y_title,
                                   "axis": {"format": fmt},
                                   "scale": {"type": "symlog", "constant": 0.1} if symlog else {"zero": False}},
                     "color": colour,
                     "tooltip": [{"field": "series", "title": series_title},
                                 {"field": "month", "type": "temporal", "format": "%Y-%m"},
                                 {"field": "label", "title": y_title}]}}]
    for rule in rules or []:
        colour = rule.get("colour", "#595959")
        layers.append({"data": {"values": [rule]}, "mark": {"type": "rule", "strokeDash": [6, 4], "color": colour},
                       "encoding": {"y": {"field": "value", "type": "quantitative"}}})
        layers.append({"data": {"values": [rule]},
                       "mark": {"type": "text", "align": "right", "baseline": "bottom", "dy": -2, "x": "width",
                                "color": colour},
                       "encoding": {"y": {"field": "value", "type": "quantitative"}, "text": {"field": "label"}}})
    if x_rule:
        layers.append({"data": {"values": [x_rule]}, "mark": {"type": "rule", "color": "#8c8c8c"},
                       "encoding": {"x": {"field": "month", "type": "temporal"}}})
        layers.append({"data": {"values": [x_rule]},
                       "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3, "y": 0, "color": "#595959"},
                       "encoding": {"x": {"field": "month", "type": "temporal"}, "text": {"field": "label"}}})
    return _spec(description, {"layer": layers})

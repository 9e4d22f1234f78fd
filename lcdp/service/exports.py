"""Export API for consumers: the catalog of the data products granted to them, and filtered,
paginated downloads in CSV, Parquet or JSON.

- A consumer key sees only the products granted to its subject (``lcdp grants``); an admin
  key sees all. Another product is 403, an unknown one 404.
- Every page is read from one Delta version of the product, named in its cursor, so a
  rebuild between two pages cannot skip or repeat a row; the cursor also binds the filters.
  Cursors are signed, and name only versions consumers may read (``lcdp.exports.releases``):
  a cursor whose version has left retention is answered 410.
- The ETag is the product's version plus the request: ``If-None-Match`` with it answers 304.
- Every download (and every refusal) is written to the audit log.
"""

# no "from __future__ import annotations": FastAPI must see the closures' Depends() objects

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from itsdangerous import URLSafeSerializer
from pydantic import BaseModel

from lcdp import declarations
from lcdp.errors import BadRequest, Forbidden, Gone, NotBuilt, NotFound, Refused
from lcdp.exports import dictionary, files, grants, releases
from lcdp.exports.disclosure import ALL
from lcdp.exports.rows import version_rows
from lcdp.lake import catalog, lineage
from lcdp.pipeline import products
from lcdp.service.answers import refusals
from lcdp.settings import Settings

MAX_PAGE_ROWS = 50_000
#: what every page of rows answers with, declared in the OpenAPI document
ROWS_HEADERS = {name: {"description": why, "schema": {"type": "string"}, "required": True}
                for name, why in (("ETag", "the product's version and the request"),
                                  ("X-Delta-Version", "the Delta version the page is read from"),
                                  ("X-Total-Rows", "rows matching the filters"))}
DEFAULT_PAGE_ROWS = 10_000


class CatalogEntry(BaseModel):
    name: str
    table: str
    title: dict[str, str]
    description: dict[str, str]
    grain: str
    margins: list[str]
    margin_value: str
    sources: list[str]
    rules: list[str]
    #: what a suppressed cell means, the rules in Korean and English, and their parameters
    suppression: dict[str, Any]
    filters: dict[str, str]
    #: every column: type, role, titles, descriptions and unit in Korean and English
    columns: list[dict[str, Any]]
    #: coded column → code → its name in Korean and English (``ALL`` included)
    codes: dict[str, dict[str, dict[str, str]]]
    version: int | None
    refreshed_at: str | None
    rows: int
    suppressed_cells: int
    #: the build's disclosure report: cells published, suppressed by each rule and as secondary
    disclosure: dict[str, Any] | None = None
    #: the releases consumers may read: how many are kept and their versions, newest first
    releases: dict[str, Any] | None = None


class Catalog(BaseModel):
    products: list[CatalogEntry]


class Page(BaseModel):
    product: str
    version: int
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _releases(settings: Settings, declared) -> dict[str, Any]:
    kept = releases.kept(settings, declared.name, declared.releases_kept)
    try:
        versions = list(releases.readable(settings, declared.name, declared.releases_kept).releases)
    except NotBuilt:
        versions = []
    return {"kept": kept, "versions": versions,
            "setting": "LCDP_PRODUCT_RELEASES (older versions are refused by this API and Delta Sharing)"}


def _entry(settings: Settings, declared) -> CatalogEntry:
    found = lineage.latest(declared.table, settings)
    when = None
    if found is not None:
        commit = next((c for c in catalog.history(declared.table, settings, limit=50) if c["version"] == found["version"]),
                      None)
        stamp = commit.get("timestamp") if commit else None
        when = dt.datetime.fromtimestamp(stamp / 1000, dt.timezone.utc).isoformat(timespec="seconds") if stamp else None
    return CatalogEntry(**dictionary.catalog_entry(declared, declarations.product(declared.name).sources),
                        version=found["version"] if found else None, refreshed_at=when,
                        rows=found.get("rows", 0) if found else 0,
                        suppressed_cells=found.get("suppressed_cells", 0) if found else 0,
                        disclosure=_report(found.get("disclosure")) if found else None,
                        releases=_releases(settings, declared))


def _report(full: dict | None) -> dict | None:
    if not full:
        return None
    keep = ("cells", "published", "suppressed", "primary_by_rule", "secondary", "releases_before")
    return {k: full[k] for k in keep if k in full} | {"audit_passed": full.get("audit", {}).get("passed")}


def _month(text: str | None, name: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise Refused(f"{name} must be a month as YYYY-MM, not {text[:20]!r}") from None


def _cursors(settings: Settings) -> URLSafeSerializer:
    """Cursors are signed with a secret of the home: a consumer cannot write its own to pin a
    version it was never given, or one that has left retention (checked again on use)."""
    return URLSafeSerializer(settings.home_secret("export-cursor.key"), salt="lcdp-export-cursor")


def _query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def encode_cursor(settings: Settings, version: int, offset: int, query: str) -> str:
    return _cursors(settings).dumps({"v": version, "o": offset, "q": _query_hash(query)})


def decode_cursor(settings: Settings, cursor: str, query: str) -> tuple[int, int]:
    """``(version, offset)`` of a cursor this API gave out for this query; 400 otherwise."""
    try:
        data = _cursors(settings).loads(cursor)
        version, offset, bound = int(data["v"]), int(data["o"]), str(data["q"])
    except Exception:  # noqa: BLE001 - a forged, damaged or foreign cursor is the same refusal
        raise BadRequest("the cursor is not one this API gave out (start again without it)") from None
    if bound != _query_hash(query) or offset < 0 or version < 0:
        raise BadRequest("the cursor belongs to another query (same filters and format, or start again)")
    return version, offset


def install(app, settings: Settings, consumer: Callable, audit: Callable) -> None:
    """Add the export routes to ``app`` (``consumer``: the dependency that admits consumer and
    admin keys; ``audit``: the log)."""
    router = APIRouter(prefix="/v1/products", tags=["exports"])

    def visible(who) -> list[str]:
        return grants.visible(settings.metadata_db_url, who.role, who.subject)

    def granted_product(request: Request, name: str, who):
        request.state.audit_action, request.state.audit_target = "export.refused", f"product/{name}"
        if name not in products.names():
            raise NotFound(f"no product {name!r} (see GET /v1/products)")
        if name not in visible(who):
            raise Forbidden(f"product {name!r} is not granted to consumer {who.subject!r}")
        return products.declared(name)

    @router.get("", response_model=Catalog, responses=refusals(403), summary="The data products this key may read")
    def list_products(who: Annotated[Any, Depends(consumer)]) -> Catalog:
        return Catalog(products=[_entry(settings, products.declared(n)) for n in visible(who)])

    @router.get("/{name}", response_model=CatalogEntry, responses=refusals(403, 404),
                summary="One product's catalog entry")
    def get_product(request: Request, name: str, who: Annotated[Any, Depends(consumer)]) -> CatalogEntry:
        return _entry(settings, granted_product(request, name, who))

    @router.get("/{name}/rows", response_class=Response,
                responses={200: {"model": Page, "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
                                 "description": "a page of rows (JSON, CSV or Parquet, as `format` asks); the next "
                                                "page's cursor in X-Next-Cursor and Link",
                                 "headers": ROWS_HEADERS},
                           304: {"description": "not modified (If-None-Match)", "headers": {"ETag": ROWS_HEADERS["ETag"]}},
                           **refusals(400, 403, 404, 410)},
                summary="Download a product's rows, filtered, one page at a time")
    def rows(
        request: Request,
        name: str,
        who: Annotated[Any, Depends(consumer)],
        format: Annotated[str, Query(pattern="^(csv|parquet|json)$", description="csv, parquet or json")] = "json",
        region: Annotated[str | None, Query(max_length=10, description=f"a SIGUN_CD, {ALL}, or 'unknown'")] = None,
        industry: Annotated[str | None, Query(max_length=20, description=f"an industry code, {ALL}, or 'unknown'")] = None,
        month_from: Annotated[str | None, Query(max_length=7, description="first month, YYYY-MM")] = None,
        month_to: Annotated[str | None, Query(max_length=7, description="last month, YYYY-MM")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = DEFAULT_PAGE_ROWS,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> Response:
        declared = granted_product(request, name, who)
        first, last = _month(month_from, "month_from"), _month(month_to, "month_to")
        query = json.dumps([name, format, region, industry, month_from, month_to, limit])
        kept = releases.readable(settings, name, declared.releases_kept)  # not built: 404
        if cursor:
            version, offset = decode_cursor(settings, cursor, query)
            kept.check(version)  # a version that left retention since: 410
        else:
            version, offset = kept.latest, 0
        etag = f'"{name}-v{version}-{hashlib.sha256((query + (cursor or "")).encode()).hexdigest()[:16]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        try:
            table = version_rows(catalog.table(declared.table).uri(settings), version)
        except Exception:  # noqa: BLE001 - a version vacuumed away, or gone
            raise Gone(f"version {version} of {name!r} is no longer kept: start again without the cursor") from None
        table = filter_rows(table, declared, region, industry, first, last)
        page = table.slice(offset, limit)
        more = offset + page.num_rows < table.num_rows
        next_cursor = encode_cursor(settings, version, offset + page.num_rows, query) if more else None
        headers = {"ETag": etag, "X-Delta-Version": str(version), "X-Total-Rows": str(table.num_rows),
                   "Cache-Control": "private, max-age=0, must-revalidate"}
        if next_cursor:
            headers["X-Next-Cursor"] = next_cursor
            nxt = request.url.include_query_params(cursor=next_cursor)
            headers["Link"] = f'<{nxt}>; rel="next"'
        audit(settings, who, "export.download", f"product/{name}", 200,
              f"v{version} {format} rows {offset}-{offset + page.num_rows} of {table.num_rows}"
              f"{' ' + query if any((region, industry, month_from, month_to)) else ''}"[:1000])
        if format == "json":
            return JSONResponse(Page(product=name, version=version, rows=files.json_rows(page),
                                     next_cursor=next_cursor).model_dump(mode="json"), headers=headers)
        body = files.csv_bytes(page, bom=offset == 0) if format == "csv" else files.parquet_bytes(page)
        headers["Content-Disposition"] = f'attachment; filename="{name}-v{version}-{offset}.{format}"'
        return Response(body, media_type=files.MEDIA_TYPES[format], headers=headers)

    app.include_router(router)


def filter_rows(table: pa.Table, declared, region, industry, first, last) -> pa.Table:
    dims = {c.name for c in declared.dimensions}
    mask = None

    def both(expr):
        nonlocal mask
        mask = expr if mask is None else pc.and_(mask, expr)

    for value, column in ((region, "sigun_cd"), (industry, "industry_code")):
        if value is None or column not in dims:
            continue
        col = table.column(column)
        both(pc.is_null(col) if value == "unknown" else pc.fill_null(pc.equal(col, value), False))
    if "month" in dims:
        if first is not None:
            both(pc.greater_equal(table.column("month"), pa.scalar(first, pa.date32())))
        if last is not None:
            both(pc.less_equal(table.column("month"), pa.scalar(last, pa.date32())))
    return table if mask is None else table.filter(mask)

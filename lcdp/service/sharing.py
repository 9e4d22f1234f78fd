"""A Delta Sharing server (the open protocol, parquet response format) for the data products,
so consumers read them with the official clients (pandas, Spark, Power BI…).

One share, ``lcdp``, with one schema, ``exports``, holding the products granted to the
consumer whose key is the profile's bearer token (``lcdp share profile``). Table answers carry
the ``delta-table-version`` header; list answers are one JSON line; metadata and query answers
are JSON Lines (protocol, metaData, then one ``file`` per data file).

File URLs point back at this service and carry their own signature: an HMAC of (key, product,
version, file, expiry) under a secret kept in the home, valid for ``SHARING_URL_SECONDS``; the
client fetches them without its bearer token, with range requests. The signature only says
this server gave the URL out: each download checks again that the key is live, the product
still granted to it and the version still readable, and is audited.

A query may ask for a version (``{"version": N}``), but only one of the product's releases
consumers may read (``lcdp.exports.releases``, the same rule as the export API's cursors).
Every refusal is a 4xx with ``{errorCode, message}``: the official client retries 5xx for
minutes, 4xx never.
"""

# no "from __future__ import annotations": FastAPI must see the closures' Depends() objects

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel

from lcdp import declarations, keys
from lcdp.errors import NotBuilt, OutsideRetention, SharingError
from lcdp.exports import dictionary, grants, releases
from lcdp.lake import catalog
from lcdp.pipeline import products
from lcdp.service.answers import SharingErrorBody, refusals
from lcdp.settings import Settings

SHARE, SCHEMA = "lcdp", "exports"
PREFIX = "/delta-sharing"
#: how long a signed file URL works
SHARING_URL_SECONDS = 900


class QueryRequest(BaseModel):
    """The body of a query (fields the protocol allows; hints are optional and ignored)."""

    predicateHints: list[str] | None = None
    jsonPredicateHints: str | None = None
    limitHint: int | None = None
    version: int | None = None
    timestamp: str | None = None
    startingVersion: int | None = None
    endingVersion: int | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FileGrant(BaseModel):
    """What a signed file URL names: who was given it, for which product version and file."""

    key_id: str
    product: str
    version: int
    file: str


def sign_file(secret: bytes, grant: FileGrant, expires: int) -> str:
    fields = [grant.key_id, grant.product, grant.version, grant.file, expires]
    payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{_b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())}"


def verify_file(secret: bytes, token: str) -> FileGrant:
    """What a signed token names; raises 403 when it is forged or expired."""
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        raise _error(403, "PERMISSION_DENIED", "this file URL is not signed by this server")
    try:
        key_id, product, version, file, expires = json.loads(_unb64(payload))
        grant = FileGrant(key_id=key_id, product=product, version=version, file=file)
    except Exception:  # noqa: BLE001 - a signed payload we cannot read is still refused
        raise _error(403, "PERMISSION_DENIED", "this file URL is damaged") from None
    if time.time() > int(expires):
        raise _error(403, "PERMISSION_DENIED", "this file URL has expired: query the table again")
    return grant


#: the protocol's error code for a refusal that is not one of ours (a missing key, a bad route)
ERROR_CODES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST"}


def error_code(status: int) -> str:
    """The protocol's error code for a refusal of ``status``: any other 4xx is bad input."""
    return ERROR_CODES.get(status, "INVALID_PARAMETER_VALUE" if status < 500 else "INTERNAL_ERROR")


def _refusals(*statuses: int) -> dict:
    """``responses=`` of a sharing route: its refusals in the protocol's shape (a partner's key
    is 403 on every route)."""
    return refusals(403, *statuses, model=SharingErrorBody)


#: a table answer's header
VERSION_HEADER = {"delta-table-version": {"description": "the table version answered", "required": True,
                                          "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
#: a metadata or query answer: JSON Lines
NDJSON = {200: {"description": "JSON Lines: protocol, metaData, then (a query) one file per data file",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}}, "headers": VERSION_HEADER}}


def _error(status: int, code: str, message: str) -> SharingError:
    return SharingError(status, code, message)


def install(app, settings: Settings, consumer: Callable, audit: Callable) -> None:
    """Add the Delta Sharing routes to ``app`` (``consumer``: the dependency that admits
    consumer and admin keys, here the profile's bearer token; ``audit``: the log)."""
    router = APIRouter(prefix=PREFIX, tags=["delta sharing"])
    secret = settings.home_secret("sharing-url.key")  # signs the file URLs

    def tables_of(key) -> list[str]:
        return grants.visible(settings.metadata_db_url, key.role, key.subject)

    def check(share: str, schema: str | None = None) -> None:
        if share != SHARE:
            raise _error(404, "RESOURCE_DOES_NOT_EXIST", f"share {share!r} does not exist (shares: {SHARE})")
        if schema is not None and schema != SCHEMA:
            raise _error(404, "RESOURCE_DOES_NOT_EXIST", f"schema {schema!r} does not exist in share {SHARE}")

    def table_of(request: Request, key, share: str, schema: str, name: str):
        check(share, schema)
        request.state.audit_action, request.state.audit_target = "sharing.refused", f"product/{name}"
        if name not in products.names():
            raise _error(404, "RESOURCE_DOES_NOT_EXIST", f"table {name!r} does not exist in {SHARE}.{SCHEMA}")
        if name not in tables_of(key):
            raise _error(403, "PERMISSION_DENIED", f"table {name!r} is not shared with {key.subject!r}")
        handle = catalog.delta(declarations.product(name).table, settings)
        if handle is None:
            raise _error(404, "RESOURCE_DOES_NOT_EXIST", f"table {name!r} has not been built yet")
        return handle

    def readable(name: str) -> releases.Readable:
        try:
            return releases.readable(settings, name, products.declared(name).releases_kept)
        except NotBuilt as exc:
            raise _error(404, "RESOURCE_DOES_NOT_EXIST", str(exc)) from None

    def items(rows: list[dict]) -> JSONResponse:
        return JSONResponse({"items": rows})

    @router.get("/shares", responses=_refusals())
    def list_shares(key: Annotated[Any, Depends(consumer)]) -> JSONResponse:
        return items([{"name": SHARE}])

    @router.get("/shares/{share}", responses=_refusals(404))
    def get_share(share: str, key: Annotated[Any, Depends(consumer)]) -> JSONResponse:
        check(share)
        return JSONResponse({"share": {"name": SHARE}})

    @router.get("/shares/{share}/schemas", responses=_refusals(404))
    def list_schemas(share: str, key: Annotated[Any, Depends(consumer)]) -> JSONResponse:
        check(share)
        return items([{"name": SCHEMA, "share": SHARE}])

    @router.get("/shares/{share}/schemas/{schema}/tables", responses=_refusals(404))
    def list_tables(share: str, schema: str, key: Annotated[Any, Depends(consumer)]) -> JSONResponse:
        check(share, schema)
        return items([{"name": n, "schema": SCHEMA, "share": SHARE} for n in tables_of(key)])

    @router.get("/shares/{share}/all-tables", responses=_refusals(404))
    def list_all_tables(share: str, key: Annotated[Any, Depends(consumer)]) -> JSONResponse:
        check(share)
        return items([{"name": n, "schema": SCHEMA, "share": SHARE} for n in tables_of(key)])

    @router.get("/shares/{share}/schemas/{schema}/tables/{name}/version", response_class=Response,
                responses={200: {"description": "the version, in the header; no body", "headers": VERSION_HEADER},
                           **_refusals(400, 404)})
    def table_version(request: Request, share: str, schema: str, name: str,
                      key: Annotated[Any, Depends(consumer)]) -> Response:
        if request.query_params.get("startingTimestamp"):
            raise _error(400, "INVALID_PARAMETER_VALUE", "startingTimestamp is not supported; ask by version")
        handle = table_of(request, key, share, schema, name)
        return Response(status_code=200, headers={"delta-table-version": str(handle.version())})

    router.add_api_route("/shares/{share}/schemas/{schema}/tables/{name}/version", table_version,
                         methods=["HEAD"], include_in_schema=False)

    def header_lines(name: str, handle) -> list[dict]:
        """The protocol and metaData lines: the product's description, and each column's
        comment in its schema's metadata (from the data dictionary)."""
        meta = handle.metadata()
        declared = products.declared(name)
        return [{"protocol": {"minReaderVersion": 1}},
                {"metaData": {"id": meta.id, "name": meta.name or name,
                              "description": dictionary.sharing_description(declared),
                              "format": {"provider": "parquet"},
                              "schemaString": dictionary.sharing_schema(declared, handle.schema().to_json()),
                              "partitionColumns": list(meta.partition_columns), "configuration": {},
                              "version": handle.version()}}]

    def ndjson(lines: list[dict], version: int) -> Response:
        body = "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines)
        return Response(body, media_type="application/x-ndjson",
                        headers={"delta-table-version": str(version),
                                 "delta-sharing-capabilities": "responseformat=parquet"})

    @router.get("/shares/{share}/schemas/{schema}/tables/{name}/metadata", response_class=Response,
                responses={**NDJSON, **_refusals(404)})
    def table_metadata(request: Request, share: str, schema: str, name: str,
                       key: Annotated[Any, Depends(consumer)]) -> Response:
        handle = table_of(request, key, share, schema, name)
        return ndjson(header_lines(name, handle), handle.version())

    @router.post("/shares/{share}/schemas/{schema}/tables/{name}/query", response_class=Response,
                 responses={**NDJSON, **_refusals(400, 404)})
    def query_table(request: Request, share: str, schema: str, name: str, body: QueryRequest,
                    key: Annotated[Any, Depends(consumer)]) -> Response:
        handle = table_of(request, key, share, schema, name)
        if body.timestamp is not None or body.startingVersion is not None:
            raise _error(400, "INVALID_PARAMETER_VALUE", "only the latest version or a given version can be queried")
        if body.version is not None:
            try:
                readable(name).check(body.version)
            except OutsideRetention as exc:
                raise _error(400, "INVALID_PARAMETER_VALUE", str(exc)) from None
            try:
                handle.load_as_version(body.version)
            except Exception:  # noqa: BLE001 - a version vacuumed away
                raise _error(400, "INVALID_PARAMETER_VALUE", f"version {body.version} of {name!r} is not kept") from None
        version = handle.version()
        expires = int(time.time()) + SHARING_URL_SECONDS
        base = str(request.base_url).rstrip("/")
        lines = header_lines(name, handle)
        actions = pa.table(handle.get_add_actions(flatten=True)).to_pylist()
        for action in actions:
            grant = FileGrant(key_id=key.key_id, product=name, version=version, file=action["path"])
            token = sign_file(secret, grant, expires)
            lines.append({"file": {
                "url": f"{base}{PREFIX}/files/{token}", "id": hashlib.sha256(action["path"].encode()).hexdigest(),
                "partitionValues": {}, "size": int(action["size_bytes"]),
                "expirationTimestamp": expires * 1000, "version": version}})
        audit(settings, key, "sharing.query", f"product/{name}", 200,
              f"v{version}, {len(actions)} file(s)", None)
        return ndjson(lines, version)

    @router.api_route("/files/{token}", methods=["GET", "HEAD"], include_in_schema=False)
    def signed_file(request: Request, token: str) -> FileResponse:
        """One data file of a query's answer. The URL was signed for a key, a product version
        and a file; whether that key may still read them is asked again now: a key revoked,
        a grant taken back or a version out of retention since the query stops the download."""
        request.state.audit_action = "sharing.file_refused"
        grant = verify_file(secret, token)
        request.state.audit_target = f"product/{grant.product}"
        key = keys.live(settings.metadata_db_url, grant.key_id)
        if key is None:
            raise _error(403, "PERMISSION_DENIED", "the key this file URL was given to is revoked or expired")
        request.state.caller = key
        if grant.product not in products.names() or grant.product not in tables_of(key):
            raise _error(403, "PERMISSION_DENIED", f"table {grant.product!r} is no longer shared with {key.subject!r}")
        try:
            readable(grant.product).check(grant.version)
        except OutsideRetention as exc:
            raise _error(403, "PERMISSION_DENIED", f"{exc}: query the table again") from None
        root = catalog.table(declarations.product(grant.product).table).path(settings).resolve()
        path = (root / grant.file).resolve()
        if root not in path.parents or not path.is_file():
            raise _error(404, "RESOURCE_DOES_NOT_EXIST", "this file is no longer kept: query the table again")
        if request.method == "GET":
            ranged = request.headers.get("range")
            audit(settings, key, "sharing.file", f"product/{grant.product}", 200,
                  f"v{grant.version} {grant.file}{' ' + ranged if ranged else ''}"[:300], None)
        return FileResponse(path, media_type="application/octet-stream")

    app.include_router(router)


def profile(settings: Settings, consumer: str, expires_days: float) -> dict:
    """A Delta Sharing profile for ``consumer``: a consumer key that expires with it."""
    import datetime as dt

    token = keys.create(settings.metadata_db_url, "consumer", consumer, expires_in_days=expires_days)
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=expires_days)
    return {"shareCredentialsVersion": 1, "endpoint": settings.service_url + PREFIX,
            "bearerToken": token, "expirationTime": expires.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}


def write_profile(path: Path, content: dict) -> None:
    """Write the profile readable by its owner only (it holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(content, fh, indent=2)
    partial.replace(path)

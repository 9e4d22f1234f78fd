"""The platform API: partners stream deliveries in and read their receipts; consumers browse
and download the data products they were granted (``lcdp.service.exports``).

Every request carries an API key (``Authorization: Bearer lcdp_…`` or ``X-API-Key``). A
partner key reaches only its own partner's datasets and uploads; an admin key reaches all.
Every upload attempt, accepted or refused, is written to the audit log. A GET may instead
carry the policy dashboard's session cookie (``lcdp.dashboard``: its pages' download links).

Every refusal is a platform error (``lcdp.errors``) answered in one place: its status, and
``{"error", "status"}`` (an HTML page on the dashboard), audited once. Under Delta Sharing's
prefix every refusal, a missing key's or an invalid body's too, is the protocol's
``{errorCode, message}``. The OpenAPI document declares each status an operation answers
with its body. Every answer carries the browser security headers, and ``/docs`` is served
from the service's own files (``lcdp.service.web``).
"""


import asyncio
import csv
import io
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from lcdp import keys, log, metadata
from lcdp.contracts import get_contract
from lcdp.dashboard import routes as dashboard_routes
from lcdp.dashboard import session as dashboard_session
from lcdp.errors import (
    BadRequest, DeliveryRefused, DeliveryTooLarge, Forbidden, LcdpError, NotFound, PageRefused, Refused,
    RequestTimeout, SharingError, Unauthorized, UnexpectedError, UnsupportedMediaType, WebRefusal,
)
from lcdp.exports.files import spreadsheet_safe
from lcdp.ingest import ingest_landed, new_upload_id
from lcdp.ingest.landing import LandingWriter, room_for, safe_file_name
from lcdp.keys import Role
from lcdp.lake import catalog
from lcdp.metadata import REFUSED_WHOLE, Receipt
from lcdp.service import exports as export_routes
from lcdp.service import sharing, web
from lcdp.service.answers import ErrorBody, refusals  # noqa: F401 - ErrorBody: the refusals' body
from lcdp.settings import Settings

_log = log.get(__name__)

#: Content types a delivery may declare, per native format.
CONTENT_TYPES = {
    "csv": {"text/csv", "text/plain", "application/octet-stream"},
    "jsonl": {"application/x-ndjson", "application/jsonl", "application/jsonlines", "application/octet-stream"},
    "ggdata_page": {"application/json"},
    "parquet": {"application/vnd.apache.parquet", "application/x-parquet", "application/octet-stream"},
}


class UploadList(BaseModel):
    uploads: list[Receipt]


class Caller(BaseModel):
    key_id: str
    role: str
    subject: str


#: The most of a request's own text (a path, a message quoting it) one audit event keeps:
#: a caller must not be able to write megabytes into the log with one long URL.
AUDIT_TARGET_CHARS, AUDIT_DETAIL_CHARS = 200, 1000


def bounded(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if text is None or len(text) <= limit else text[:limit - 1] + "…"


def _audit(settings: Settings, caller: Caller | None, action: str, target: str, status: int,
           detail: str | None = None, upload_id: str | None = None) -> None:
    with metadata.session(settings.metadata_db_url) as db:
        db.add(metadata.AuditEvent(
            key_id=caller.key_id if caller else None, subject=caller.subject if caller else None,
            action=action, target=bounded(target, AUDIT_TARGET_CHARS), status_code=status,
            detail=bounded(detail, AUDIT_DETAIL_CHARS), upload_id=upload_id,
        ))
        db.commit()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.ensure_dirs()
    metadata.engine(settings.metadata_db_url)  # create the schema before the first request
    # /docs is served from this service's own files (lcdp.service.web), never from a CDN
    app = FastAPI(title="Local Currency Data Platform", version="1", description=__doc__,
                  docs_url=None, redoc_url=None)
    web.secure(app)
    web.install_docs(app)

    def answer(request: Request, exc: LcdpError) -> Response:
        """Every refusal, wherever it happens (routing, validation, a handler), is audited
        once and answered as ``{"error", "status"}`` (Delta Sharing's own shape, ``{errorCode,
        message}``, under its prefix; a dashboard page as a page)."""
        status, message = exc.http_status, str(exc)
        upload_id = getattr(exc, "upload_id", None)
        who: Caller | None = getattr(request.state, "caller", None)
        upload = request.method == "POST" and request.url.path.startswith("/v1/uploads/")
        action = getattr(request.state, "audit_action", None) or (
            "auth.refused" if status == 401 else "upload.refused" if upload else "request.refused")
        target = getattr(request.state, "audit_target", None) or request.url.path
        _audit(settings, who, action, target, status, message, upload_id)
        if isinstance(exc, PageRefused):
            return refusal_page(request, exc)
        if request.url.path.startswith(sharing.PREFIX + "/") and not isinstance(exc, SharingError):
            # a Delta Sharing client reads only {errorCode, message}, whatever refused it (the
            # key's check, the body's validation, the router)
            exc = SharingError(status, sharing.error_code(status), message, exc.headers)
        body = exc.body() or {"error": message, "status": status, **({"upload_id": upload_id} if upload_id else {})}
        return JSONResponse(body, status_code=status, headers=exc.headers)

    @app.exception_handler(LcdpError)
    async def platform_error(request: Request, exc: LcdpError) -> Response:
        return await run_in_threadpool(answer, request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """The router's and the framework's own refusals, as platform errors."""
        path = bounded(request.url.path, AUDIT_TARGET_CHARS)
        routing = {404: f"no such endpoint: {request.method} {path} (see /docs)",
                   405: f"{request.method} is not allowed on {path}"}
        # the router's own 404/405 say "Not Found"/"Method Not Allowed"; ours say more
        generic = exc.detail in ("Not Found", "Method Not Allowed")
        message = routing[exc.status_code] if generic and exc.status_code in routing else str(exc.detail)
        headers = getattr(exc, "headers", None)
        return await run_in_threadpool(answer, request, WebRefusal(exc.status_code, message, headers))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return await run_in_threadpool(answer, request, Refused(f"{where}: {first.get('msg', 'invalid request')}"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        """A failure the platform did not foresee: logged with its traceback, answered 500 in
        the same shape as every other error, and audited."""
        _log.exception("service.unexpected", method=request.method, path=request.url.path)
        error = UnexpectedError(f"{type(exc).__name__}: the platform failed unexpectedly", hint="see the service's log")
        return await run_in_threadpool(answer, request, error)

    @app.get("/healthz", summary="Liveness and readiness: the metadata DB answers",
             responses={500: {"model": ErrorBody, "description": "the metadata DB does not answer"}})
    def healthz() -> dict:
        from sqlalchemy import text

        with metadata.engine(settings.metadata_db_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "metadata": settings.metadata_db_url.split(":", 1)[0]}

    def caller(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Caller:
        token = x_api_key or (authorization[7:] if authorization and authorization.lower().startswith("bearer ") else None)
        key = keys.verify(settings.metadata_db_url, token) if token else None
        if token is None and request.method == "GET":  # a dashboard page's download link
            key = dashboard_session.key_of(settings, request.cookies.get(dashboard_session.COOKIE))
            token = "session" if key is not None else None
        if key is None:
            reason = "missing API key" if not token else "invalid, expired or revoked API key"
            request.state.audit_action = "auth.refused"
            raise Unauthorized(reason)
        request.state.caller = Caller(key_id=key.key_id, role=key.role, subject=key.subject)
        return request.state.caller

    def may_see_partner(who: Caller, partner: str) -> bool:
        return who.role == Role.ADMIN or (who.role == Role.PARTNER and who.subject == partner)

    @app.post("/v1/uploads/{partner}/{dataset}", status_code=201, response_model=Receipt,
              responses={200: {"model": Receipt, "description": "The same bytes were delivered before"},
                         **refusals(400, 403, 404, 408, 409, 413, 415)},
              summary="Deliver one file of a partner dataset",
              description="The body is the file, streamed. A body that sends no bytes for "
                          "LCDP_UPLOAD_STALL_SECONDS (default 60), or has not all arrived "
                          "LCDP_UPLOAD_DEADLINE_SECONDS (default 3600) after it began, is answered 408 and "
                          "nothing of it is kept. A delivery that would take the partner past "
                          "LCDP_LANDING_QUOTA_BYTES in landing is answered 413.")
    async def upload(
        request: Request,
        partner: str,
        dataset: str,
        file_name: Annotated[str, Query(min_length=1, max_length=255, description="The file's name as the partner knows it")],
        who: Annotated[Caller, Depends(caller)],
        content_type: Annotated[str | None, Header()] = None,
        content_length: Annotated[int | None, Header(ge=0)] = None,
    ) -> JSONResponse:
        target = f"{partner}/{dataset}"
        # every refusal below is audited and answered by the exception handler
        request.state.audit_action, request.state.audit_target = "upload.refused", target
        if not may_see_partner(who, partner):
            raise Forbidden(f"key of {who.role} {who.subject!r} may not deliver for partner {partner!r}")
        contract = get_contract(partner, dataset)  # an unknown dataset: 404
        declared = (content_type or "").split(";")[0].strip().lower()
        allowed = CONTENT_TYPES[contract.format.kind]
        if declared not in allowed:
            raise UnsupportedMediaType(f"content type {declared or 'missing'!r} is not accepted for {target} "
                                       f"(send one of: {', '.join(sorted(allowed))})")
        safe_file_name(file_name)  # an unsafe name: 422
        if content_length is not None and content_length > settings.max_upload_bytes:
            raise DeliveryTooLarge(f"delivery of {content_length} bytes exceeds the limit of {settings.max_upload_bytes}")
        room = await run_in_threadpool(room_for, settings.metadata_db_url, partner, settings.landing_quota_bytes)
        full = DeliveryTooLarge(f"partner {partner!r} has {room} bytes left of its landing quota of "
                                f"{settings.landing_quota_bytes} (LCDP_LANDING_QUOTA_BYTES): an operator must make room")
        if (content_length or 1) > room:
            raise full
        # Stream the body straight into landing, hashing and counting as it arrives: bounded
        # memory and one write, whatever the size. Nothing stays if it is cut short or too big.
        upload_id = new_upload_id()
        writer = LandingWriter(settings.landing_root, partner, dataset, upload_id, file_name,
                               min(settings.max_upload_bytes, room))
        # Two clocks: the stall timer restarts with every chunk; the deadline does not, so a
        # client trickling a byte at a time cannot hold a connection (and a worker) forever.
        stall, clock = settings.upload_stall_seconds, asyncio.get_running_loop().time
        deadline = clock() + settings.upload_deadline_seconds
        try:
            try:
                chunks = request.stream().__aiter__()
                while True:
                    try:
                        chunk = await asyncio.wait_for(chunks.__anext__(), timeout=min(stall, deadline - clock()))
                    except StopAsyncIteration:
                        break
                    writer.write(chunk)
            except asyncio.TimeoutError as exc:
                if clock() >= deadline:
                    raise RequestTimeout(f"the upload did not arrive within {settings.upload_deadline_seconds:g} s "
                                         "(LCDP_UPLOAD_DEADLINE_SECONDS); send it again") from exc
                raise RequestTimeout(f"the upload stalled: no bytes arrived for {stall:g} s "
                                     "(LCDP_UPLOAD_STALL_SECONDS); send it again") from exc
            except ClientDisconnect as exc:
                raise BadRequest("the upload was cut off before its end") from exc
            if content_length is not None and writer.size != content_length:
                raise BadRequest(f"the upload was cut off: {writer.size} of {content_length} bytes arrived")
            landed = writer.finish()
        except DeliveryTooLarge:
            writer.abort()
            raise full if writer.size <= settings.max_upload_bytes else DeliveryTooLarge(
                f"delivery exceeds the limit of {settings.max_upload_bytes} bytes") from None
        except BaseException:
            writer.abort()
            raise
        # the same bytes being ingested by another process: 409; refused whole: 422
        receipt = (await run_in_threadpool(ingest_landed, settings, partner, dataset,
                                           [(upload_id, file_name, landed)]))[0]
        if receipt.status in REFUSED_WHOLE:
            raise DeliveryRefused(receipt.error or "delivery refused", upload_id=receipt.upload_id)
        status = 200 if receipt.duplicate_of else 201
        _audit(settings, who, "upload.duplicate" if receipt.duplicate_of else "upload.accepted", target, status,
               None, receipt.upload_id)
        return JSONResponse(receipt.model_dump(mode="json"), status_code=status)

    def _upload_for(who: Caller, upload_id: str) -> metadata.Upload:
        with metadata.session(settings.metadata_db_url) as db:
            found = db.get(metadata.Upload, upload_id)
        # another partner's upload is "not found", so ids cannot be probed
        if found is None or not may_see_partner(who, found.partner):
            raise NotFound(f"no upload {upload_id!r} for this key")
        return found

    def _original(upload: metadata.Upload) -> metadata.Upload | None:
        if not upload.duplicate_of:
            return None
        with metadata.session(settings.metadata_db_url) as db:
            return db.get(metadata.Upload, upload.duplicate_of)

    @app.get("/v1/uploads", response_model=UploadList, responses=refusals(403),
             summary="List uploads visible to this key")
    def list_uploads(
        who: Annotated[Caller, Depends(caller)],
        partner: Annotated[str | None, Query(max_length=40)] = None,
    ) -> UploadList:
        if who.role == Role.PARTNER:
            if partner not in (None, who.subject):
                raise Forbidden(f"a key of partner {who.subject!r} sees only its own uploads")
            partner = who.subject
        elif who.role != Role.ADMIN:
            raise Forbidden("uploads are visible to partners and admins only")
        with metadata.session(settings.metadata_db_url) as db:
            query = select(metadata.Upload).order_by(metadata.Upload.created_at)
            if partner:
                query = query.where(metadata.Upload.partner == partner)
            rows = list(db.scalars(query))
        by_id = {u.upload_id: u for u in rows}
        return UploadList(uploads=[Receipt.of(u, by_id.get(u.duplicate_of or "")) for u in rows])

    @app.get("/v1/uploads/{upload_id}", response_model=Receipt, responses=refusals(404), summary="One upload's receipt")
    def get_upload(upload_id: str, who: Annotated[Caller, Depends(caller)]) -> Receipt:
        upload = _upload_for(who, upload_id)
        return Receipt.of(upload, _original(upload))

    @app.get("/v1/uploads/{upload_id}/quarantine.csv", responses={200: {"content": {"text/csv": {}}}, **refusals(404)},
             response_class=Response, summary="The rejected rows of an upload, with their reasons")
    def quarantine_report(upload_id: str, who: Annotated[Caller, Depends(caller)]) -> Response:
        upload = _original(u := _upload_for(who, upload_id)) or u
        name = catalog.quarantine(get_contract(upload.partner, upload.dataset)).qualified
        handle = catalog.delta(name, settings)
        rows = []
        if handle is not None:
            import pyarrow.compute as pc

            table = handle.to_pyarrow_dataset().to_table(filter=pc.field("_upload_id") == upload.upload_id)
            rows = sorted(table.to_pylist(), key=lambda r: r["_row_number"])
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["row_number", "reasons", "raw_record"])
        for r in rows:
            writer.writerow([r["_row_number"], spreadsheet_safe("; ".join(r["reasons"] or [])),
                             spreadsheet_safe(r["raw_record"] or "")])
        return Response(buf.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{upload.upload_id}-quarantine.csv"'})

    def consumer(request: Request, who: Annotated[Caller, Depends(caller)]) -> Caller:
        """The caller, when its key may read data products: a consumer's or an admin's."""
        if who.role not in (Role.CONSUMER, Role.ADMIN):
            request.state.audit_action = "export.refused"
            raise Forbidden(f"data products are for consumer keys (this key is a {who.role}'s)")
        return who

    export_routes.install(app, settings, consumer, _audit)
    sharing.install(app, settings, consumer, _audit)
    refusal_page = dashboard_routes.install(app, settings, _audit)
    return app


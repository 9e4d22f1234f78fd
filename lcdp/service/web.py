"""What every answer of the service carries for the browser, and the API's docs served from here.

- Every response, whatever answered it (a route, a refusal, the 500 handler, a static file),
  carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
  same-origin`` and a Content-Security-Policy that lets a page load only this service's own
  scripts, styles, images and data, and lets no other site frame it. The dashboard's pages
  need nothing more: their scripts and styles are files under ``/dashboard/static`` and their
  charts' specs are JSON data blocks (never run as script); Vega evaluates expressions with
  its interpreter, not ``eval``. The one inline script of ``/docs`` (Swagger UI's start-up)
  is allowed by its hash on that page alone.
- ``/docs`` is Swagger UI from the files the ``fastapi-offline`` package ships, served under
  ``/docs/static``: the docs work on a machine that reaches no CDN, and the page asks no other
  site for anything (Swagger UI's online validator badge is off).
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: what a page of this service may load: its own files only; ``data:`` images are the icons
#: Swagger UI's stylesheet embeds
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": CSP,
}

DOCS_STATIC = "/docs/static"


class SecurityHeaders:
    """Adds ``HEADERS`` to every response that does not set its own (``/docs`` sets its own
    CSP). A plain ASGI wrapper rather than Starlette middleware: it wraps the whole app, the
    500 handler included (Starlette runs that one outside every added middleware), and leaves
    streamed and file bodies alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name.encode(), value.encode()) for name, value in HEADERS.items()
                            if name.encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def secure(app: FastAPI) -> None:
    """Wrap ``app``'s whole middleware stack (its outermost error handler included) in
    ``SecurityHeaders``."""
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build())

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]


def swagger_files() -> Path:
    """Swagger UI's bundle, stylesheet and the favicon, as ``fastapi-offline`` ships them."""
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and its files, all from this service. ``app`` must be made
    with ``docs_url=None``: FastAPI's own page loads them from a CDN."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon.png", swagger_ui_parameters={"validatorUrl": None})
    html = bytes(page.body).decode()
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline)
    csp = CSP.replace("script-src 'self'", f"script-src 'self' {hashes}")

    app.mount(DOCS_STATIC, StaticFiles(directory=swagger_files()), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

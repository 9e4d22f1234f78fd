"""The refusals each operation declares in the OpenAPI document, with their bodies: a client
generated from the spec (or schemathesis, which checks every answer against it) knows every
status an operation can answer and what its body holds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """Every refusal: what went wrong in one line, and the HTTP status again."""

    error: str
    status: int
    upload_id: str | None = None  # when the delivery landed before it was refused


class SharingErrorBody(BaseModel):
    """A refusal under Delta Sharing's prefix, in the protocol's shape (all its clients read)."""

    errorCode: str  # noqa: N815 - the protocol's name
    message: str


WHY = {
    400: "bad request", 401: "no API key, or one unknown, expired or revoked",
    403: "the key may not do this", 404: "no such resource for this key", 408: "the upload stalled",
    409: "the same bytes are being ingested now", 410: "the version the cursor names is no longer kept",
    413: "the delivery is too large", 415: "content type not accepted for this dataset",
    422: "a parameter or the body is invalid", 500: "the platform failed unexpectedly (a bug)",
}
CHALLENGE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def refusals(*statuses: int, model: type[BaseModel] = ErrorBody) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status (with 401's challenge header, 422 and 500
    always: any parameter can be invalid, any request can meet a bug) answered with ``model``."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 401, 422, 500}):
        out[status] = {"model": model, "description": WHY.get(status, "refused")}
        if status == 401:
            out[status]["headers"] = CHALLENGE
    return out

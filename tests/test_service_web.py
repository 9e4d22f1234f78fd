"""What the service tells browsers and protocol clients, against a real uvicorn server: the
security headers on every kind of answer, /docs served from the service's own files, and
Delta Sharing's error shape for every refusal under its prefix."""

from __future__ import annotations

import re

import httpx
import pytest

from lcdp.settings import Settings
from tests.conftest import Service

SHARING = "/delta-sharing"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with Service(Settings(home=tmp_path_factory.mktemp("web") / "home")) as svc:
        yield svc


def assert_secured(answer: httpx.Response) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] in ("same-origin", "no-referrer")
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "*" not in csp


def test_every_kind_of_answer_carries_the_security_headers(service):
    admin = service.key("admin", "root")
    json_answer = httpx.get(f"{service.url}/v1/uploads", headers=admin)
    assert json_answer.status_code == 200
    refused = httpx.get(f"{service.url}/v1/uploads")
    assert refused.status_code == 401 and refused.json()["status"] == 401
    unknown = httpx.get(f"{service.url}/v2/nothing")
    page = httpx.get(f"{service.url}/dashboard/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    docs = httpx.get(f"{service.url}/docs")
    static = httpx.get(f"{service.url}/dashboard/static/dashboard.js")
    sharing_refusal = httpx.get(f"{service.url}{SHARING}/shares")
    for answer in (json_answer, refused, unknown, page, docs, static, sharing_refusal,
                   httpx.get(f"{service.url}/healthz"), httpx.get(f"{service.url}/openapi.json")):
        assert_secured(answer)


def test_docs_load_nothing_from_outside_the_service(service):
    docs = httpx.get(f"{service.url}/docs")
    assert docs.status_code == 200
    html = docs.text
    assert not re.findall(r"(?:https?:)?//[a-z0-9.-]+", html, flags=re.I), "the page names another host"
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    kinds = {"js": "javascript", "css": "text/css", "png": "image/png"}
    assert {ref.rsplit(".", 1)[1] for ref in refs} == set(kinds)
    for ref in refs:
        asset = httpx.get(f"{service.url}{ref}")
        assert asset.status_code == 200 and kinds[ref.rsplit(".", 1)[1]] in asset.headers["content-type"], ref
        assert len(asset.content) > 1000
    # the page's one inline script (Swagger UI's start) runs because the page's CSP names its hash
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(inline) == 1 and "SwaggerUIBundle(" in inline[0]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]+'", docs.headers["content-security-policy"])
    # FastAPI's own CDN pages are gone
    assert httpx.get(f"{service.url}/redoc").status_code == 404


def test_every_refusal_under_delta_sharing_is_in_the_protocols_shape(service):
    consumer, partner = service.key("consumer", "analyst"), service.key("partner", "kona")
    base = f"{service.url}{SHARING}/shares"
    query = f"{base}/lcdp/schemas/exports/tables/spending/query"
    cases = [
        (httpx.get(base), 401, "UNAUTHENTICATED"),
        (httpx.get(base, headers={"Authorization": "Bearer lcdp_nope"}), 401, "UNAUTHENTICATED"),
        (httpx.get(base, headers=partner), 403, "PERMISSION_DENIED"),
        (httpx.get(f"{base}/other/schemas", headers=consumer), 404, "RESOURCE_DOES_NOT_EXIST"),
        (httpx.get(f"{service.url}{SHARING}/nothing", headers=consumer), 404, "RESOURCE_DOES_NOT_EXIST"),
        (httpx.delete(base, headers=consumer), 405, "INVALID_PARAMETER_VALUE"),
        (httpx.post(query, json={"version": "latest"}, headers=consumer), 422, "INVALID_PARAMETER_VALUE"),
        (httpx.post(query, content=b"{not json", headers={**consumer, "Content-Type": "application/json"}),
         422, "INVALID_PARAMETER_VALUE"),
        (httpx.post(query, json=["a list"], headers=consumer), 422, "INVALID_PARAMETER_VALUE"),
    ]
    for answer, status, code in cases:
        where = f"{answer.request.method} {answer.request.url.path}"
        assert answer.status_code == status, (where, answer.text)
        body = answer.json()
        assert set(body) == {"errorCode", "message"} and body["errorCode"] == code, (where, body)
        assert body["message"] and "\n" not in body["message"], (where, body)
    assert cases[0][0].headers["www-authenticate"] == "Bearer"
    # outside the prefix the API's own shape stays
    assert set(httpx.get(f"{service.url}/v1/products").json()) == {"error", "status"}

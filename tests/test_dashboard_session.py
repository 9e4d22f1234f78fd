"""Signing in to and out of the dashboard against a real uvicorn server on loopback: signing
out ends the session on the server (a replayed cookie opens no page and no download), and a
form POST another site made is refused (login CSRF)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from lcdp import declarations, keys, metadata
from lcdp.exports import grants
from lcdp.settings import Settings
from tests.conftest import Service


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One service for the module: signing in warms the pages up (the Vega bundle), once."""
    settings = Settings(home=tmp_path_factory.mktemp("dash") / "home", pseudonym_key="test-key-0123456789abcdef")
    with Service(settings) as svc:
        yield svc


def _key(svc: Service, subject: str, *granted: str) -> str:
    """A consumer's key (an admin's sign-in would warm MLflow up in the service's thread, whose
    Alembic would run beside the other tests' migrations in this process)."""
    url = svc.settings.metadata_db_url
    for product in granted:
        grants.add(url, subject, product, known=declarations.product_names())
    return keys.create(url, "consumer", subject)


def _sign_in(svc: Service, key: str, **headers) -> httpx.Response:
    return httpx.post(f"{svc.url}/dashboard/login", data={"api_key": key}, headers=headers, timeout=60)


def _audit(svc: Service) -> list[tuple[str, str | None, int, str | None]]:
    with metadata.session(svc.settings.metadata_db_url) as db:
        return [(e.action, e.key_id, e.status_code, e.detail)
                for e in db.scalars(select(metadata.AuditEvent).order_by(metadata.AuditEvent.event_id))]


def test_a_cookie_replayed_after_signing_out_opens_nothing(service):
    key = _key(service, "reader", "risk")
    key_id = keys.key_id_of(key)
    signed_in = _sign_in(service, key, Origin=service.url)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard"
    cookie = {"lcdp_session": signed_in.cookies["lcdp_session"]}
    # while signed in, the cookie opens a page (risk is not built here: its 404 page,
    # not the way to sign in) and the export API's GETs
    page = httpx.get(f"{service.url}/dashboard/risk", cookies=cookie, timeout=60)
    assert page.status_code == 404 and "reader (consumer)" in page.text
    assert httpx.get(f"{service.url}/v1/products", cookies=cookie, timeout=60).status_code == 200

    out = httpx.post(f"{service.url}/dashboard/logout", cookies=cookie, headers={"Origin": service.url}, timeout=60)
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
    assert 'lcdp_session=""' in out.headers["set-cookie"]  # the browser's copy goes too

    # the same cookie, replayed: the session is over on the server
    page = httpx.get(f"{service.url}/dashboard/risk", cookies=cookie, timeout=60)
    assert page.status_code == 303 and page.headers["location"] == "/dashboard/login"
    assert httpx.get(f"{service.url}/v1/products", cookies=cookie, timeout=60).status_code == 401
    assert httpx.get(f"{service.url}/v1/products/spending/rows", params={"format": "csv"}, cookies=cookie,
                     timeout=60).status_code == 401
    assert ("dashboard.logout", key_id, 303, None) in _audit(service)  # as signing in is
    # signing in again is a new session, with a cookie of its own
    again = _sign_in(service, key)
    assert again.cookies["lcdp_session"] != cookie["lcdp_session"]
    assert httpx.get(f"{service.url}/v1/products", cookies={"lcdp_session": again.cookies["lcdp_session"]},
                     timeout=60).status_code == 200


def test_a_sign_in_or_out_posted_by_another_site_is_refused_and_audited(service):
    key = _key(service, "city")
    key_id = keys.key_id_of(key)
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Referer": "https://evil.example/trap.html"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": service.url.replace("127.0.0.1", "localhost")}):
        refused = _sign_in(service, key, **headers)
        assert refused.status_code == 403, headers
        assert "lcdp_session" not in refused.cookies
        assert "다른 사이트에서 보낸 요청은 받지 않습니다" in refused.text and "<main" in refused.text  # the dashboard's page
        assert _audit(service)[-1][:3] == ("dashboard.cross_site_refused", None, 403)
    # the dashboard's own form (same origin) and a script (no Origin, no Referer) sign in
    for headers in ({"Origin": service.url, "Sec-Fetch-Site": "same-origin"},
                    {"Referer": service.url + "/dashboard/login"}, {}):
        assert _sign_in(service, key, **headers).status_code == 303, headers

    # signing out from another site is refused too, and the session lives on
    cookie = {"lcdp_session": _sign_in(service, key).cookies["lcdp_session"]}
    refused = httpx.post(f"{service.url}/dashboard/logout", cookies=cookie,
                         headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, timeout=60)
    assert refused.status_code == 403 and "city (consumer)" in refused.text
    action, who, status, detail = _audit(service)[-1]
    assert (action, who, status) == ("dashboard.cross_site_refused", key_id, 403) and "cross-site" in detail
    assert httpx.get(f"{service.url}/v1/products", cookies=cookie, timeout=60).status_code == 200
    assert httpx.post(f"{service.url}/dashboard/logout", cookies=cookie, timeout=60).status_code == 303
    assert httpx.get(f"{service.url}/v1/products", cookies=cookie, timeout=60).status_code == 401

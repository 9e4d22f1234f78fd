"""Schemathesis fuzzes every operation of the service's OpenAPI spec, once with an admin's key and
once with a consumer's that holds a grant: no answer may be a 5xx, and every answer must be one
the spec declares for that operation (its status, content type, body schema and headers), so
a client generated from the spec is never surprised."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)

from lcdp.settings import Settings
from tests.conftest import Service, kona_row


@pytest.fixture(scope="module")
def live(tmp_path_factory, spark):
    settings = Settings(home=tmp_path_factory.mktemp("fuzz") / "home", pseudonym_key="fuzz-key-0123456789abcdef",
                        max_upload_bytes=256 * 1024)
    with Service(settings) as svc:
        svc.headers = svc.key("admin", "fuzzer")
        # a consumer with a grant: the catalog and the sharing routes answer it with a table
        from lcdp.exports import grants

        grants.add(settings.metadata_db_url, "fuzz-analyst", "spending")
        svc.consumer = svc.key("consumer", "fuzz-analyst")
        # one real upload, so reads of an existing upload are reachable too
        import httpx

        body = ("tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id\r\n"
                + kona_row() + "\r\n").encode("cp949")
        httpx.post(f"{svc.url}/v1/uploads/kona/transactions", params={"file_name": "a.csv"}, content=body,
                   headers={**svc.headers, "Content-Type": "text/csv"}, timeout=60).raise_for_status()
        yield svc


def _spec() -> dict:
    """The spec the service serves (built from the app; the live one is checked equal below)."""
    import tempfile

    from lcdp.service import create_app

    with tempfile.TemporaryDirectory() as home:
        return create_app(Settings(home=home)).openapi()


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)


def test_the_served_spec_is_the_fuzzed_one(live):
    import httpx

    assert httpx.get(f"{live.url}/openapi.json").json() == SPEC


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(params=["admin", "consumer"])
def key(request, live) -> dict[str, str]:
    return live.headers if request.param == "admin" else live.consumer


@schema.parametrize()
@hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_spec_declares(case, live, key):
    if case.headers:
        # a malformed Content-Length is refused by the HTTP server (uvicorn, as text) before
        # the app: not the app's answer to check; the client sets the real one
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "content-length"}
    response = case.call(base_url=live.url, headers=key, timeout=60)
    case.validate_response(response, checks=CHECKS)

"""Schemathesis fuzzes every operation of the service's OpenAPI spec: no answer may be a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings as hsettings

from lcdp.settings import Settings
from tests.conftest import Service, kona_row


@pytest.fixture(scope="module")
def live(tmp_path_factory, spark):
    settings = Settings(home=tmp_path_factory.mktemp("fuzz") / "home", pseudonym_key="fuzz-key-0123456789abcdef",
                        max_upload_bytes=256 * 1024)
    with Service(settings) as svc:
        svc.headers = svc.key("admin", "fuzzer")
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


@schema.parametrize()
@hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, live):
    response = case.call(base_url=live.url, headers=live.headers, timeout=60)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"

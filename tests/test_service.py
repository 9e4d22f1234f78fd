"""The partner upload API against a real uvicorn server on loopback."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import socket
import time

import httpx
import pytest
from sqlalchemy import select, update

from lcdp import keys, metadata
from tests.conftest import Service, kona_row

pytestmark = pytest.mark.usefixtures("spark")

KONA_CSV = ("tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id\r\n"
            + "\r\n".join([kona_row("T00000001"), kona_row("T00000002", amount="=1+1"), kona_row("T00000003"),
                           "=cmd|' /C calc'!A0"])
            + "\r\n").encode("cp949")
KED_PSV = ("brn|company_name|snapshot_month|credit_grade|delinquency_count|delinquency_days|loan_balance|years_in_business\n"
           "120-81-47521|가게|2024-01|3|0|0|1000|2.5\n").encode()


@pytest.fixture
def service(backend_settings):
    small = backend_settings.model_copy(update={"max_upload_bytes": 64 * 1024})
    with Service(small) as svc:
        yield svc


def upload(svc: Service, headers: dict, partner="kona", dataset="transactions", body=KONA_CSV,
           content_type="text/csv", file_name="kona_tx_20240301.csv") -> httpx.Response:
    return httpx.post(f"{svc.url}/v1/uploads/{partner}/{dataset}", params={"file_name": file_name},
                      content=body, headers={**headers, "Content-Type": content_type}, timeout=60)


def audit(svc: Service) -> list[tuple[str, int]]:
    with metadata.session(svc.settings.metadata_db_url) as db:
        return [(e.action, e.status_code) for e in db.scalars(select(metadata.AuditEvent).order_by(metadata.AuditEvent.event_id))]


def landed_files(svc: Service) -> list:
    root = svc.settings.landing_root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_returns_the_receipt_and_resending_returns_the_original(service):
    kona = service.key("partner", "kona")
    first = upload(service, kona)
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert (receipt["rows_in"], receipt["rows_valid"], receipt["rows_quarantined"]) == (4, 2, 2)
    again = upload(service, kona, file_name="resent.csv")
    assert again.status_code == 200 and again.json()["duplicate_of"] == receipt["upload_id"]
    listed = httpx.get(f"{service.url}/v1/uploads", headers=kona).json()["uploads"]
    assert [u["upload_id"] for u in listed] == [receipt["upload_id"], again.json()["upload_id"]]
    one = httpx.get(f"{service.url}/v1/uploads/{receipt['upload_id']}", headers=kona)
    assert one.status_code == 200 and one.json()["sha256"] == receipt["sha256"]
    report = httpx.get(f"{service.url}/v1/uploads/{receipt['upload_id']}/quarantine.csv", headers=kona)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["row_number", "reasons", "raw_record"]
    assert rows[1][:2] == ["2", "amount:not_integer"] and json.loads(rows[1][2])["amount"] == "=1+1"
    # a cell that would start a formula in a spreadsheet is defused with a leading quote
    assert rows[2] == ["4", "row:too_few_fields", "'=cmd|' /C calc'!A0"]
    assert audit(service) == [("upload.accepted", 201), ("upload.duplicate", 200)]


def test_a_partner_cannot_write_or_see_another_partners_data(service):
    kona, ked = service.key("partner", "kona"), service.key("partner", "ked")
    accepted = upload(service, kona).json()
    refused = upload(service, ked)  # ked's key on kona's dataset
    assert refused.status_code == 403 and "may not deliver for partner 'kona'" in refused.json()["error"]
    assert upload(service, kona, partner="ked", dataset="credit", body=KED_PSV).status_code == 403
    assert httpx.get(f"{service.url}/v1/uploads/{accepted['upload_id']}", headers=ked).status_code == 404
    assert httpx.get(f"{service.url}/v1/uploads/{accepted['upload_id']}/quarantine.csv", headers=ked).status_code == 404
    assert httpx.get(f"{service.url}/v1/uploads", headers=ked).json()["uploads"] == []
    assert httpx.get(f"{service.url}/v1/uploads", params={"partner": "kona"}, headers=ked).status_code == 403
    admin = service.key("admin", "ops")
    assert len(httpx.get(f"{service.url}/v1/uploads", headers=admin).json()["uploads"]) == 1
    assert len(landed_files(service)) == 1


def test_missing_wrong_expired_and_revoked_keys_are_401(service):
    assert upload(service, {}).status_code == 401
    assert upload(service, {"Authorization": "Bearer lcdp_nothere_secret"}).status_code == 401
    good = keys.create(service.settings.metadata_db_url, "partner", "kona")
    key_id = good.split("_")[1]
    assert upload(service, {"X-API-Key": good[:-2] + "xx"}).status_code == 401
    expired = keys.create(service.settings.metadata_db_url, "partner", "kona", expires_in_days=1)
    with metadata.session(service.settings.metadata_db_url) as db:
        db.execute(update(metadata.ApiKey).where(metadata.ApiKey.key_id == expired.split("_")[1])
                   .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        db.commit()
    assert upload(service, {"X-API-Key": expired}).status_code == 401
    assert keys.revoke(service.settings.metadata_db_url, key_id)
    response = upload(service, {"X-API-Key": good})
    assert response.status_code == 401 and response.json() == {"error": "invalid, expired or revoked API key", "status": 401}
    assert landed_files(service) == []
    assert [a for a in audit(service)] == [("auth.refused", 401)] * 5


def test_consumer_keys_cannot_upload(service):
    response = upload(service, service.key("consumer", "city-hall"))
    assert response.status_code == 403


def test_bad_requests_get_the_right_status_and_write_nothing(service):
    kona = service.key("partner", "kona")
    cases = [
        (dict(dataset="loans"), 404, "has no dataset 'loans'"),
        (dict(partner="acme"), 403, "may not deliver"),
        (dict(content_type="image/png"), 415, "content type 'image/png' is not accepted"),
        # compressed uploads are not accepted at all, so there is no decompression bomb to defuse
        (dict(content_type="application/gzip", body=b"\x1f\x8b" + b"\x00" * 100), 415, "is not accepted"),
        (dict(file_name="../../etc/passwd"), 422, "outside the landing folder"),
        (dict(body=b"x" * (65 * 1024)), 413, "exceeds the limit"),
        (dict(body=b""), 422, "empty"),
    ]
    for kwargs, status, message in cases:
        response = upload(service, kona, **kwargs)
        assert response.status_code == status, (kwargs.keys(), response.text)
        assert message in response.json()["error"]
    missing_name = httpx.post(f"{service.url}/v1/uploads/kona/transactions", content=KONA_CSV,
                              headers={**kona, "Content-Type": "text/csv"})
    assert missing_name.status_code == 422 and "file_name" in missing_name.json()["error"]
    # only the empty file was landed (and refused); nothing reached bronze
    assert len(landed_files(service)) == 1
    assert not (service.settings.lake_root / "bronze" / "kona_transactions").exists() or \
        metadata.list_uploads(service.settings.metadata_db_url)[0].status == "refused"
    # every refusal, the one before the handler (missing file_name) included, is audited once
    assert [status for _, status in audit(service)] == [s for _, s, _ in cases] + [422]
    assert audit(service)[-1] == ("upload.refused", 422)


def test_every_error_has_one_shape_and_is_audited(service):
    kona = service.key("partner", "kona")
    empty = upload(service, kona, body=b"")
    assert empty.status_code == 422
    assert set(empty.json()) == {"error", "status", "upload_id"} and "empty" in empty.json()["error"]
    nowhere = httpx.get(f"{service.url}/v2/nothing", headers=kona)
    assert nowhere.status_code == 404 and nowhere.json() == {
        "error": "no such endpoint: GET /v2/nothing (see /docs)", "status": 404}
    wrong_method = httpx.delete(f"{service.url}/v1/uploads", headers=kona)
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == 405
    bad_query = httpx.get(f"{service.url}/v1/uploads", params={"partner": "x" * 100}, headers=kona)
    assert bad_query.status_code == 422 and set(bad_query.json()) == {"error", "status"}
    assert [status for _, status in audit(service)] == [422, 404, 405, 422]
    health = httpx.get(f"{service.url}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_a_stalled_upload_body_is_answered_408(settings):
    with Service(settings.model_copy(update={"upload_stall_seconds": 1.5})) as svc:
        kona = svc.key("partner", "kona")
        with socket.create_connection(("127.0.0.1", svc.port)) as sock:
            sock.sendall((f"POST /v1/uploads/kona/transactions?file_name=slow.csv HTTP/1.1\r\nHost: x\r\n"
                          f"Authorization: {kona['Authorization']}\r\nContent-Type: text/csv\r\n"
                          f"Content-Length: {len(KONA_CSV) + 1000}\r\n\r\n").encode() + KONA_CSV[:50])
            sock.settimeout(20)
            started = time.monotonic()
            answer = sock.recv(4096).decode("latin-1")
            waited = time.monotonic() - started
        assert answer.startswith("HTTP/1.1 408"), answer[:200]
        assert 1.0 < waited < 15, waited
        assert '"status":408' in answer.replace(" ", "")
        assert landed_files(svc) == [] and audit(svc) == [("upload.refused", 408)]
        spec = httpx.get(f"{svc.url}/openapi.json").json()
        assert "408" in spec["paths"]["/v1/uploads/{partner}/{dataset}"]["post"]["responses"]


def test_a_body_trickling_in_is_cut_off_at_the_whole_request_deadline(settings):
    """A byte every 0.3 s never trips the 1.5 s stall timer; the 2 s deadline ends it."""
    with Service(settings.model_copy(update={"upload_stall_seconds": 1.5, "upload_deadline_seconds": 2.0})) as svc:
        kona = svc.key("partner", "kona")
        with socket.create_connection(("127.0.0.1", svc.port)) as sock:
            sock.sendall((f"POST /v1/uploads/kona/transactions?file_name=slow.csv HTTP/1.1\r\nHost: x\r\n"
                          f"Authorization: {kona['Authorization']}\r\nContent-Type: text/csv\r\n"
                          f"Content-Length: {len(KONA_CSV)}\r\n\r\n").encode())
            started, answer = time.monotonic(), b""
            sock.settimeout(0.3)
            for byte in KONA_CSV:
                try:
                    sock.sendall(bytes([byte]))
                    answer += sock.recv(4096)
                except (TimeoutError, socket.timeout):
                    continue
                except OSError:
                    break
                if answer:
                    break
            waited = time.monotonic() - started
        text = answer.decode("latin-1")
        assert text.startswith("HTTP/1.1 408"), text[:200]
        assert "LCDP_UPLOAD_DEADLINE_SECONDS" in text and 1.8 < waited < 10, waited
        assert landed_files(svc) == [] and audit(svc) == [("upload.refused", 408)]


def test_a_partner_past_its_landing_quota_is_refused_and_others_are_not(settings):
    """Refused deliveries stay in landing, so landing is bounded per partner."""
    quota = len(KONA_CSV) + len(KONA_CSV) // 2
    with Service(settings.model_copy(update={"landing_quota_bytes": quota})) as svc:
        kona, ked = svc.key("partner", "kona"), svc.key("partner", "ked")
        assert upload(svc, kona).status_code == 201
        other = KONA_CSV.replace(b"T00000003", b"T00000009")
        full = upload(svc, kona, body=other, file_name="second.csv")
        assert full.status_code == 413 and "LCDP_LANDING_QUOTA_BYTES" in full.json()["error"]
        # without a Content-Length the stream is stopped at the quota, and nothing stays
        chunked = httpx.post(f"{svc.url}/v1/uploads/kona/transactions", params={"file_name": "chunked.csv"},
                             content=iter([other[:100], other[100:]]), headers={**kona, "Content-Type": "text/csv"})
        assert chunked.status_code == 413 and "quota" in chunked.json()["error"]
        assert len(landed_files(svc)) == 1
        assert upload(svc, ked, "ked", "credit", KED_PSV, "text/plain", "ked.psv").status_code == 201


def test_a_long_unknown_path_is_bounded_in_the_answer_and_the_audit(service):
    long = "/" + "a" * 12_000
    answer = httpx.get(service.url + long, headers=service.key("admin", "ops"))
    assert answer.status_code == 404 and len(answer.text) < 600
    with metadata.session(service.settings.metadata_db_url) as db:
        event = db.scalars(select(metadata.AuditEvent).order_by(metadata.AuditEvent.event_id.desc())).first()
    assert event.status_code == 404 and len(event.target) <= 200 and len(event.detail) <= 1000
    assert event.target.endswith("…")


def test_truncated_upload_is_refused_and_leaves_nothing(service):
    kona = service.key("partner", "kona")
    body = KONA_CSV
    with socket.create_connection(("127.0.0.1", service.port)) as sock:
        head = (f"POST /v1/uploads/kona/transactions?file_name=cut.csv HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {kona['Authorization']}\r\nContent-Type: text/csv\r\n"
                f"Content-Length: {len(body) + 1000}\r\n\r\n").encode()
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        try:
            sock.recv(4096)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while not audit(service) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert audit(service) == [("upload.refused", 400)]
    assert landed_files(service) == []
    assert list(service.settings.staging_root.iterdir()) == []


def test_the_same_bytes_while_they_are_being_ingested_get_409(service):
    kona = service.key("partner", "kona")
    first = upload(service, kona).json()
    with metadata.session(service.settings.metadata_db_url) as db:
        db.execute(update(metadata.Upload).where(metadata.Upload.upload_id == first["upload_id"])
                   .values(status="ingesting", started_at=dt.datetime.now(dt.timezone.utc)))
        db.commit()
    response = upload(service, kona)
    assert response.status_code == 409 and first["upload_id"] in response.json()["error"]

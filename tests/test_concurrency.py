"""Exactly once under concurrency: deliveries of overlapping transaction ids sent at the same
moment end as if sent one after the other, on SQLite and on PostgreSQL metadata, through the
real upload API."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from lcdp.lake import catalog
from tests.conftest import Service, kona_row

pytestmark = pytest.mark.usefixtures("spark")
HEADER = "tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id"


def delivery(k: int, size: int = 40, step: int = 10) -> bytes:
    """Upload k carries ids k*step … k*step+size-1: each overlaps its neighbours."""
    lines = [kona_row(f"T{i:08d}", card=f"CARD{k:08d}") for i in range(k * step, k * step + size)]
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode("cp949")


def send_together(svc: Service, bodies: list[bytes]) -> list[httpx.Response]:
    headers = {**svc.key("partner", "kona"), "Content-Type": "text/csv"}
    barrier = threading.Barrier(len(bodies))
    responses: list[httpx.Response | None] = [None] * len(bodies)

    def send(i: int) -> None:
        barrier.wait()
        responses[i] = httpx.post(f"{svc.url}/v1/uploads/kona/transactions", params={"file_name": f"day{i}.csv"},
                                  content=bodies[i], headers=headers, timeout=300)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses  # type: ignore[return-value]


def rows_of(uri: str, version: int, upload_id: str) -> int:
    table = DeltaTable(uri, version=version).to_pyarrow_dataset().to_table(columns=["_upload_id"])
    return int(pc.sum(pc.equal(table.column(0), upload_id)).as_py() or 0)


def check_exactly_once(svc: Service, bodies: list[bytes], responses: list[httpx.Response]) -> None:
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    receipts = [r.json() for r in responses]
    sent = Counter(line.split(",")[0] for body in bodies for line in body.decode("cp949").splitlines()[1:])
    settings = svc.settings
    bronze = DeltaTable(catalog.table("bronze.kona_transactions").uri(settings)).to_pyarrow_dataset()
    ids = bronze.to_table(columns=["tx_id"]).column(0).to_pylist()
    assert sorted(ids) == sorted(sent), "every id exactly once in bronze"
    duplicates = sum(sent.values()) - len(sent)
    assert sum(r["rows_valid"] for r in receipts) == len(sent)
    assert sum(r["reasons"].get("tx_id:duplicate_across_deliveries", 0) for r in receipts) == duplicates
    quarantine = catalog.row_count("quarantine.kona_transactions", settings)
    assert quarantine == duplicates
    # each receipt names its own commit: the rows of its upload arrive in exactly that version
    uri = catalog.table("bronze.kona_transactions").uri(settings)
    versions = [r["bronze_version"] for r in receipts if r["rows_valid"]]
    assert len(set(versions)) == len(versions)
    assert all(r["bronze_version"] is None for r in receipts if not r["rows_valid"])
    for r in receipts:
        if not r["rows_valid"]:
            continue
        v = r["bronze_version"]
        assert rows_of(uri, v, r["upload_id"]) == r["rows_valid"]
        assert rows_of(uri, v - 1, r["upload_id"]) == 0


@pytest.mark.parametrize("uploads", [2, 20])
def test_overlapping_uploads_at_once_on_sqlite(settings, uploads):
    with Service(settings) as svc:
        bodies = [delivery(k) for k in range(uploads)]
        check_exactly_once(svc, bodies, send_together(svc, bodies))


@pytest.mark.parametrize("uploads", [2, 20])
def test_overlapping_uploads_at_once_on_postgresql(settings, pg_url, uploads):
    with Service(settings.model_copy(update={"metadata_url": pg_url})) as svc:
        bodies = [delivery(k) for k in range(uploads)]
        check_exactly_once(svc, bodies, send_together(svc, bodies))


def test_the_same_ids_twice_at_once_commit_once(settings):
    with Service(settings) as svc:
        bodies = [delivery(0), delivery(0).replace(b"CARD00000000", b"CARD00000001")]  # same ids, other bytes
        responses = send_together(svc, bodies)
        check_exactly_once(svc, bodies, responses)
        assert sorted(r.json()["rows_valid"] for r in responses) == [0, 40]

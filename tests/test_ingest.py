"""Ingestion end to end on the embedded engine: landing → bronze/quarantine → receipt."""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable
from sqlalchemy import update

from lcdp.lake import catalog
from lcdp import metadata
from lcdp.ingest import ingest_file, ingest_files
from tests.conftest import kona_row, write_kona

pytestmark = pytest.mark.usefixtures("spark")


def bronze_rows(settings, name="kona_transactions") -> list[dict]:
    return DeltaTable(str(settings.lake_root / "bronze" / name)).to_pyarrow_table().to_pylist()


def quarantine_rows(settings, name="kona_transactions") -> list[dict]:
    return DeltaTable(str(settings.lake_root / "quarantine" / name)).to_pyarrow_table().to_pylist()


def test_bad_rows_are_quarantined_with_raw_values_and_reasons(settings, tmp_path):
    lines = [
        kona_row("T00000001"),
        kona_row("T00000002", amount="abc"),
        kona_row("T00000003", amount="-500"),
        kona_row("R00000004", amount="-500", orig="T00000001"),
        kona_row("T00000005", ts="2099-01-01 00:00:00"),
        kona_row("T00000006", ts="2018-01-01 00:00:00"),
        "T00000007,CARD00000001",
        kona_row("T00000008") + ",EXTRA",
        kona_row("T00000001", card="CARD00000009"),
        kona_row("T00000010", channel="=cmd|' /C calc'!A0"),
    ]
    receipt = ingest_file(settings, "kona", "transactions", write_kona(tmp_path / "day.csv", lines))
    assert receipt.status == "done" and receipt.duplicate_of is None
    assert (receipt.rows_in, receipt.rows_valid, receipt.rows_quarantined) == (10, 2, 8)
    assert receipt.reasons == {
        "amount:not_integer": 1, "amount:negative_without_orig_tx_id": 1, "tx_ts:in_future": 1,
        "tx_ts:before_program_start": 1, "row:too_few_fields": 1, "row:too_many_fields": 1,
        "tx_id:duplicate_in_file": 1, "channel:not_allowed": 1,
    }
    assert sorted(r["tx_id"] for r in bronze_rows(settings)) == ["R00000004", "T00000001"]
    quarantined = {r["_row_number"]: r for r in quarantine_rows(settings)}
    assert set(quarantined) == {2, 3, 5, 6, 7, 8, 9, 10}
    assert quarantined[7]["raw_record"] == "T00000007,CARD00000001"
    assert json.loads(quarantined[2]["raw_record"])["amount"] == "abc"
    assert json.loads(quarantined[9]["raw_record"])["card_token"] == "CARD00000009"  # delivered value
    assert quarantined[9]["reasons"] == ["tx_id:duplicate_in_file"]
    assert all(r["_upload_id"] == receipt.upload_id for r in quarantined.values())


def test_duplicate_transaction_ids_across_deliveries(settings, tmp_path):
    first = ingest_file(settings, "kona", "transactions", write_kona(tmp_path / "d1.csv", [kona_row("T00000001")]))
    second = ingest_file(settings, "kona", "transactions",
                         write_kona(tmp_path / "d2.csv", [kona_row("T00000001", amount="777"), kona_row("T00000002")]))
    assert first.rows_valid == 1
    assert (second.rows_valid, second.rows_quarantined) == (1, 1)
    assert second.reasons == {"tx_id:duplicate_across_deliveries": 1}
    # within one batch of files, the earlier file keeps the id
    batch = ingest_files(settings, "kona", "transactions", [
        write_kona(tmp_path / "d3.csv", [kona_row("T00000003")]),
        write_kona(tmp_path / "d4.csv", [kona_row("T00000003", amount="9"), kona_row("T00000004")]),
    ])
    assert [r.reasons for r in batch] == [{}, {"tx_id:duplicate_across_deliveries": 1}]
    amounts = {r["tx_id"]: r["amount"] for r in bronze_rows(settings)}
    assert amounts == {"T00000001": 15000, "T00000002": 15000, "T00000003": 15000, "T00000004": 15000}


def test_snapshot_datasets_accept_a_key_again_in_a_later_delivery(settings, tmp_path):
    header = "brn|company_name|snapshot_month|credit_grade|delinquency_count|delinquency_days|loan_balance|years_in_business"
    row = "120-81-47521|가게|2024-01|{g}|0|0|1000|2.5"
    a = tmp_path / "a.psv"
    a.write_text("\n".join([header, row.format(g=3), row.format(g=4)]) + "\n")
    b = tmp_path / "b.psv"
    b.write_text("\n".join([header, row.format(g=5)]) + "\n")
    ra, rb = ingest_file(settings, "ked", "credit", a), ingest_file(settings, "ked", "credit", b)
    assert ra.reasons == {"brn+snapshot_month:duplicate_in_file": 1} and ra.rows_valid == 1
    assert rb.rows_valid == 1 and rb.rows_quarantined == 0  # a correction, resolved by silver
    assert sorted(r["credit_grade"] for r in bronze_rows(settings, "ked_credit")) == [3, 5]


def test_redelivery_of_the_same_bytes_changes_nothing(settings, tmp_path):
    path = write_kona(tmp_path / "day.csv", [kona_row("T00000001"), kona_row("T00000002", amount="x")])
    first = ingest_file(settings, "kona", "transactions", path)
    versions = {n: catalog.version(n, settings) for n in ("bronze.kona_transactions", "quarantine.kona_transactions")}
    renamed = tmp_path / "same-bytes-other-name.csv"
    renamed.write_bytes(path.read_bytes())
    for again in (path, renamed):
        receipt = ingest_file(settings, "kona", "transactions", again)
        assert receipt.duplicate_of == first.upload_id and receipt.upload_id != first.upload_id
        assert (receipt.rows_in, receipt.rows_valid, receipt.rows_quarantined) == (2, 1, 1)
        assert receipt.sha256 == first.sha256
    assert {n: catalog.version(n, settings) for n in versions} == versions
    assert len(bronze_rows(settings)) == 1 and len(quarantine_rows(settings)) == 1
    landed = [p for p in settings.landing_root.rglob("*") if p.is_file()]
    assert len(landed) == 1  # the copies were not kept twice


def test_a_refused_delivery_writes_nothing_and_stays_refused(settings, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    receipt = ingest_file(settings, "kona", "transactions", empty)
    assert receipt.status == "refused" and "empty" in receipt.error
    assert receipt.rows_in == 0 and catalog.row_count("bronze.kona_transactions", settings) in (None, 0)
    again = ingest_file(settings, "kona", "transactions", empty)
    assert again.status == "refused" and again.duplicate_of == receipt.upload_id


def test_an_interrupted_ingest_is_redone_without_duplicating_rows(backend_settings, tmp_path):
    settings = backend_settings  # leases on SQLite and on PostgreSQL
    path = write_kona(tmp_path / "day.csv", [kona_row("T00000001"), kona_row("T00000002"), kona_row("T00000003", amount="x")])
    first = ingest_file(settings, "kona", "transactions", path)
    # as if the process died after the Delta commits but before the receipt was recorded ...
    import datetime as dt

    from lcdp.errors import DeliveryInProgress

    started = dt.datetime.now(dt.timezone.utc)
    with metadata.session(settings.metadata_db_url) as db:
        db.execute(update(metadata.Upload).where(metadata.Upload.upload_id == first.upload_id)
                   .values(status="ingesting", started_at=started))
        db.commit()
    # ... while its lease runs, the same bytes are "in progress", not taken over
    with pytest.raises(DeliveryInProgress, match=f"being ingested as upload {first.upload_id}"):
        ingest_file(settings, "kona", "transactions", path)
    # ... once it has run out, the upload is redone
    with metadata.session(settings.metadata_db_url) as db:
        db.execute(update(metadata.Upload).where(metadata.Upload.upload_id == first.upload_id)
                   .values(started_at=started - dt.timedelta(seconds=settings.ingest_lease_seconds + 1)))
        db.commit()
    redone = ingest_file(settings, "kona", "transactions", path)
    assert redone.upload_id == first.upload_id and redone.status == "done" and redone.duplicate_of is None
    assert (redone.rows_valid, redone.rows_quarantined) == (2, 1)
    assert sorted(r["tx_id"] for r in bronze_rows(settings)) == ["T00000001", "T00000002"]
    assert len(quarantine_rows(settings)) == 1


def test_unknown_partner_or_dataset_is_refused_before_anything_lands(settings, tmp_path):
    from lcdp.contracts import ContractError

    path = write_kona(tmp_path / "day.csv", [kona_row()])
    with pytest.raises(ContractError, match="has no dataset 'loans'"):
        ingest_file(settings, "kona", "loans", path)
    assert not settings.landing_root.exists() or not any(settings.landing_root.rglob("*.csv"))


def test_generated_dirty_feeds_match_the_manifest_and_hold_no_raw_identifier(settings, dirty_data):
    out, manifest = dirty_data
    feeds = sorted({(f.partner, f.dataset) for f in manifest.files})
    raw_ids: set[str] = set()
    for partner, dataset in feeds:
        entries = manifest.for_dataset(partner, dataset)
        receipts = ingest_files(settings, partner, dataset, [out / e.path for e in entries])
        for entry, receipt in zip(entries, receipts):
            assert receipt.status == "done", receipt.error
            assert receipt.rows_in == entry.rows
            assert receipt.rows_quarantined == entry.faulty_rows, (entry.path, receipt.reasons, entry.faults)
            assert receipt.rows_in == receipt.rows_valid + receipt.rows_quarantined
            if dataset == "merchants":
                assert sum(receipt.warnings.values()) >= entry.warned_rows
        # delta-rs reads back what the Spark writer committed
        for name in (f"bronze.{partner}_{dataset}", f"quarantine.{partner}_{dataset}"):
            expected = sum(r.rows_valid if name.startswith("bronze") else r.rows_quarantined for r in receipts)
            assert catalog.row_count(name, settings) == expected
            assert DeltaTable(catalog.table(name).uri(settings)).to_pyarrow_table().num_rows == expected
    # every raw BRN, merchant number and card token the partners sent ...
    import pandas as pd
    import pyarrow.parquet as pq
    for e in manifest.for_dataset("kona", "transactions"):
        frame = pd.read_csv(out / e.path, encoding="cp949", dtype=str, usecols=[1, 2], on_bad_lines="skip")
        raw_ids.update(frame["card_token"].dropna())
        raw_ids.update(frame["frcs_no"].dropna())
    for e in manifest.for_dataset("gjf", "employment"):
        brns = pq.read_table(out / e.path).column("brn").to_pylist()
        raw_ids.update(brns)
        raw_ids.update(b.replace("-", "") for b in brns)
    assert len(raw_ids) > 1000
    # ... appears in no string column of any bronze table
    for name, table in catalog.tables().items():
        if table.layer != "bronze":
            continue
        data = DeltaTable(table.uri(settings)).to_pyarrow_table()
        for column in data.schema.names:
            if data.schema.field(column).type == "string":
                values = set(data.column(column).drop_null().to_pylist())
                assert not values & raw_ids, f"{name}.{column} holds raw identifiers"


def test_metadata_on_postgresql(settings, pg_url, tmp_path):
    pg_settings = settings.model_copy(update={"metadata_url": pg_url})
    path = write_kona(tmp_path / "day.csv", [kona_row("T00000001"), kona_row("T00000002", amount="x")])
    first = ingest_file(pg_settings, "kona", "transactions", path)
    again = ingest_file(pg_settings, "kona", "transactions", path)
    assert again.duplicate_of == first.upload_id
    uploads = metadata.list_uploads(pg_url)
    assert [(u.status, u.duplicate_of, u.rows_valid, u.rows_quarantined) for u in uploads] == [
        ("done", None, 1, 1), ("done", first.upload_id, 0, 0)]
    assert uploads[0].reasons == {"amount:not_integer": 1}
    assert metadata.engine(pg_url).dialect.name == "postgresql"
    assert not (settings.home_dir / "metadata.db").exists()


def test_header_only_delivery_is_processed_with_zero_rows(settings, tmp_path):
    receipt = ingest_file(settings, "kona", "transactions", write_kona(tmp_path / "quiet-day.csv", []))
    assert receipt.status == "done" and (receipt.rows_in, receipt.rows_valid, receipt.rows_quarantined) == (0, 0, 0)


def test_cp949_values_arrive_in_bronze_as_text(settings, tmp_path):
    path = write_kona(tmp_path / "day.csv", [kona_row(fund="청년기본소득", channel="모바일", age="70대이상", gender="여")])
    with pytest.raises(UnicodeDecodeError):  # really CP949 on disk, not UTF-8
        path.read_bytes().decode("utf-8")
    ingest_file(settings, "kona", "transactions", path)
    row = bronze_rows(settings)[0]
    assert (row["policy_fund"], row["channel"], row["age_band"], row["gender"]) == ("청년기본소득", "모바일", "70대이상", "여")


def test_a_file_name_outside_the_landing_root_is_refused_before_anything_lands(settings):
    import io

    from lcdp.errors import DeliveryRefused
    from lcdp.ingest import ingest_streams

    with pytest.raises(DeliveryRefused, match="outside the landing folder"):
        ingest_streams(settings, "kona", "transactions", [("../../../evil.csv", io.BytesIO(b"tx_id\n"))])
    assert not any(p.is_file() for p in settings.home_dir.parent.rglob("evil.csv"))
    assert metadata.list_uploads(settings.metadata_db_url) == []


def test_a_failed_ingest_is_marked_failed_and_redone_on_resend(settings, tmp_path):
    """A bronze load that fails (here: the bronze table's folder is a file) marks the upload
    failed, and a re-send after the cause is fixed ingests it completely."""
    path = write_kona(tmp_path / "day.csv", [kona_row("T00000001"), kona_row("T00000002", amount="x")])
    blocker = settings.lake_root / "bronze" / "kona_transactions"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a table")
    from lcdp.errors import DeliveryFailed

    with pytest.raises(DeliveryFailed) as caught:
        ingest_file(settings, "kona", "transactions", path)
    (upload,) = metadata.list_uploads(settings.metadata_db_url)
    assert upload.status == "failed" and upload.error == str(caught.value)
    assert upload.upload_id in upload.error and "\n" not in upload.error and "re-send" in upload.error
    blocker.unlink()
    redone = ingest_file(settings, "kona", "transactions", path)
    assert redone.upload_id == upload.upload_id and redone.status == "done"
    assert (redone.rows_valid, redone.rows_quarantined) == (1, 1)
    assert len(bronze_rows(settings)) == 1 and len(quarantine_rows(settings)) == 1


def test_an_unexpected_error_while_reading_refuses_that_delivery_only(settings, tmp_path, monkeypatch):
    """Fault injection: a reader that raises something it should not. The delivery gets a
    receipt of status failed naming its upload (not a traceback), the other file of the batch
    is ingested, and the same bytes sent again are redone once the reader is fixed."""
    from lcdp.ingest import pipeline

    good = write_kona(tmp_path / "good.csv", [kona_row("T00000001")])
    bad = write_kona(tmp_path / "bad.csv", [kona_row("T00000002")])
    real = pipeline.read_delivery_jobs

    def broken(path, *args, **kwargs):
        if path.name == "bad.csv":
            raise KeyError("a bug in a reader")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_delivery_jobs", broken)
    first, second = ingest_files(settings, "kona", "transactions", [good, bad])
    assert first.status == "done" and first.rows_valid == 1
    assert second.status == "failed" and second.upload_id in second.error and "KeyError" in second.error
    monkeypatch.setattr(pipeline, "read_delivery_jobs", real)
    again = ingest_file(settings, "kona", "transactions", bad)
    assert again.upload_id == second.upload_id and again.status == "done" and again.rows_valid == 1
    assert sorted(r["tx_id"] for r in bronze_rows(settings)) == ["T00000001", "T00000002"]


def test_blocks_parsed_side_by_side_give_what_one_thread_gives(settings, tmp_path):
    """A delivery's blocks are parsed, validated and written by several threads at once: the
    rows, their numbers, the refusals and the receipt are those of one thread, block for
    block, including a block whose Korean values are not CP949 and a duplicate spanning
    blocks."""
    lines = [kona_row(f"T{i:08d}", card=f"CARD{i % 700:08d}", channel=["카드", "모바일", "QR"][i % 3],
                      age=["20대", "30대"][i % 2], amount=str(1000 + i) if i % 997 else "x") for i in range(12_000)]
    lines[5000] = kona_row("T00000007")  # a repeat of an id some blocks earlier
    path = write_kona(tmp_path / "kona_tx_20240301.csv", lines)
    raw = path.read_bytes()
    at = raw.index("모바일".encode("cp949"), len(raw) // 2)
    path.write_bytes(raw[:at] + b"\xff\xfe" + raw[at + 2:])  # bytes no CP949 text has, mid-file

    def ingest(threads: int):
        home = settings.model_copy(update={"home": tmp_path / f"home-{threads}", "ingest_threads": threads,
                                           "csv_block_bytes": 64 * 1024})
        receipt = ingest_file(home, "kona", "transactions", path)
        keep = ("tx_id", "card_key", "channel", "age_band", "amount", "_row_number")
        ordered = lambda rows: sorted(rows, key=lambda r: r["_row_number"])  # noqa: E731
        return (receipt.rows_in, receipt.rows_valid, receipt.rows_quarantined, receipt.reasons,
                [{k: r[k] for k in keep} for r in ordered(bronze_rows(home))],
                [(r["_row_number"], r["raw_record"], r["reasons"]) for r in ordered(quarantine_rows(home))],
                len(list(catalog.table("bronze.kona_transactions").path(home).glob("*.parquet"))))

    one, three = ingest(1), ingest(3)
    assert one[:6] == three[:6]
    assert one[6] == three[6] > 10  # as many data files: one per block
    rows_in, valid, quarantined, reasons, bronze, quarantine = one[:6]
    assert rows_in == 12_000 and valid + quarantined == rows_in
    assert reasons["row:bad_encoding"] == 1 and reasons["tx_id:duplicate_in_file"] == 1
    assert reasons["amount:not_integer"] == 13
    assert [r["_row_number"] for r in bronze] == sorted({r["_row_number"] for r in bronze})

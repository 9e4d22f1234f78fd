"""Ingestion: a partner's delivery → landing → contract parsing → bronze + quarantine → receipt.

Per file, streaming in bounded memory: land the bytes with their sha256, read them in the
partner's native format, validate against the contract, pseudonymize identifiers, and stage
valid and refused rows as Parquet. Then, once for the whole batch of files, a Spark job
(``jobs.bronze_load``) finds duplicate keys, and the rows are appended to
``quarantine.<partner>_<dataset>`` and ``bronze.<partner>_<dataset>`` (one commit each).
For every delivery: rows in = rows valid + rows quarantined.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.exc import IntegrityError

from lcdp import log, metadata
from lcdp.contracts import QUARANTINE_SCHEMA, Contract, get_contract
from lcdp.errors import DeliveryFailed, DeliveryInProgress, DeliveryRefused
from lcdp.ingest.landing import LandedFile, land, safe_file_name
from lcdp.ingest.pseudonym import Pseudonymizer
from lcdp.ingest.readers import ReadPlan, read_delivery
from lcdp.ingest.validation import validate
from lcdp.lake import catalog
from lcdp.locks import table_lock
from lcdp.metadata import Receipt, Upload
from lcdp.settings import Settings

_log = log.get(__name__)

#: Called with (file name, records of the file processed so far) while a file is parsed.
Progress = Callable[[str, int], None]


def new_upload_id() -> str:
    """Sortable, unique upload id: UTC time plus randomness."""
    return "u" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f") + secrets.token_hex(3)


@dataclass
class _Staged:
    """A file parsed to staging, waiting for the batch's bronze load."""

    upload: Upload
    seq: int
    valid_path: Path | None
    rows_staged: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)


def _raw_json(rows: list[dict]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in rows]


def _stage_file(contract: Contract, upload: Upload, seq: int, settings: Settings,
                pseudonymizer: Pseudonymizer, ingested_at: dt.datetime, batch_dir: Path,
                progress: Progress | None) -> _Staged:
    """Parse, validate and pseudonymize one landed file into staging Parquet."""
    landed = Path(upload.landing_path)
    source_file = str(landed.relative_to(settings.landing_root))
    plan = ReadPlan()
    staged = _Staged(upload, seq, None)
    valid_schema = pa.schema(
        list(contract.bronze_schema())
        + [pa.field("_upload_seq", pa.int32()),
           pa.field("_raw", pa.struct([pa.field(c, pa.string()) for c in contract.column_names]))]
    )
    valid_writer: pq.ParquetWriter | None = None
    rejected_writer = pq.ParquetWriter(batch_dir / f"rejected-{upload.upload_id}.parquet", QUARANTINE_SCHEMA)
    done_rows = 0

    def lineage(n: int, row_numbers: np.ndarray) -> dict[str, pa.Array]:
        return {
            "_upload_id": pa.repeat(pa.scalar(upload.upload_id, pa.string()), n),
            "_source_file": pa.repeat(pa.scalar(source_file, pa.string()), n),
            "_row_number": pa.array(row_numbers, pa.int64()),
            "_ingested_at": pa.repeat(pa.scalar(ingested_at, pa.timestamp("us", tz="UTC")), n),
        }

    try:
        for batch in read_delivery(landed, contract, plan, settings.csv_block_bytes,
                                   settings.max_record_bytes, settings.ggdata_max_page_rows):
            checked = validate(contract, batch.columns)
            # refused rows: malformed records, then rows failing the contract
            bad_idx = np.array(sorted(checked.errors), dtype=np.int64)
            texts = [m.text for m in batch.malformed]
            reasons = [[m.reason] for m in batch.malformed]
            numbers = [m.row_number for m in batch.malformed]
            if len(bad_idx):
                texts += _raw_json(batch.columns.take(bad_idx).to_pylist())
                reasons += [checked.errors[int(i)] for i in bad_idx]
                numbers += batch.row_numbers[bad_idx].tolist()
            if reasons:
                n = len(reasons)
                rejected_writer.write_table(pa.table(
                    {**lineage(n, np.array(numbers, np.int64)),
                     "raw_record": pa.array(texts, pa.string()),
                     "reasons": pa.array(reasons, pa.list_(pa.string()))},
                    schema=QUARANTINE_SCHEMA,
                ))
                staged.rejected += n
                staged.reasons.update(r for row in reasons for r in dict.fromkeys(row))
            # valid rows: typed, pseudonymized, with lineage and the delivered strings
            keep = checked.valid_indices()
            if len(keep):
                typed = checked.typed.take(keep)
                raw = batch.columns.take(keep)
                columns: dict[str, pa.Array] = {}
                for col in contract.columns:
                    values = typed.column(col.name).combine_chunks()
                    if col.identifier:
                        values = pseudonymizer.column(col.identifier, values)
                    columns[col.target_name] = values
                n = len(keep)
                columns.update(lineage(n, batch.row_numbers[keep]))
                if checked.warnings:
                    warn_lists = [checked.warnings.get(int(i)) for i in keep]
                    for w in warn_lists:
                        if w:
                            staged.warnings.update(w)
                    columns["_warnings"] = pa.array(warn_lists, pa.list_(pa.string()))
                else:
                    columns["_warnings"] = pa.nulls(n, pa.list_(pa.string()))
                columns["_upload_seq"] = pa.array(np.full(n, seq, np.int32))
                columns["_raw"] = pa.StructArray.from_arrays(
                    [raw.column(c).combine_chunks() for c in contract.column_names], names=contract.column_names
                )
                if valid_writer is None:
                    staged.valid_path = batch_dir / f"valid-{upload.upload_id}.parquet"
                    valid_writer = pq.ParquetWriter(staged.valid_path, valid_schema)
                valid_writer.write_table(pa.table(columns, schema=valid_schema))
                staged.rows_staged += n
            done_rows += len(keep) + len(reasons)
            if progress:
                progress(upload.file_name, done_rows)
    finally:
        rejected_writer.close()
        if valid_writer is not None:
            valid_writer.close()
    upload.encoding = plan.encoding
    upload.notes = plan.notes
    return staged


def _bronze_load(contract: Contract, staged: list[_Staged], settings: Settings, batch_dir: Path) -> tuple[int, int, Counter]:
    """The Spark step for a batch: dedup against bronze, then append quarantine and bronze."""
    from jobs.bronze_load import duplicates_as_quarantine, split_duplicates
    from lcdp.lake import engine

    spark = engine.spark(settings)
    bronze_name = catalog.bronze(contract).qualified
    quarantine_name = catalog.quarantine(contract).qualified
    catalog.ensure(bronze_name, settings)
    catalog.ensure(quarantine_name, settings)
    valid_files = [str(s.valid_path) for s in staged if s.valid_path is not None]
    rejected_files = [str(p) for p in sorted(batch_dir.glob("rejected-*.parquet"))]
    quarantine_rows = spark.read.parquet(*rejected_files) if rejected_files else None
    dup_counts: Counter = Counter()
    accepted = None
    if valid_files:
        staged_df = spark.read.parquet(*valid_files)
        existing = None
        if contract.unique_across_deliveries and catalog.row_count(bronze_name, settings):
            existing = catalog.read(spark, bronze_name, settings).select(*contract.bronze_key)
        accepted, duplicates = split_duplicates(
            staged_df, contract.bronze_key, contract.unique_across_deliveries, existing,
            key_label="+".join(contract.key),
        )
        # Materialize the (small) duplicates once: counting, the quarantine append and the
        # bronze anti-join then read them instead of recomputing the search three times.
        dup_dir = str(batch_dir / "duplicates")
        duplicates.write.mode("overwrite").parquet(dup_dir)
        # (schema given: an empty result may be written as no file at all)
        duplicates = spark.read.schema(duplicates.schema).parquet(dup_dir)
        accepted = staged_df.join(duplicates.select("_upload_id", "_row_number"),
                                  on=["_upload_id", "_row_number"], how="left_anti").drop("_raw", "_upload_seq")
        for row in duplicates.groupBy("_upload_id", "reason").count().collect():
            dup_counts[(row["_upload_id"], row["reason"])] = row["count"]
        if dup_counts:
            dup_rows = duplicates_as_quarantine(duplicates)
            quarantine_rows = dup_rows if quarantine_rows is None else quarantine_rows.unionByName(dup_rows)
    q_version = catalog.append(quarantine_rows, quarantine_name, settings) if quarantine_rows is not None else catalog.version(quarantine_name, settings)
    b_version = catalog.append(accepted, bronze_name, settings) if accepted is not None else catalog.version(bronze_name, settings)
    return b_version, q_version, dup_counts  # type: ignore[return-value]


def _one_line(exc: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _finish(db_url: str, upload: Upload) -> Receipt:
    with metadata.session(db_url) as db:
        db.merge(upload)
        db.commit()
    return Receipt.of(upload)


def _register(db_url: str, contract: Contract, landed_path: Path, sha: str, size: int,
              file_name: str, upload_id: str, lease_seconds: int) -> tuple[Upload, Receipt | None]:
    """Record a landed delivery; a known sha256 makes it a duplicate (or a retry of a failure).

    An original still marked ``landed``/``ingesting`` is either being ingested right now
    (refused with DeliveryInProgress) or was left by a process that died (its lease ran out):
    then it is redone under its own upload id.
    """
    content_key = f"{contract.partner}/{contract.dataset}/{sha}"
    with metadata.session(db_url) as db:
        original = metadata.find_original(db, content_key)
        if original is None:
            upload = Upload(
                upload_id=upload_id, partner=contract.partner, dataset=contract.dataset,
                file_name=file_name, sha256=sha, size_bytes=size, content_key=content_key,
                status="landed", landing_path=str(landed_path), reasons={}, warnings={}, notes=[],
                created_at=dt.datetime.now(dt.timezone.utc),
            )
            db.add(upload)
            try:
                db.commit()
                return upload, None
            except IntegrityError:  # the same bytes registered concurrently
                db.rollback()
                original = metadata.find_original(db, content_key)
                assert original is not None
        if original.status in ("landed", "ingesting"):
            since = original.started_at or original.created_at
            since = since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
            age = (dt.datetime.now(dt.timezone.utc) - since).total_seconds()
            if age < lease_seconds:
                shutil.rmtree(landed_path.parent, ignore_errors=True)
                raise DeliveryInProgress(
                    f"the same bytes are being ingested as upload {original.upload_id} (for {age:.0f} s); "
                    "try again later")
        if original.status in ("landed", "ingesting", "failed"):
            # An earlier attempt died or failed midway: redo it under the original upload id.
            shutil.rmtree(landed_path.parent, ignore_errors=True)
            return original, None
        duplicate = Upload(
            upload_id=upload_id, partner=contract.partner, dataset=contract.dataset,
            file_name=file_name, sha256=sha, size_bytes=size, content_key=None,
            duplicate_of=original.upload_id, status=original.status,
            landing_path=original.landing_path, error=original.error, reasons={}, warnings={},
            notes=[f"same bytes as upload {original.upload_id}; nothing ingested again"],
            created_at=dt.datetime.now(dt.timezone.utc), finished_at=dt.datetime.now(dt.timezone.utc),
        )
        db.add(duplicate)
        db.commit()
        shutil.rmtree(landed_path.parent, ignore_errors=True)
        return duplicate, Receipt.of(duplicate, original)


def ingest_streams(settings: Settings, partner: str, dataset: str,
                   deliveries: Sequence[tuple[str, BinaryIO]],
                   progress: Progress | None = None) -> list[Receipt]:
    """Land a batch of deliveries of one dataset, then ingest them (see ``ingest_landed``).

    Raises ``ContractError`` for an unknown partner or dataset, and ``DeliveryRefused`` for a
    delivery that cannot even be landed (unsafe name, over the size limit).
    """
    get_contract(partner, dataset)
    settings.ensure_dirs()
    landed: list[tuple[str, str, LandedFile]] = []
    try:
        for file_name, stream in deliveries:
            upload_id = new_upload_id()
            landed.append((upload_id, file_name, land(stream, settings.landing_root, partner, dataset,
                                                      upload_id, file_name, settings.max_upload_bytes)))
    except BaseException:
        for _, _, file in landed:  # a batch lands whole or not at all
            shutil.rmtree(file.path.parent, ignore_errors=True)
        raise
    return ingest_landed(settings, partner, dataset, landed, progress)


def ingest_landed(settings: Settings, partner: str, dataset: str,
                  landed: Sequence[tuple[str, str, LandedFile]],
                  progress: Progress | None = None) -> list[Receipt]:
    """Ingest deliveries already in landing, ``(upload_id, file name, landed file)`` each, as
    one batch; one receipt per delivery, in order.

    A file refused after landing gets a receipt with status ``refused`` and its reason in
    ``error``; nothing of it reaches bronze. The same bytes delivered before get a receipt
    with ``duplicate_of``; the same bytes being ingested right now raise DeliveryInProgress.
    """
    contract = get_contract(partner, dataset)
    settings.ensure_dirs()
    db_url = settings.metadata_db_url
    pseudonymizer = Pseudonymizer(settings.hmac_key)
    ingested_at = dt.datetime.now(dt.timezone.utc)
    batch_dir = settings.staging_root / new_upload_id()
    batch_dir.mkdir(parents=True)
    receipts: dict[int, Receipt] = {}
    staged: list[_Staged] = []
    in_flight: list[Upload] = []  # taken on by this call and not finished yet
    try:
        for seq, (upload_id, file_name, file) in enumerate(landed):
            upload, receipt = _register(db_url, contract, file.path, file.sha256,
                                        file.size_bytes, file_name, upload_id, settings.ingest_lease_seconds)
            bound = _log.bind(upload_id=upload.upload_id, partner=partner, dataset=dataset)
            if receipt is not None:
                bound.info("ingest.duplicate", duplicate_of=receipt.duplicate_of)
                receipts[seq] = receipt
                continue
            in_flight.append(upload)
            # a retried upload may have left rows behind: remove them before loading again
            with table_lock(settings, catalog.bronze(contract).qualified):
                for table_name in (catalog.bronze(contract).qualified, catalog.quarantine(contract).qualified):
                    catalog.delete_upload(table_name, settings, upload.upload_id)
            upload.status, upload.started_at = "ingesting", dt.datetime.now(dt.timezone.utc)
            _finish(db_url, upload)
            try:
                staged.append(_stage_file(contract, upload, seq, settings, pseudonymizer, ingested_at, batch_dir, progress))
            except Exception as exc:
                for leftover in batch_dir.glob(f"*-{upload.upload_id}.parquet"):
                    leftover.unlink()
                if isinstance(exc, DeliveryRefused):
                    upload.status, upload.error = "refused", str(exc)
                    bound.info("ingest.refused", reason=str(exc))  # the receipt reports it
                else:
                    # Our reader's fault, not the partner's: refuse this delivery with its
                    # upload id, keep the stack for us, and let a re-send redo it.
                    upload.status = "failed"
                    upload.error = (f"upload {upload.upload_id} could not be read ({_one_line(exc)}); "
                                    "it is marked failed and a re-send redoes it")
                    bound.exception("ingest.read_failed")
                upload.finished_at = dt.datetime.now(dt.timezone.utc)
                receipts[seq] = _finish(db_url, upload)
                in_flight.remove(upload)
        if staged:
            # One writer per dataset from the duplicate check to the commits: concurrent
            # deliveries of the same ids end as if sent one after the other, and the versions
            # read back are the commits this batch made.
            with table_lock(settings, catalog.bronze(contract).qualified):
                b_version, q_version, dup_counts = _bronze_load(contract, staged, settings, batch_dir)
            for s in staged:
                dups = Counter({reason: n for (uid, reason), n in dup_counts.items() if uid == s.upload.upload_id})
                u = s.upload
                u.rows_valid = s.rows_staged - sum(dups.values())
                u.rows_quarantined = s.rejected + sum(dups.values())
                u.rows_in = s.rows_staged + s.rejected
                u.reasons = dict(s.reasons + dups)
                u.warnings = dict(s.warnings)
                # the commits that hold this upload's rows (none when it had no rows there)
                u.bronze_version = b_version if u.rows_valid else None
                u.quarantine_version = q_version if u.rows_quarantined else None
                u.status, u.finished_at = "done", dt.datetime.now(dt.timezone.utc)
                if u.rows_in != u.rows_valid + u.rows_quarantined:  # pragma: no cover - invariant
                    raise AssertionError(f"upload {u.upload_id}: rows in != valid + quarantined")
                receipts[s.seq] = _finish(db_url, u)
                in_flight.remove(u)
                _log.info("ingest.done", upload_id=u.upload_id, table=catalog.bronze(contract).qualified,
                          version=b_version, rows_in=u.rows_in, rows_valid=u.rows_valid,
                          rows_quarantined=u.rows_quarantined)
    except Exception as exc:
        # Leave nothing "in progress": a re-send of these bytes redoes them at once (their
        # partial rows are removed first) instead of waiting out the lease.
        if isinstance(exc, DeliveryRefused) or not in_flight:
            for upload in in_flight:
                upload.status, upload.error = "failed", _one_line(exc)
                _finish(db_url, upload)
            raise
        ids = ", ".join(u.upload_id for u in in_flight)
        message = (f"upload(s) {ids} failed while loading into bronze ({_one_line(exc)}); "
                   "marked failed, a re-send redoes them")
        for upload in in_flight:
            upload.status, upload.error = "failed", message
            _finish(db_url, upload)
        _log.exception("ingest.load_failed", upload_ids=ids, partner=partner, dataset=dataset)
        raise DeliveryFailed(message) from exc
    finally:
        shutil.rmtree(batch_dir, ignore_errors=True)
    return [receipts[i] for i in sorted(receipts)]


def ingest_files(settings: Settings, partner: str, dataset: str, paths: Sequence[Path],
                 progress: Progress | None = None) -> list[Receipt]:
    """Ingest files from disk as one batch (see ``ingest_streams``)."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise DeliveryRefused(f"cannot read {', '.join(missing)}: no such file")
    # refuse the batch before anything lands rather than halfway through it
    for p in paths:
        safe_file_name(Path(p).name)
        if Path(p).stat().st_size > settings.max_upload_bytes:
            raise DeliveryRefused(f"{p} exceeds the delivery limit of {settings.max_upload_bytes} bytes")
    handles = [open(p, "rb") for p in paths]
    try:
        return ingest_streams(settings, partner, dataset, [(Path(p).name, h) for p, h in zip(paths, handles)], progress)
    finally:
        for h in handles:
            h.close()


def ingest_file(settings: Settings, partner: str, dataset: str, path: Path) -> Receipt:
    return ingest_files(settings, partner, dataset, [path])[0]

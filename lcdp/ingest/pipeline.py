"""Ingestion: a partner's delivery → landing → contract parsing → bronze + quarantine → receipt.

Per file, streaming in bounded memory: land the bytes with their sha256, read them in the
partner's native format block by block, and for each block (several at once, on worker
threads) validate it against the contract, pseudonymize identifiers, and write its valid and
refused rows as new data files of ``bronze.<partner>_<dataset>`` and
``quarantine.<partner>_<dataset>``, not yet part of any table version. Then, once for the
whole batch of files, a Spark job (``lcdp.ingest.duplicates``) finds duplicate keys, which move to
quarantine, and the files are committed: quarantine, then bronze, one commit each. For every
delivery: rows in = rows valid + rows quarantined.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.exc import IntegrityError

from lcdp import log, metadata
from lcdp.contracts import QUARANTINE_SCHEMA, Contract, get_contract
from lcdp.errors import DeliveryFailed, DeliveryInProgress, DeliveryRefused
from lcdp.ingest.key_hash import KeyHashes, key_hashes, repeated
from lcdp.ingest.landing import LandedFile, land, safe_file_name
from lcdp.ingest.pseudonym import Pseudonymizer
from lcdp.ingest.readers import BatchJob, ReadPlan, read_delivery, read_delivery_jobs
from lcdp.ingest.validation import validate
from lcdp.lake import catalog
from lcdp.locks import table_lock
from lcdp.metadata import Receipt, Upload, UploadStatus
from lcdp.settings import Settings

_log = log.get(__name__)

#: Called with (file name, records of the file processed so far) while a file is parsed.
Progress = Callable[[str, int], None]


def new_upload_id() -> str:
    """Sortable, unique upload id: UTC time plus randomness."""
    return "u" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f") + secrets.token_hex(3)


@dataclass
class _Staged:
    """A file parsed into data files of bronze and quarantine, not committed yet."""

    upload: Upload
    seq: int
    valid_paths: list[Path] = field(default_factory=list)
    rejected_paths: list[Path] = field(default_factory=list)
    key_hashes: KeyHashes = field(default_factory=KeyHashes)
    rows_staged: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)

    @property
    def files(self) -> list[Path]:
        return [*self.valid_paths, *self.rejected_paths]


@dataclass
class _PreparedBatch:
    """One batch of a file, validated, pseudonymized and written: a bronze data file for its
    valid rows and a quarantine data file for its refused rows, when it has any."""

    rejected: Path | None
    rejected_rows: int
    valid: Path | None
    valid_rows: int
    reasons: Counter
    warnings: Counter


def _raw_json(rows: list[dict]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in rows]


class _Lineage:
    """The lineage columns of one upload's rows (docs/lake.md)."""

    def __init__(self, upload_id: str, source_file: str, ingested_at: dt.datetime) -> None:
        self.upload_id, self.source_file, self.ingested_at = upload_id, source_file, ingested_at

    def columns(self, row_numbers: np.ndarray) -> dict[str, pa.Array]:
        n = len(row_numbers)
        return {
            "_upload_id": pa.repeat(pa.scalar(self.upload_id, pa.string()), n),
            "_source_file": pa.repeat(pa.scalar(self.source_file, pa.string()), n),
            "_row_number": pa.array(row_numbers, pa.int64()),
            "_ingested_at": pa.repeat(pa.scalar(self.ingested_at, pa.timestamp("us", tz="UTC")), n),
        }

    def quarantine(self, row_numbers: list[int], texts: list[str], reasons: list[list[str]]) -> pa.Table:
        return pa.table({**self.columns(np.array(row_numbers, np.int64)),
                         "raw_record": pa.array(texts, pa.string()),
                         "reasons": pa.array(reasons, pa.list_(pa.string()))}, schema=QUARANTINE_SCHEMA)


def _write(contract: Contract, kind: str, rows: pa.Table, settings: Settings, label: str,
           written: list[Path]) -> Path:
    """Rows as a new, uncommitted data file of the dataset's bronze or quarantine table."""
    name = (catalog.bronze(contract) if kind == "bronze" else catalog.quarantine(contract)).qualified
    path = catalog.new_data_file(name, settings, label)
    written.append(path)  # before writing: a failure midway still knows the file to remove
    return catalog.write_data_file(path, rows)


def _key_salt(contract: Contract, seq: int) -> int:
    """What the key hashes mix in: the delivery's place in its batch when a key need only be
    unique within one delivery."""
    return 0 if contract.unique_across_deliveries else seq + 1


def _prepare(contract: Contract, numbered_job: tuple[int, BatchJob], lineage: _Lineage,
             pseudonymizer: Pseudonymizer, settings: Settings, written: list[Path], staged: _Staged) -> _PreparedBatch:
    """Parse, validate, pseudonymize and write one batch. Runs in a worker thread: pyarrow's
    kernels and Parquet writer release the interpreter, so batches proceed side by side."""
    index, job = numbered_job
    label = f"{lineage.upload_id}-{index:06d}"
    batch = job()
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
    rejected = None
    if reasons:
        rejected = _write(contract, "quarantine", lineage.quarantine(numbers, texts, reasons), settings, label, written)
    reason_counts = Counter(r for row in reasons for r in dict.fromkeys(row))
    warning_counts: Counter = Counter()
    # valid rows: typed, pseudonymized, with lineage
    keep = checked.valid_indices()
    valid = None
    if len(keep):
        typed = checked.typed.take(keep) if len(keep) < checked.typed.num_rows else checked.typed
        columns: dict[str, pa.Array] = {}
        for col in contract.columns:
            values = typed.column(col.name).combine_chunks()
            if col.identifier:
                values = pseudonymizer.column(col.identifier, values)
            columns[col.target_name] = values
        n = len(keep)
        columns.update(lineage.columns(batch.row_numbers[keep]))
        if checked.warnings:
            warn_lists = [checked.warnings.get(int(i)) for i in keep]
            for w in warn_lists:
                if w:
                    warning_counts.update(w)
            columns["_warnings"] = pa.array(warn_lists, pa.list_(pa.string()))
        else:
            columns["_warnings"] = pa.nulls(n, pa.list_(pa.string()))
        rows = pa.table(columns, schema=contract.bronze_schema())
        staged.key_hashes.add(key_hashes(rows, contract.bronze_key, _key_salt(contract, staged.seq)))
        valid = _write(contract, "bronze", rows, settings, label, written)
    return _PreparedBatch(rejected, len(reasons), valid, len(keep), reason_counts, warning_counts)


def _in_order(pool: ThreadPoolExecutor, work: Callable, jobs: Iterator, window: int) -> Iterator:
    """``work(job)`` of every job, run in ``pool`` with at most ``window`` at once, yielded in
    the jobs' order (memory stays bounded by the window, not by the file)."""
    pending: deque[Future] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(work, job))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _stage_file(contract: Contract, upload: Upload, seq: int, settings: Settings,
                pseudonymizer: Pseudonymizer, ingested_at: dt.datetime, progress: Progress | None) -> _Staged:
    """Parse, validate and pseudonymize one landed file into data files of its bronze table
    (valid rows) and quarantine table (refused rows), committed later with the batch. A file
    that fails midway leaves none of its data files behind."""
    landed = Path(upload.landing_path)
    lineage = _Lineage(upload.upload_id, str(landed.relative_to(settings.landing_root)), ingested_at)
    plan = ReadPlan()
    staged = _Staged(upload, seq)
    written: list[Path] = []
    done_rows = 0
    threads = settings.ingest_threads
    try:
        jobs = read_delivery_jobs(landed, contract, plan, settings.csv_block_bytes, settings.max_record_bytes,
                                  settings.ggdata_max_page_rows)
        with ThreadPoolExecutor(threads, thread_name_prefix="ingest") as pool:
            work = partial(_prepare, contract, lineage=lineage, pseudonymizer=pseudonymizer, settings=settings,
                           written=written, staged=staged)
            for prepared in _in_order(pool, work, enumerate(jobs), window=threads + 1):
                if prepared.rejected is not None:
                    staged.rejected_paths.append(prepared.rejected)
                    staged.rejected += prepared.rejected_rows
                    staged.reasons.update(prepared.reasons)
                if prepared.valid is not None:
                    staged.valid_paths.append(prepared.valid)
                    staged.rows_staged += prepared.valid_rows
                    staged.warnings.update(prepared.warnings)
                done_rows += prepared.valid_rows + prepared.rejected_rows
                if progress:
                    progress(upload.file_name, done_rows)
    except BaseException:
        _remove(written)  # every worker has stopped: the pool is shut down
        raise
    upload.encoding = plan.encoding
    upload.notes = plan.notes
    return staged


def _duplicate_rows(contract: Contract, staged: list[_Staged], duplicates: dict[str, dict[int, str]],
                    settings: Settings, ingested_at: dt.datetime) -> pa.Table:
    """The duplicates' quarantine rows, with their values as delivered: read again from
    landing (duplicates are rare, so the ingest does not keep every row's delivered strings)."""
    parts = []
    for s in staged:
        rows = duplicates.get(s.upload.upload_id)
        if not rows:
            continue
        landed = Path(s.upload.landing_path)
        lineage = _Lineage(s.upload.upload_id, str(landed.relative_to(settings.landing_root)), ingested_at)
        wanted = np.fromiter(rows, np.int64, len(rows))
        numbers, texts, reasons = [], [], []
        for batch in read_delivery(landed, contract, ReadPlan(), settings.csv_block_bytes,
                                   settings.max_record_bytes, settings.ggdata_max_page_rows):
            hit = np.flatnonzero(np.isin(batch.row_numbers, wanted))
            if not len(hit):
                continue
            picked = batch.row_numbers[hit].tolist()
            numbers += picked
            texts += _raw_json(batch.columns.take(hit).to_pylist())
            reasons += [[rows[n]] for n in picked]
        if len(numbers) != len(rows):  # pragma: no cover - the reader is deterministic
            raise AssertionError(f"upload {s.upload.upload_id}: {len(rows)} duplicates, {len(numbers)} found again")
        parts.append(lineage.quarantine(numbers, texts, reasons))
    return pa.concat_tables(parts) if parts else QUARANTINE_SCHEMA.empty_table()


def _without_duplicates(contract: Contract, s: _Staged, row_numbers: set[int], settings: Settings) -> None:
    """Write the upload's bronze data files again without the rows that turned out duplicates."""
    kept: list[Path] = []
    drop = pa.array(sorted(row_numbers), pa.int64())
    for path in s.valid_paths:
        rows = pq.read_table(path)
        remaining = rows.filter(pc.invert(pc.is_in(rows.column("_row_number"), value_set=drop)))
        if remaining.num_rows == rows.num_rows:
            kept.append(path)
            continue
        if remaining.num_rows:
            kept.append(_write(contract, "bronze", remaining, settings, f"{s.upload.upload_id}-dedup", []))
        path.unlink()
    s.valid_paths = kept


def _candidates(contract: Contract, staged: list[_Staged], repeats: np.ndarray) -> pa.Table | None:
    """The staged rows whose key hash is among ``repeats``: key, ``_upload_id`` and
    ``_row_number``, read back from the batch's bronze data files one at a time; None when
    there are none."""
    columns = [*contract.bronze_key, "_upload_id", "_row_number"]
    parts = []
    for s in staged if len(repeats) else []:
        salt = _key_salt(contract, s.seq)
        for path in s.valid_paths:
            rows = pq.read_table(path, columns=columns)
            hit = np.isin(key_hashes(rows, contract.bronze_key, salt), repeats)
            if hit.any():
                parts.append(rows.filter(pa.array(hit)))
    return pa.concat_tables(parts) if parts else None


def _bronze_load(contract: Contract, staged: list[_Staged], settings: Settings,
                 ingested_at: dt.datetime, committed: list[Path]) -> tuple[int, int, Counter]:
    """The Spark step for a batch: find its duplicates (within the batch, and in bronze for
    transactions), move them to quarantine, then commit the batch's data files: quarantine,
    then bronze, one commit each. ``committed`` receives the files once they are in a table."""
    from lcdp.ingest.duplicates import find_duplicates
    from lcdp.lake import engine

    bronze_name = catalog.bronze(contract).qualified
    quarantine_name = catalog.quarantine(contract).qualified
    for name in (bronze_name, quarantine_name):  # a delivery makes both tables, even empty
        catalog.ensure(name, settings)
    dup_counts: Counter = Counter()
    repeats = repeated([s.key_hashes for s in staged])
    existing = contract.unique_across_deliveries and catalog.row_count(bronze_name, settings) > 0
    valid_files = [str(p) for s in staged for p in s.valid_paths]
    if valid_files and (len(repeats) or existing):
        from pyspark.sql import functions as F

        spark = engine.spark(settings)
        order = spark.createDataFrame([(s.upload.upload_id, s.seq) for s in staged],
                                      "_upload_id string, _upload_seq int")

        def in_order(frame):  # each row's delivery order within the batch
            if len(staged) == 1:
                return frame.withColumn("_upload_seq", F.lit(staged[0].seq))
            return order.join(frame, on="_upload_id")  # the few uploads on the left (the build side)

        rows = in_order(spark.read.parquet(*valid_files).select(*contract.bronze_key, "_upload_id", "_row_number"))
        candidates = _candidates(contract, staged, repeats)
        candidates = in_order(spark.createDataFrame(candidates)) if candidates is not None else rows.where(F.lit(False))
        existing_keys = catalog.read(spark, bronze_name, settings).select(*contract.bronze_key) if existing else None
        duplicates = find_duplicates(rows, contract.bronze_key, contract.unique_across_deliveries, existing_keys,
                                     key_label="+".join(contract.key), candidates=candidates)
        found: dict[str, dict[int, str]] = {}
        for row in duplicates.collect():
            found.setdefault(row["_upload_id"], {})[row["_row_number"]] = row["reason"]
            dup_counts[(row["_upload_id"], row["reason"])] += 1
        if found:
            dup_rows = _duplicate_rows(contract, staged, found, settings, ingested_at)
            staged[0].rejected_paths.append(_write(contract, "quarantine", dup_rows, settings, "duplicates", []))
            for s in staged:
                if s.upload.upload_id in found:
                    _without_duplicates(contract, s, set(found[s.upload.upload_id]), settings)
    rejected_files = [p for s in staged for p in s.rejected_paths]
    valid_paths = [p for s in staged for p in s.valid_paths]
    q_version = catalog.version(quarantine_name, settings)
    if rejected_files:
        q_version = catalog.commit_files(quarantine_name, settings, rejected_files)
        committed += rejected_files
    b_version = catalog.version(bronze_name, settings)
    if valid_paths:
        b_version = catalog.commit_files(bronze_name, settings, valid_paths)
        committed += valid_paths
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
                status=UploadStatus.LANDED, landing_path=str(landed_path), reasons={}, warnings={}, notes=[],
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
        if original.status in (UploadStatus.LANDED, UploadStatus.INGESTING):
            since = original.started_at or original.created_at
            since = since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
            age = (dt.datetime.now(dt.timezone.utc) - since).total_seconds()
            if age < lease_seconds:
                shutil.rmtree(landed_path.parent, ignore_errors=True)
                raise DeliveryInProgress(
                    f"the same bytes are being ingested as upload {original.upload_id} (for {age:.0f} s); "
                    "try again later")
        if original.status in (UploadStatus.LANDED, UploadStatus.INGESTING, UploadStatus.FAILED):
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
    receipts: dict[int, Receipt] = {}
    staged: list[_Staged] = []
    committed: list[Path] = []  # data files this batch has added to its tables
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
            upload.status, upload.started_at = UploadStatus.INGESTING, dt.datetime.now(dt.timezone.utc)
            _finish(db_url, upload)
            try:
                staged.append(_stage_file(contract, upload, seq, settings, pseudonymizer, ingested_at, progress))
            except Exception as exc:
                if isinstance(exc, DeliveryRefused):
                    upload.status, upload.error = UploadStatus.REFUSED, str(exc)
                    bound.info("ingest.refused", reason=str(exc))  # the receipt reports it
                else:
                    # Our reader's fault, not the partner's: refuse this delivery with its
                    # upload id, keep the stack for us, and let a re-send redo it.
                    upload.status = UploadStatus.FAILED
                    upload.error = (f"upload {upload.upload_id} could not be read ({_one_line(exc)}); "
                                    "it is marked failed and a re-send redoes it")
                    bound.exception("ingest.read_failed")
                upload.finished_at = dt.datetime.now(dt.timezone.utc)
                receipts[seq] = _finish(db_url, upload)
                in_flight.remove(upload)
        if staged:
            # the blocks' buffers go back to the system before the engine starts (170 MiB
            # of a 2 GiB delivery's peak)
            pa.default_memory_pool().release_unused()
            # One writer per dataset from the duplicate check to the commits: concurrent
            # deliveries of the same ids end as if sent one after the other, and the versions
            # read back are the commits this batch made.
            with table_lock(settings, catalog.bronze(contract).qualified):
                b_version, q_version, dup_counts = _bronze_load(contract, staged, settings, ingested_at, committed)
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
                u.status, u.finished_at = UploadStatus.DONE, dt.datetime.now(dt.timezone.utc)
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
                upload.status, upload.error = UploadStatus.FAILED, _one_line(exc)
                _finish(db_url, upload)
            raise
        ids = ", ".join(u.upload_id for u in in_flight)
        message = (f"upload(s) {ids} failed while loading into bronze ({_one_line(exc)}); "
                   "marked failed, a re-send redoes them")
        for upload in in_flight:
            upload.status, upload.error = UploadStatus.FAILED, message
            _finish(db_url, upload)
        _log.exception("ingest.load_failed", upload_ids=ids, partner=partner, dataset=dataset)
        raise DeliveryFailed(message) from exc
    finally:
        # data files no commit took in are nobody's: remove them now rather than at the next vacuum
        _remove([p for s in staged for p in s.files if p not in committed])
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

"""Readers for each partner's native format, streaming raw string batches in bounded memory.

A reader turns a delivered file into ``RawBatch``es: every contract column as the strings the
partner sent, with the record number of each row, plus the records that could not even be
split into fields (wrong field count, broken JSON, too long, not text) with their text and
reason. A file that cannot be read at all raises ``DeliveryRefused`` with a one-line reason.

One module per family of formats: ``csv_reader`` (framed by ``csv_records``), ``json_readers``
(JSON Lines and portal pages), ``parquet_reader``; ``raw`` holds what they share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from lcdp.contracts import Contract
from lcdp.ingest.csv_reader import DEFAULT_MAX_RECORD_BYTES, read_csv
from lcdp.ingest.json_readers import DEFAULT_MAX_PAGE_ROWS, read_ggdata_page, read_jsonl
from lcdp.ingest.parquet_reader import read_parquet
from lcdp.ingest.raw import Malformed, RawBatch, ReadPlan, detect_encoding

__all__ = ["BatchJob", "Malformed", "RawBatch", "ReadPlan", "detect_encoding", "read_delivery", "read_delivery_jobs"]

#: A batch of a delivery still to be parsed: calling it gives the RawBatch.
BatchJob = Callable[[], RawBatch]


def read_delivery_jobs(path: Path, contract: Contract, plan: ReadPlan, block_bytes: int,
                       max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                       max_page_rows: int = DEFAULT_MAX_PAGE_ROWS) -> Iterator[BatchJob]:
    """Stream a delivery in the contract's native format, as jobs in file order.

    What must be sequential (finding where records start and end) happens as the iterator
    advances; the rest waits in the job, so the ingest runs several jobs at once. Delimited
    text leaves its parsing in the job; the other formats hand over parsed batches."""
    kind = contract.format.kind
    if kind == "csv":
        yield from read_csv(path, contract, plan, block_bytes, max_record_bytes)
        return
    if kind == "jsonl":
        batches = read_jsonl(path, contract, plan, max_record_bytes)
    elif kind == "ggdata_page":
        batches = read_ggdata_page(path, contract, plan, max_page_rows)
    else:
        batches = read_parquet(path, contract, plan)
    for batch in batches:
        yield lambda batch=batch: batch


def read_delivery(path: Path, contract: Contract, plan: ReadPlan, block_bytes: int,
                  max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                  max_page_rows: int = DEFAULT_MAX_PAGE_ROWS) -> Iterator[RawBatch]:
    """Stream a delivery in the contract's native format, batch by batch."""
    for job in read_delivery_jobs(path, contract, plan, block_bytes, max_record_bytes, max_page_rows):
        yield job()

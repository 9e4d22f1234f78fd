"""Readers for each partner's native format, streaming raw string batches in bounded memory.

A reader turns a delivered file into ``RawBatch``es: every contract column as the strings the
partner sent, with the record number of each row, plus the records that could not even be
split into fields (wrong field count, broken JSON, too long, not text) with their text and
reason. A file that cannot be read at all raises ``DeliveryRefused`` with a one-line reason.

One module per family of formats: ``csv_reader`` (framed by ``csv_records``), ``json_readers``
(JSON Lines and portal pages), ``parquet_reader``; ``raw`` holds what they share.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lcdp.contracts import Contract
from lcdp.ingest.csv_reader import DEFAULT_MAX_RECORD_BYTES, read_csv
from lcdp.ingest.json_readers import DEFAULT_MAX_PAGE_ROWS, read_ggdata_page, read_jsonl
from lcdp.ingest.parquet_reader import read_parquet
from lcdp.ingest.raw import Malformed, RawBatch, ReadPlan, detect_encoding

__all__ = ["Malformed", "RawBatch", "ReadPlan", "detect_encoding", "read_delivery"]


def read_delivery(path: Path, contract: Contract, plan: ReadPlan, block_bytes: int,
                  max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
                  max_page_rows: int = DEFAULT_MAX_PAGE_ROWS) -> Iterator[RawBatch]:
    """Stream a delivery in the contract's native format."""
    kind = contract.format.kind
    if kind == "csv":
        return read_csv(path, contract, plan, block_bytes, max_record_bytes)
    if kind == "jsonl":
        return read_jsonl(path, contract, plan, max_record_bytes)
    if kind == "ggdata_page":
        return read_ggdata_page(path, contract, plan, max_page_rows)
    return read_parquet(path, contract, plan)

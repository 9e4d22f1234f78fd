"""What every reader gives back: raw string batches, refused records, and what it learned of
the file; plus the text-encoding guess they share."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from lcdp.contracts import Contract
from lcdp.errors import DeliveryRefused

SNIFF_BYTES = 64 * 1024


@dataclass
class Malformed:
    """A record that could not be split into the contract's fields."""

    row_number: int
    text: str
    reason: str


@dataclass
class RawBatch:
    columns: pa.Table  # every contract column, as delivered strings (null when absent)
    row_numbers: np.ndarray  # 1-based record number in the delivery, per row of ``columns``
    malformed: list[Malformed] = field(default_factory=list)


@dataclass
class ReadPlan:
    """What the reader learned about the file before streaming it (shown in the receipt)."""

    encoding: str | None = None
    notes: list[str] = field(default_factory=list)


def null_column(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def as_raw_table(contract: Contract, rows: dict[str, pa.Array], n: int) -> pa.Table:
    return pa.table({c: rows.get(c, null_column(n)) for c in contract.column_names})


def detect_encoding(head: bytes, declared: str) -> tuple[str, list[str]]:
    """Pick the text encoding of a delivery from its first bytes.

    UTF-8 (with or without BOM) and CP949 are accepted whatever the contract declares, since
    Korean partners send both; the contract's encoding only breaks ties on pure ASCII.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", ["UTF-8 byte order mark found and skipped"]
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if head.startswith(bom):
            raise DeliveryRefused(f"file is encoded as {name}; send UTF-8 or CP949 text")
    if head.count(b"\x00") > len(head) // 10:  # a stray NUL in a row is that row's problem
        raise DeliveryRefused("file contains NUL bytes: it is binary or UTF-16, not UTF-8 or CP949 text")
    if head.isascii():
        return declared, []
    # Judge line by line: one row in a foreign encoding is that row's problem (the reader
    # quarantines it), not a reason to misjudge the file. The last line may be cut mid-character.
    cut = len(head) >= SNIFF_BYTES  # the last line may end mid-character
    split = head.splitlines()
    lines = [(line, not cut or i < len(split) - 1) for i, line in enumerate(split) if not line.isascii()]
    bad = {c: sum(1 for line, final in lines if not _decodes(line, c, final)) for c in ("utf-8", "cp949")}
    candidate = min(bad, key=lambda c: bad[c])  # ties go to UTF-8
    if bad[candidate] * 2 > len(lines):
        raise DeliveryRefused(f"file is neither UTF-8 nor CP949 text (contract declares {declared.upper()})")
    notes = [] if candidate == codecs.lookup(declared).name.replace("_", "-") or (
        candidate == "cp949" and declared.lower() in ("cp949", "euc-kr", "ms949")
    ) else [f"decoded as {candidate.upper()} although the contract declares {declared.upper()}"]
    return candidate, notes


def _decodes(data: bytes, encoding: str, final: bool = True) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(data, final=final)
        return True
    except UnicodeDecodeError:
        return False

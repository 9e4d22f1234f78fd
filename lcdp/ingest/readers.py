"""Readers for each partner's native format, streaming raw string batches in bounded memory.

A reader turns a delivered file into ``RawBatch``es: every contract column as the strings the
partner sent, with the record number of each row, plus the records that could not even be
split into fields (wrong field count, broken JSON) with their text and reason. A file that
cannot be read at all raises ``DeliveryRefused`` with a one-line reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lcdp.contracts import Contract
from lcdp.errors import DeliveryRefused

_SNIFF_BYTES = 64 * 1024
_JSON_BATCH_ROWS = 50_000


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


def _null_column(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def _as_raw_table(contract: Contract, rows: dict[str, pa.Array], n: int) -> pa.Table:
    return pa.table({c: rows.get(c, _null_column(n)) for c in contract.column_names})


# --------------------------------------------------------------------------- encodings


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
    if b"\x00" in head:
        raise DeliveryRefused("file contains NUL bytes: it is binary or UTF-16, not UTF-8 or CP949 text")
    if head.isascii():
        return declared, []
    for candidate in ("utf-8", "cp949"):
        try:
            codecs.getincrementaldecoder(candidate)("strict").decode(head, final=False)
        except UnicodeDecodeError:
            continue
        notes = [] if candidate == codecs.lookup(declared).name.replace("_", "-") or (
            candidate == "cp949" and declared.lower() in ("cp949", "euc-kr", "ms949")
        ) else [f"decoded as {candidate.upper()} although the contract declares {declared.upper()}"]
        return candidate, notes
    raise DeliveryRefused(f"file is neither UTF-8 nor CP949 text (contract declares {declared.upper()})")


# --------------------------------------------------------------------------- CSV


def _check_header(contract: Contract, header: list[str], delimiter: str, notes: list[str]) -> list[str]:
    header = [h.strip() for h in header]
    missing = [c for c in contract.column_names if c not in header]
    if missing:
        hint = ""
        if len(header) == 1:
            found = [d for d in (",", "|", ";", "\t") if d != delimiter and d in header[0]]
            if found:
                hint = f"; the header looks delimited by {found[0]!r}, the contract expects {delimiter!r}"
        raise DeliveryRefused(
            f"header lacks column(s) {', '.join(missing)}{hint} (expected: {', '.join(contract.column_names)})"
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DeliveryRefused(f"header repeats column(s) {', '.join(dupes)}")
    extra = [h for h in header if h not in contract.column_names]
    if extra:
        notes.append(f"extra column(s) ignored: {', '.join(extra)}")
    return header


def read_csv(path: Path, contract: Contract, plan: ReadPlan, block_bytes: int) -> Iterator[RawBatch]:
    fmt = contract.format
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        raise DeliveryRefused("file is empty (not even a header)")
    encoding, notes = detect_encoding(head, fmt.encoding)
    plan.encoding, plan.notes = encoding, plan.notes + notes
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    first_line = next(csv.reader(io.StringIO(text), delimiter=fmt.delimiter), [])
    header = _check_header(contract, first_line, fmt.delimiter, plan.notes)

    pending: list[Malformed] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        reason = "row:too_few_fields" if row.actual_columns < row.expected_columns else "row:too_many_fields"
        # pyarrow numbers physical lines (header = line 1), so line - 1 is the record number
        # for files without quoted newlines.
        pending.append(Malformed(row.number - 1 if row.number and row.number > 0 else -1, row.text, reason))
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            # our (trimmed) header names are the column names: "tx_id " must still be tx_id
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=block_bytes, use_threads=False,
                                           column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=fmt.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                include_columns=contract.column_names,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise DeliveryRefused(f"file cannot be parsed as {encoding.upper()} CSV: {exc}") from exc

    next_row = 1
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise DeliveryRefused(
                f"file stops being valid {encoding.upper()} CSV after record {next_row - 1}: {exc}"
            ) from exc
        bad, pending[:] = list(pending), []
        total = batch.num_rows + len(bad)
        span = np.arange(next_row, next_row + total)
        bad_numbers = {m.row_number for m in bad if next_row <= m.row_number < next_row + total}
        if len(bad_numbers) != len(bad):  # quoted newlines shifted the lines: keep order only
            for offset, m in enumerate(bad):
                m.row_number = next_row + batch.num_rows + offset
            bad_numbers = {m.row_number for m in bad}
        good_numbers = span[~np.isin(span, list(bad_numbers))] if bad_numbers else span
        next_row += total
        yield RawBatch(pa.Table.from_batches([batch]), good_numbers, bad)
    if pending:
        for offset, m in enumerate(pending):
            m.row_number = next_row + offset
        yield RawBatch(_as_raw_table(contract, {}, 0), np.empty(0, np.int64), list(pending))


# --------------------------------------------------------------------------- JSON


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _records_to_batch(contract: Contract, records: list[tuple[int, object, str]]) -> RawBatch:
    """``records``: (record number, parsed JSON value, raw text) in order."""
    good: list[tuple[int, dict]] = []
    malformed: list[Malformed] = []
    for number, value, text in records:
        if isinstance(value, dict):
            good.append((number, value))
        else:
            malformed.append(Malformed(number, text, "row:not_an_object"))
    columns = {
        name: pa.array([_cell(rec.get(name)) for _, rec in good], pa.string()) for name in contract.column_names
    }
    return RawBatch(
        _as_raw_table(contract, columns, len(good)),
        np.array([n for n, _ in good], dtype=np.int64),
        malformed,
    )


def read_jsonl(path: Path, contract: Contract, plan: ReadPlan) -> Iterator[RawBatch]:
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        raise DeliveryRefused("file is empty")
    encoding, notes = detect_encoding(head, contract.format.encoding)
    plan.encoding, plan.notes = encoding, plan.notes + notes
    records: list[tuple[int, object, str]] = []
    pending_bad: list[Malformed] = []
    number = 0
    with open(path, encoding=encoding, errors="strict", newline="") as fh:
        try:
            for line in fh:
                line = line.lstrip("\ufeff").rstrip("\r\n")
                if not line.strip():
                    continue
                number += 1
                try:
                    records.append((number, json.loads(line), line))
                except json.JSONDecodeError as exc:
                    pending_bad.append(Malformed(number, line, "row:invalid_json"))
                    del exc
                if len(records) + len(pending_bad) >= _JSON_BATCH_ROWS:
                    batch = _records_to_batch(contract, records)
                    batch.malformed = pending_bad + batch.malformed
                    yield batch
                    records, pending_bad = [], []
        except UnicodeDecodeError as exc:
            raise DeliveryRefused(f"file stops being valid {encoding.upper()} after record {number}: {exc}") from exc
    batch = _records_to_batch(contract, records)
    batch.malformed = pending_bad + batch.malformed
    yield batch


_GGDATA_RESULTS = {
    "ERROR-290": "the API key was refused (ERROR-290)",
    "ERROR-337": "the daily quota was exceeded (ERROR-337)",
    "ERROR-500": "the portal reported a server error (ERROR-500)",
}


def read_ggdata_page(path: Path, contract: Contract, plan: ReadPlan) -> Iterator[RawBatch]:
    """One page of the open-data portal API in its envelope (BRIEF §4)."""
    raw = path.read_bytes()  # a page holds at most 1000 rows
    if not raw.strip():
        raise DeliveryRefused("file is empty")
    encoding, notes = detect_encoding(raw[:_SNIFF_BYTES], "utf-8")
    plan.encoding, plan.notes = encoding, plan.notes + notes
    try:
        doc = json.loads(raw.decode(encoding).lstrip("\ufeff"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeliveryRefused(f"page is not valid JSON: {exc}") from exc
    endpoint = contract.format.endpoint or ""
    if isinstance(doc, dict) and "RESULT" in doc and endpoint not in doc:
        code = str(doc["RESULT"].get("CODE", "")) if isinstance(doc["RESULT"], dict) else ""
        if code == "INFO-200":
            plan.notes.append("the portal answered INFO-200 (no data)")
            yield RawBatch(_as_raw_table(contract, {}, 0), np.empty(0, np.int64))
            return
        raise DeliveryRefused(_GGDATA_RESULTS.get(code, f"the portal answered {code or 'an unknown result'}"))
    try:
        parts = doc[endpoint]
        head = next(p["head"] for p in parts if "head" in p)
        result = next(h["RESULT"] for h in head if "RESULT" in h)
        rows = next(p["row"] for p in parts if "row" in p)
    except (KeyError, TypeError, StopIteration) as exc:
        raise DeliveryRefused(
            f"page does not have the {endpoint} envelope (head with RESULT, then row): missing {exc}"
        ) from exc
    if result.get("CODE") != "INFO-000":
        raise DeliveryRefused(_GGDATA_RESULTS.get(result.get("CODE"), f"the portal answered {result.get('CODE')}"))
    if not isinstance(rows, list):
        raise DeliveryRefused("page's 'row' is not a list")
    records = [(i + 1, row, json.dumps(row, ensure_ascii=False)) for i, row in enumerate(rows)]
    yield _records_to_batch(contract, records)


# --------------------------------------------------------------------------- Parquet


def read_parquet(path: Path, contract: Contract, plan: ReadPlan, batch_rows: int = 200_000) -> Iterator[RawBatch]:
    if path.stat().st_size == 0:
        raise DeliveryRefused("file is empty")
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise DeliveryRefused(f"file is not readable Parquet: {exc}") from exc
    names = pf.schema_arrow.names
    missing = [c for c in contract.column_names if c not in names]
    if missing:
        raise DeliveryRefused(
            f"Parquet file lacks column(s) {', '.join(missing)} (expected: {', '.join(contract.column_names)})"
        )
    extra = [n for n in names if n not in contract.column_names]
    if extra:
        plan.notes.append(f"extra column(s) ignored: {', '.join(extra)}")
    next_row = 1
    for batch in pf.iter_batches(batch_size=batch_rows, columns=contract.column_names):
        columns = {
            name: batch.column(name).cast(pa.string()) for name in contract.column_names
        }
        n = batch.num_rows
        yield RawBatch(pa.table(columns), np.arange(next_row, next_row + n), [])
        next_row += n


def read_delivery(path: Path, contract: Contract, plan: ReadPlan, block_bytes: int) -> Iterator[RawBatch]:
    """Stream a delivery in the contract's native format."""
    kind = contract.format.kind
    if kind == "csv":
        return read_csv(path, contract, plan, block_bytes)
    if kind == "jsonl":
        return read_jsonl(path, contract, plan)
    if kind == "ggdata_page":
        return read_ggdata_page(path, contract, plan)
    return read_parquet(path, contract, plan)

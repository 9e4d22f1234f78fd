"""Delimited text (kona's CP949 CSV, ked's pipe-delimited UTF-8): the header checked against
the contract, the records framed by ``csv_records``, then parsed by pyarrow."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from lcdp.contracts import Contract
from lcdp.errors import DeliveryRefused
from lcdp.ingest.csv_records import Framed, HeaderTooLong, RecordFramer, read_header_line
from lcdp.ingest.raw import SNIFF_BYTES, Malformed, RawBatch, ReadPlan, as_raw_table, detect_encoding

#: A header line longer than this is refused: no contract has columns enough to need it.
MAX_HEADER_BYTES = 1024 * 1024
#: Default limit of one record (``LCDP_CSV_MAX_RECORD_BYTES``); longer records are quarantined.
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024


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


def _parse_records(framed: Framed, header: list[str], delimiter: str, contract: Contract) -> RawBatch:
    """Parse framed records into the contract's columns (strings as delivered).

    pyarrow parses the run; in the rare run where it disagrees with the framing about a
    record's fields (a quote in the middle of a value), the run is parsed record by record with
    Python's csv module instead, so every record still gets an answer of its own.
    """
    malformed = [Malformed(r.row_number, r.text, r.reason) for r in framed.refused]
    if not framed.numbers.size:
        return RawBatch(as_raw_table(contract, {}, 0), np.empty(0, np.int64), malformed)
    disagreements: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        disagreements.append(row.actual_columns)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(framed.data),
            read_options=pacsv.ReadOptions(column_names=header, use_threads=False,
                                           block_size=max(len(framed.data) + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             ignore_empty_lines=False, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, include_columns=contract.column_names,
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid:
        table = None
    if table is not None and not disagreements and table.num_rows == framed.numbers.size:
        return RawBatch(table, framed.numbers, malformed)
    return _parse_records_one_by_one(framed, header, delimiter, contract, malformed)


def _parse_records_one_by_one(framed: Framed, header: list[str], delimiter: str, contract: Contract,
                              malformed: list[Malformed]) -> RawBatch:
    wanted = [header.index(c) for c in contract.column_names]
    columns: list[list[str]] = [[] for _ in wanted]
    numbers: list[int] = []
    lines = re.split(r"\r\n|\r|\n", framed.data.decode("utf-8"))
    # framed records are one line each, but a quoted value may hold line breaks: rejoin by quotes
    records, current = [], None
    for line in lines[:-1] if lines and lines[-1] == "" else lines:
        current = line if current is None else current + "\n" + line
        if current.count('"') % 2 == 0:
            records.append(current)
            current = None
    if current is not None:
        records.append(current)
    for number, text in zip(framed.numbers.tolist(), records):
        try:
            fields = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
        except (csv.Error, StopIteration):
            malformed.append(Malformed(number, text, "row:unbalanced_quote"))
            continue
        if len(fields) != len(header):
            reason = "row:too_few_fields" if len(fields) < len(header) else "row:too_many_fields"
            malformed.append(Malformed(number, text, reason))
            continue
        numbers.append(number)
        for out, i in zip(columns, wanted):
            out.append(fields[i])
    malformed.sort(key=lambda m: m.row_number)
    table = pa.table({c: pa.array(v, pa.string()) for c, v in zip(contract.column_names, columns)})
    return RawBatch(table, np.array(numbers, np.int64), malformed)


def read_csv(path: Path, contract: Contract, plan: ReadPlan, block_bytes: int,
             max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[RawBatch]:
    """A delimited text file, framed into records (``csv_records``), then parsed by pyarrow."""
    fmt = contract.format
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
        if not head:
            raise DeliveryRefused("file is empty (not even a header)")
        encoding, notes = detect_encoding(head, fmt.encoding)
        plan.encoding, plan.notes = encoding, plan.notes + notes
        fh.seek(len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0)
        try:
            header_bytes = read_header_line(fh, MAX_HEADER_BYTES)
            header_text = header_bytes.decode(encoding)
        except HeaderTooLong as exc:
            raise DeliveryRefused(f"{exc} (a header names the columns; is this the right file?)") from exc
        except UnicodeDecodeError as exc:
            raise DeliveryRefused(f"the header line is not valid {encoding.upper()} text") from exc
        try:
            first_line = next(csv.reader([header_text], delimiter=fmt.delimiter), [])
        except csv.Error as exc:
            raise DeliveryRefused(f"the header line cannot be read: {exc}") from exc
        header = _check_header(contract, first_line, fmt.delimiter, plan.notes)
        framer = RecordFramer(fmt.delimiter, len(header), encoding, block_bytes, max_record_bytes)
        for framed in framer.frames(fh):
            yield _parse_records(framed, header, fmt.delimiter, contract)

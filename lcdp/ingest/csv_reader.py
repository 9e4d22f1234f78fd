"""Delimited text (kona's CP949 CSV, ked's pipe-delimited UTF-8): the header checked against
the contract, the records framed by ``csv_records``, then parsed by pyarrow."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


def _parse_records(framed: Framed, header: list[str], delimiter: str, contract: Contract,
                   encoding: str) -> RawBatch:
    """Parse framed records into the contract's columns (strings as delivered).

    pyarrow parses the run into byte columns, which are then decoded column by column
    (``_decode_columns``); in the rare run where pyarrow disagrees with the framing about a
    record's fields (a quote in the middle of a value), the run is parsed record by record
    with Python's csv module instead, so every record still gets an answer of its own.
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
                column_types={h: pa.binary() for h in header}, include_columns=contract.column_names,
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid:
        table = None
    if table is None or disagreements or table.num_rows != framed.numbers.size:
        return _parse_records_one_by_one(framed, header, delimiter, contract, encoding, malformed)
    columns, bad = _decode_columns(table, encoding)
    numbers = framed.numbers
    if bad is not None:
        for i in np.flatnonzero(bad):
            text = framed.record(int(i)).decode(encoding, errors="replace")
            malformed.append(Malformed(int(numbers[i]), text, "row:bad_encoding"))
        malformed.sort(key=lambda m: m.row_number)
        keep = pa.array(~bad)
        columns, numbers = columns.filter(keep), numbers[~bad]
    return RawBatch(columns, numbers, malformed)


def _decode_columns(table: pa.Table, encoding: str) -> tuple[pa.Table, np.ndarray | None]:
    """Byte columns as text, and the rows with a value that is not text in ``encoding`` (None
    when there is none).

    ASCII reads the same in UTF-8 and CP949, so an all-ASCII column is taken as it is,
    without a copy. A column with other values (the Korean ones: few distinct, such as 카드
    or 30대) is decoded once per distinct value: all of it when its values repeat, else just
    its non-ASCII values. A UTF-8 column is checked whole first, in one pass of Arrow's own
    validation."""
    decoded: dict[str, pa.Array] = {}
    bad: np.ndarray | None = None
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "ascii")
    for name in table.column_names:
        raw = table.column(name).combine_chunks()
        text = raw.view(pa.string())
        non_ascii = pc.invert(pc.fill_null(pc.string_is_ascii(text), True))
        if not pc.any(non_ascii).as_py():
            decoded[name] = text
            continue
        if utf8:
            try:
                text.validate(full=True)
                decoded[name] = text
                continue
            except pa.ArrowInvalid:
                pass
        encoded = pc.dictionary_encode(raw)
        if len(encoded.dictionary) * 4 <= len(raw):
            column, failed = _decode_each(encoded, encoding)
        else:
            part, part_failed = _decode_each(pc.dictionary_encode(raw.filter(non_ascii)), encoding)
            column = pc.replace_with_mask(_ascii_only(text, non_ascii), non_ascii, part)
            failed = pc.replace_with_mask(pa.array(np.zeros(len(raw), bool)), non_ascii, part_failed)
        decoded[name] = column
        if pc.any(failed).as_py():
            wrong = failed.to_numpy(zero_copy_only=False)
            bad = wrong if bad is None else bad | wrong
    return pa.table(decoded), bad


def _decode_each(encoded: pa.DictionaryArray, encoding: str) -> tuple[pa.Array, pa.Array]:
    """Each value of a dictionary-encoded byte column decoded once: the text per row (null
    where it is not text in ``encoding``), and whether it failed, per row."""
    values, failed = [], []
    for value in encoded.dictionary.to_pylist():
        try:
            values.append(value.decode(encoding))
            failed.append(False)
        except UnicodeDecodeError:
            values.append(None)
            failed.append(True)
    indices = encoded.indices
    return pc.take(pa.array(values, pa.string()), indices), pc.take(pa.array(failed), indices)


def _ascii_only(text: pa.Array, non_ascii: pa.Array) -> pa.Array:
    """``text`` with its non-ASCII values blanked (they are replaced next): the array handed
    to ``replace_with_mask`` is then valid UTF-8 whatever the file held."""
    return pc.if_else(non_ascii, pa.scalar(None, pa.string()), text)


def _parse_records_one_by_one(framed: Framed, header: list[str], delimiter: str, contract: Contract,
                              encoding: str, malformed: list[Malformed]) -> RawBatch:
    wanted = [header.index(c) for c in contract.column_names]
    columns: list[list[str]] = [[] for _ in wanted]
    numbers: list[int] = []
    for i, number in enumerate(framed.numbers.tolist()):
        raw = framed.record(i)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            malformed.append(Malformed(number, raw.decode(encoding, errors="replace"), "row:bad_encoding"))
            continue
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
        for out, i_field in zip(columns, wanted):
            out.append(fields[i_field])
    malformed.sort(key=lambda m: m.row_number)
    table = pa.table({c: pa.array(v, pa.string()) for c, v in zip(contract.column_names, columns)})
    return RawBatch(table, np.array(numbers, np.int64), malformed)


def read_csv(path: Path, contract: Contract, plan: ReadPlan, block_bytes: int,
             max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Callable[[], RawBatch]]:
    """A delimited text file, framed into records (``csv_records``) here, block by block; each
    block comes as a job that parses it with pyarrow (framing is sequential, parsing is not:
    the caller may run the jobs in parallel)."""
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
            yield partial(_parse_records, framed, header, fmt.delimiter, contract, encoding)

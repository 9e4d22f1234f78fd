"""JSON deliveries: gcgf's JSON Lines, and the portal's ``RegionMnyFacltStus`` pages.

Both read in bounded memory. A JSON Lines record longer than the record limit is quarantined
unread (``row:too_long``); one nested deeper than Python's parser goes is ``row:invalid_json``.
A portal page is parsed as a stream of events (ijson), never whole, so a page's size costs
time, not memory; rows nested deeper than ``MAX_DEPTH`` are quarantined (``row:too_deep``),
and a page of more than ``max_rows`` rows is refused (the portal pages at most 1000).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lcdp.contracts import Contract
from lcdp.errors import DeliveryRefused
from lcdp.ingest.raw import SNIFF_BYTES, Malformed, RawBatch, ReadPlan, as_raw_table, detect_encoding

_BATCH_ROWS = 50_000
#: A batch is handed on once it holds this much record text (bytes, or characters of a portal
#: row), whatever its count of rows: validation and the quarantine hold a few copies of a batch.
_BATCH_BYTES = 8 * 1024 * 1024
#: How deep a portal row may nest (real rows are flat objects).
MAX_DEPTH = 64
#: Default limit of rows on one portal page (``LCDP_GGDATA_MAX_PAGE_ROWS``).
DEFAULT_MAX_PAGE_ROWS = 10_000


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encodable(value: object) -> bool:
    """Whether every string in the value is valid Unicode (JSON can carry lone surrogates)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return True
    except (UnicodeEncodeError, ValueError):
        return False


def records_to_batch(contract: Contract, records: list[tuple[int, object, str]],
                     malformed: list[Malformed] | None = None) -> RawBatch:
    """``records``: (record number, parsed JSON value, raw text) in order."""
    good: list[tuple[int, dict]] = []
    malformed = list(malformed or [])
    for number, value, text in records:
        if not isinstance(value, dict):
            malformed.append(Malformed(number, text, "row:not_an_object"))
        else:
            good.append((number, value))
    try:
        columns = {name: pa.array([_cell(rec.get(name)) for _, rec in good], pa.string())
                   for name in contract.column_names}
    except (UnicodeEncodeError, pa.ArrowException):
        # a lone surrogate somewhere: find the records that carry one, keep the rest
        bad = {number for number, rec in good if not _encodable(rec)}
        malformed += [Malformed(number, text.encode("utf-8", "backslashreplace").decode("utf-8"), "row:invalid_text")
                      for number, _, text in records if number in bad]
        good = [(number, rec) for number, rec in good if number not in bad]
        columns = {name: pa.array([_cell(rec.get(name)) for _, rec in good], pa.string())
                   for name in contract.column_names}
    malformed.sort(key=lambda m: m.row_number)
    return RawBatch(as_raw_table(contract, columns, len(good)), np.array([n for n, _ in good], np.int64), malformed)


# --------------------------------------------------------------------------- JSON Lines


_LINE_END = re.compile(rb"\r\n|\r|\n")


def _lines(fh, max_bytes: int, block_bytes: int = 1 << 20) -> Iterator[tuple[bytes, int]]:
    """The file's lines without their ends (LF, CRLF or a bare CR: JSON text never holds a raw
    CR), each with its size. A line over ``max_bytes`` comes back cut to its first
    ``max_bytes``, and the rest of it is skipped as it streams past, never held."""
    rest = b""
    skipped: int | None = None  # bytes of an over-long line seen so far
    kept = b""
    while True:
        block = fh.read(block_bytes)
        if not block:
            if skipped is not None:
                yield kept, skipped + len(rest)
            elif rest:
                yield rest, len(rest)
            return
        lines = _LINE_END.split(rest + block)
        rest = lines.pop()  # not ended yet
        for line in lines:
            if skipped is not None:
                yield kept, skipped + len(line)
                skipped = None
            else:
                yield line, len(line)
        if skipped is not None:
            skipped += len(rest)
            rest = b""
        elif len(rest) > max_bytes:
            kept, skipped, rest = rest[:max_bytes], len(rest), b""


def read_jsonl(path: Path, contract: Contract, plan: ReadPlan, max_record_bytes: int) -> Iterator[RawBatch]:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head:
        raise DeliveryRefused("file is empty")
    encoding, notes = detect_encoding(head, contract.format.encoding)
    plan.encoding, plan.notes = encoding, plan.notes + notes
    records: list[tuple[int, object, str]] = []
    bad: list[Malformed] = []
    number, held = 0, 0
    with open(path, "rb") as fh:
        for raw, size in _lines(fh, max_record_bytes):
            if number == 0:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            number += 1
            if size > max_record_bytes:
                text = raw[:64 * 1024].decode(encoding, "replace")
                bad.append(Malformed(number, f"{text}… [{size} bytes in all; the whole record is in landing]",
                                     "row:too_long"))
                continue
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError:
                bad.append(Malformed(number, raw.decode(encoding, "replace"), "row:bad_encoding"))
                continue
            try:
                records.append((number, json.loads(line), line))
                held += size
            except (ValueError, RecursionError):  # broken, or nested past the parser's depth
                bad.append(Malformed(number, line, "row:invalid_json"))
            if len(records) + len(bad) >= _BATCH_ROWS or held >= _BATCH_BYTES:
                yield records_to_batch(contract, records, bad)
                records, bad, held = [], [], 0
    yield records_to_batch(contract, records, bad)


# --------------------------------------------------------------------------- portal pages

_GGDATA_RESULTS = {
    "ERROR-290": "the API key was refused (ERROR-290)",
    "ERROR-337": "the daily quota was exceeded (ERROR-337)",
    "ERROR-500": "the portal reported a server error (ERROR-500)",
}


class PageEnvelope:
    """What the event stream has shown of the envelope so far."""

    def __init__(self) -> None:
        self.top_result = False  # {"RESULT": …} at the top level (no-data and error answers)
        self.top_code: str | None = None
        self.has_endpoint = False
        self.head_code: str | None = None
        self.total: str | None = None  # head's list_total_count, as sent
        self.row_kind: str | None = None  # the event that opened "row": start_array expected
        self.rows = 0

    @property
    def code(self) -> str | None:
        """The page's result: the envelope's head, or the bare ``RESULT`` of an error answer."""
        return self.head_code if self.has_endpoint else self.top_code

    def see(self, path: tuple, event: str, value: Any, endpoint: str) -> None:
        if path == ("RESULT",):
            self.top_result = True
        elif path == ("RESULT", "CODE"):
            self.top_code = str(value)
        elif path == (endpoint,):
            self.has_endpoint = True
        elif path == (endpoint, "item", "head", "item", "RESULT", "CODE"):
            self.head_code = str(value)
        elif path == (endpoint, "item", "head", "item", "list_total_count"):
            self.total = str(value)
        elif path == (endpoint, "item", "row"):
            self.row_kind = event


class _Paths:
    """The path to each value of an ijson ``basic_parse`` stream, tracked by hand.

    ijson's own prefixed events cost O(depth²) memory on a deeply nested page; this keeps one
    entry per open container and refuses more than ``MAX_DEPTH`` of them.
    """

    def __init__(self) -> None:
        self.containers: list[tuple[str, tuple]] = []  # (map|array, the container's path)
        self.key: str | None = None

    def locate(self, event: str, value: Any) -> tuple | None:
        """The path of the value this event opens or is; ``None`` for keys and closings."""
        if event == "map_key":
            self.key = value
            return None
        if event in ("end_map", "end_array"):
            self.containers.pop()
            return None
        if not self.containers:
            return ()
        kind, parent = self.containers[-1]
        return (*parent, self.key if kind == "map" else "item")

    def enter(self, event: str, where: tuple) -> None:
        """Descend into the container ``event`` opened at ``where`` (nothing for a scalar)."""
        if event in ("start_map", "start_array"):
            if len(self.containers) >= MAX_DEPTH:
                raise DeliveryRefused(f"page is nested deeper than {MAX_DEPTH} levels")
            self.containers.append(("map" if event == "start_map" else "array", where))


def _skip(events: Iterator[tuple[str, Any]], first: str) -> None:
    """Consume the rest of a value whose first event was ``first``, building nothing."""
    depth = 1 if first in ("start_map", "start_array") else 0
    while depth:
        event, _ = next(events)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1


def _rows(events: Iterator[tuple[str, Any]], page: PageEnvelope, endpoint: str) -> Iterator[tuple[str, Any]]:
    """Walk a page's events, noting its envelope in ``page``; yield the first event of each row.

    The caller consumes the rest of that row from ``events`` (the same iterator) before asking
    for the next one.
    """
    paths, row_path = _Paths(), (endpoint, "item", "row", "item")
    for event, value in events:
        where = paths.locate(event, value)
        if where is None:
            continue
        if where == row_path:
            page.rows += 1
            yield event, value
            continue
        page.see(where, event, value, endpoint)
        paths.enter(event, where)


def scan_ggdata_envelope(fh, endpoint: str) -> PageEnvelope:
    """The envelope of a portal page (result code, total, row count) read from ``fh``, rows skipped.

    The pull adapter checks a page with this before handing it to ingestion; memory stays
    bounded whatever the page's size. Raises ``DeliveryRefused`` for invalid or too-deep JSON.
    """
    import ijson

    page = PageEnvelope()
    events = iter(ijson.basic_parse(fh, use_float=True))
    try:
        for event, _ in _rows(events, page, endpoint):
            _skip(events, event)
    except (ijson.JSONError, UnicodeDecodeError, StopIteration) as exc:
        raise DeliveryRefused(f"page is not valid JSON: {str(exc).splitlines()[0] if str(exc) else 'cut short'}") from exc
    return page


class _Recoded:
    """A binary file in another encoding, read as UTF-8 bytes (what ijson parses)."""

    def __init__(self, fh, encoding: str) -> None:
        import codecs

        self.fh, self.decoder = fh, codecs.getincrementaldecoder(encoding)("strict")

    def read(self, n: int = -1) -> bytes:
        chunk = self.fh.read(n)
        return self.decoder.decode(chunk, final=not chunk).encode("utf-8")


def _row_events(events: Iterator[tuple[str, Any]], first: tuple[str, Any]) -> tuple[object, bool]:
    """Build one row value from its events (``first`` already read); (value, too deep)."""
    from ijson.common import ObjectBuilder

    event, value = first
    if event not in ("start_map", "start_array"):
        return value, False
    builder = ObjectBuilder()
    builder.event(event, value)
    depth, too_deep = 1, False
    for event, value in events:
        if event in ("start_map", "start_array"):
            depth += 1
            too_deep = too_deep or depth > MAX_DEPTH
        elif event in ("end_map", "end_array"):
            depth -= 1
        if not too_deep:
            builder.event(event, value)
        if depth == 0:
            break
    return (None if too_deep else builder.value), too_deep


def read_ggdata_page(path: Path, contract: Contract, plan: ReadPlan,
                     max_rows: int = DEFAULT_MAX_PAGE_ROWS) -> Iterator[RawBatch]:
    """One page of the open-data portal API in its envelope (``RegionMnyFacltStus``), read as a stream."""
    import ijson

    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise DeliveryRefused("file is empty")
    encoding, notes = detect_encoding(head, "utf-8")
    plan.encoding, plan.notes = encoding, plan.notes + notes
    endpoint = contract.format.endpoint or ""
    page = PageEnvelope()
    records: list[tuple[int, object, str]] = []
    bad: list[Malformed] = []
    held = 0  # characters of record text in the batch being built
    with open(path, "rb") as raw_fh:
        source = raw_fh if encoding == "utf-8" else _Recoded(raw_fh, encoding)
        if encoding == "utf-8" and head.startswith(b"\xef\xbb\xbf"):
            raw_fh.read(3)
        events = iter(ijson.basic_parse(source, use_float=True))
        try:
            for event, value in _rows(events, page, endpoint):
                if page.rows > max_rows:
                    raise DeliveryRefused(
                        f"page holds more than {max_rows} rows (the portal pages at most 1000; "
                        "the limit is LCDP_GGDATA_MAX_PAGE_ROWS)")
                # Rows are built whole, by _row_events, with a depth limit of their own.
                row, too_deep = _row_events(events, (event, value))
                if too_deep:
                    bad.append(Malformed(page.rows, f"(a row nested deeper than {MAX_DEPTH} levels)", "row:too_deep"))
                else:
                    text = json.dumps(row, ensure_ascii=False, default=str)
                    records.append((page.rows, row, text))
                    held += len(text)
                if len(records) + len(bad) >= _BATCH_ROWS or held >= _BATCH_BYTES:
                    yield records_to_batch(contract, records, bad)
                    records, bad, held = [], [], 0
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise DeliveryRefused(f"page is not valid JSON: {str(exc).splitlines()[0]}") from exc
    if not page.has_endpoint:
        if page.top_result:
            code = page.top_code or ""
            if code == "INFO-200":
                plan.notes.append("the portal answered INFO-200 (no data)")
                yield RawBatch(as_raw_table(contract, {}, 0), np.empty(0, np.int64))
                return
            raise DeliveryRefused(_GGDATA_RESULTS.get(code, f"the portal answered {code or 'an unknown result'}"))
        raise DeliveryRefused(f"page does not have the {endpoint} envelope (head with RESULT, then row)")
    if page.head_code is None:
        raise DeliveryRefused(f"page does not have the {endpoint} envelope: no head with a RESULT CODE")
    if page.head_code != "INFO-000":
        raise DeliveryRefused(_GGDATA_RESULTS.get(page.head_code, f"the portal answered {page.head_code}"))
    if page.row_kind is None:
        raise DeliveryRefused(f"page does not have the {endpoint} envelope: no row list")
    if page.row_kind != "start_array":
        raise DeliveryRefused("page's 'row' is not a list")
    yield records_to_batch(contract, records, bad)

"""Cut a delimited text file into records before anything parses it, in bounded memory.

Partners' CSV is hostile until proven otherwise: bare CR line ends, fields of megabytes, an
opening quote that never closes and would swallow the rest of the file into one value. A
parser fed such a file either fails whole or loses rows without saying which. So the bytes are
framed here first, vectorized with numpy over blocks of the file:

- a record is one physical line (LF, CRLF or a bare CR); empty lines are not records;
- a line whose quotes do not balance opens a quoted value that may run over the next lines:
  it is joined with them until its quotes balance, but only if no line in between is a whole
  record of its own, and the joined record then has the header's number of fields and stays
  under the record limit. Otherwise that one line is
  refused (``row:unbalanced_quote``) and the next line starts afresh, so a stray quote costs
  one row, not the rest of the file;
- a record longer than ``max_record_bytes`` is refused (``row:too_long``) and skipped without
  being held in memory; its first bytes are kept as its text, the whole of it is in landing;
- a record whose field count (delimiters outside quotes) differs from the header's is refused
  (``row:too_few_fields`` / ``row:too_many_fields``).

What remains is handed on as bytes in the file's own encoding, one record per line, with each
record's number and where it lies in those bytes. Nothing here decodes text: the parser reads
the fields as bytes and decodes them column by column (``csv_reader``), which refuses a record
that is not text in the file's encoding (``row:bad_encoding``). Decoding the whole file first
cost more than parsing it (CP949: 0.75 s of Python codec for 1M rows, then 0.24 s to re-encode
as UTF-8), while most columns are ASCII and the rest repeat a few values.
The framing relies on the delimiter, quote and line-end bytes never occurring inside a
multi-byte character, which holds for UTF-8 and CP949 (whose trail bytes are ≥ 0x41).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from lcdp.errors import HeaderTooLong

_QUOTE, _LF, _CR = 0x22, 0x0A, 0x0D
#: How much of a refused over-long record is kept as its text in quarantine.
TEXT_KEPT_BYTES = 64 * 1024
#: How many physical lines a quoted value may run over before its opening quote is taken to be
#: unbalanced.
MAX_LINES_PER_RECORD = 1000


@dataclass
class Refused:
    """A record refused while framing: its number, its text (as far as kept) and why."""

    row_number: int
    text: str
    reason: str


@dataclass
class Framed:
    """A run of records: the good ones as lines of the file's bytes, and the refused ones."""

    data: bytes  # good records, in the file's encoding, one per line
    numbers: np.ndarray  # record number of each good record, in order
    refused: list[Refused] = field(default_factory=list)
    starts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # each good record's
    stops: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # bytes in ``data``

    def record(self, i: int) -> bytes:
        """The bytes of the ``i``-th good record (without its line end)."""
        return self.data[int(self.starts[i]):int(self.stops[i])]


def read_header_line(fh: BinaryIO, max_bytes: int) -> bytes:
    """The first line of the file (without its line end), leaving ``fh`` at the next line."""
    start = fh.tell()
    head = fh.read(max_bytes + 2)
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    if not ends:
        if len(head) > max_bytes:
            raise HeaderTooLong(f"the header line is longer than {max_bytes} bytes")
        fh.seek(start + len(head))
        return head
    end = min(ends)
    after = end + (2 if head[end:end + 2] == b"\r\n" else 1)
    fh.seek(start + after)
    return head[:end]


class RecordFramer:
    """Frames the records of an open file (positioned after its header) block by block."""

    def __init__(self, delimiter: str, expected_fields: int, encoding: str, block_bytes: int,
                 max_record_bytes: int) -> None:
        self.delimiter = ord(delimiter)
        self.expected = expected_fields
        self.encoding = encoding
        self.block_bytes = max(block_bytes, 64 * 1024)
        self.max_record = max_record_bytes
        self.next_number = 1

    # ----------------------------------------------------------------- the stream

    def frames(self, fh: BinaryIO) -> Iterator[Framed]:
        """Every record of the file, in runs of about one block."""
        self._pushback = b""
        carry = b""
        while True:
            block = self._read(fh)
            eof = not block
            buf = carry + block if carry else block
            carry = b""
            if not buf:
                return
            if eof:
                body = buf
            else:
                last = max(buf.rfind(b"\n"), buf.rfind(b"\r"))
                if last < 0:
                    if len(buf) > self.max_record:
                        yield self._skip_long_line(fh, buf)
                    else:
                        carry = buf
                    continue
                body, carry = buf[:last + 1], buf[last + 1:]
            framed, leftover = self._frame(body, final=eof)
            if leftover:
                carry = leftover + carry
            if framed.numbers.size or framed.refused:
                yield framed
            if eof and not carry:
                return

    def _read(self, fh: BinaryIO) -> bytes:
        if self._pushback:
            data, self._pushback = self._pushback, b""
            return data
        return fh.read(self.block_bytes)

    def _skip_long_line(self, fh: BinaryIO, buf: bytes) -> Framed:
        """Refuse an over-long line without holding it: read on to its end, keeping its start."""
        kept, size = buf[:TEXT_KEPT_BYTES], len(buf)
        while True:
            block = self._read(fh)
            if not block:
                break
            ends = [i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0]
            if ends:
                size += min(ends)
                self._pushback = block[min(ends):]  # the next lines, read again
                break
            size += len(block)
        refused = Refused(self.next_number, self._text(kept, size), "row:too_long")
        self.next_number += 1
        return Framed(b"", np.empty(0, np.int64), [refused])

    # ----------------------------------------------------------------- one body of whole lines

    def _text(self, raw: bytes, size: int | None = None) -> str:
        text = raw[:TEXT_KEPT_BYTES].decode(self.encoding, errors="replace")
        total = size if size is not None else len(raw)
        if total > TEXT_KEPT_BYTES:
            text += f"… [{total} bytes in all; the whole record is in landing]"
        return text

    def _frame(self, body: bytes, final: bool) -> tuple[Framed, bytes]:
        """Frame the whole lines of ``body``. Returns the records and, when a quoted value may
        run past the end of ``body`` (and ``final`` is false), the bytes to read again with
        the next block."""
        a = np.frombuffer(body, np.uint8)
        n = len(a)
        # Line ends: LF, CRLF (one end, at its LF) or a bare CR. Each test below is one C pass
        # over the block; the rare shapes (bare CR, quotes) cost only when they are there.
        terminators = a == _LF
        cr_at = np.flatnonzero(a == _CR) if b"\r" in body else np.empty(0, np.int64)
        after_cr = np.minimum(cr_at + 1, max(n - 1, 0))
        bare_cr = cr_at[(cr_at + 1 >= n) | (a[after_cr] != _LF)]
        terminators[bare_cr] = True
        ends = np.flatnonzero(terminators)  # index of each line's last terminator byte
        if n and body[-1:] not in (b"\n", b"\r"):
            ends = np.append(ends, n)  # the last line of the file, without a line end
        starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.empty(0, np.int64)
        stops = ends.copy()  # content end: before the terminator
        if len(cr_at) > len(bare_cr):  # CRLF line ends
            inside = ends[(ends < n) & (ends > 0)]
            crlf = inside[(a[inside] == _LF) & (a[inside - 1] == _CR)]
            stops[np.searchsorted(ends, crlf)] -= 1
        delims = np.flatnonzero(a == self.delimiter)
        # delimiters before each line's end, less those before the previous line's end (the
        # bytes between a line's end and the next line's start are line-end bytes)
        before_stop = np.searchsorted(delims, stops)
        line_fields = np.diff(before_stop, prepend=0) + 1
        if b'"' in body:
            quote_at = np.flatnonzero(a == _QUOTE)

            def quotes_before(index):
                return np.searchsorted(quote_at, index)

            line_quotes = quotes_before(stops) - quotes_before(starts)
            for k in np.flatnonzero((line_quotes > 0) & (line_quotes % 2 == 0)):
                # delimiters inside quotes do not separate fields
                s_k, e_k = int(starts[k]), int(stops[k])
                inner = delims[np.searchsorted(delims, s_k):np.searchsorted(delims, e_k)]
                line_fields[k] = int(((quotes_before(inner) - quotes_before(s_k)) % 2 == 0).sum()) + 1
        else:
            line_quotes = np.zeros(len(starts), np.int64)

            def quotes_before(index):
                return np.zeros_like(index) if isinstance(index, np.ndarray) else 0

        spans: list[tuple[int, int]] = []  # byte spans of good records
        numbers: list[int] = []
        refused: list[Refused] = []
        odd = line_quotes % 2 == 1
        simple = ~odd & (stops - starts <= self.max_record) & (line_fields == self.expected) & (stops > starts)
        if simple.all():  # the common case: every line a good record
            count = len(starts)
            numbers_arr = np.arange(self.next_number, self.next_number + count, dtype=np.int64)
            self.next_number += count
            good = self._assemble(body, None, numbers_arr, refused, starts=starts, stops=stops)
            return good, b""
        i, count = 0, len(starts)
        while i < count:
            s, e = int(starts[i]), int(stops[i])
            if e == s:  # empty line: not a record
                i += 1
                continue
            if e - s > self.max_record:
                refused.append(Refused(self.next_number, self._text(body[s:e]), "row:too_long"))
            elif not odd[i]:
                fields = int(line_fields[i])
                if fields == self.expected:
                    spans.append((s, e))
                    numbers.append(self.next_number)
                else:
                    reason = "row:too_few_fields" if fields < self.expected else "row:too_many_fields"
                    refused.append(Refused(self.next_number, self._text(body[s:e]), reason))
            else:
                j, closed = i, False
                while j + 1 < count and j - i < MAX_LINES_PER_RECORD and int(stops[j]) - s <= self.max_record:
                    j += 1
                    if int(quotes_before(stops[j]) - quotes_before(s)) % 2 == 0:
                        closed = True
                        break
                    if not odd[j] and line_fields[j] == self.expected:
                        break  # a whole record of its own: the quote before it was a stray
                if not closed and not final and j + 1 >= count and int(stops[j]) - s <= self.max_record:
                    # the quoted value may go on in the next block: frame it again with it
                    framed = self._assemble(body, spans, np.array(numbers, np.int64), refused)
                    return framed, body[s:]
                if closed:
                    e2 = int(stops[j])
                    span_delims = delims[(delims >= s) & (delims < e2)]
                    fields = int(((quotes_before(span_delims) - quotes_before(s)) % 2 == 0).sum()) + 1
                    if fields == self.expected and e2 - s <= self.max_record:
                        spans.append((s, e2))
                        numbers.append(self.next_number)
                        self.next_number += 1
                        i = j + 1
                        continue
                refused.append(Refused(self.next_number, self._text(body[s:e]), "row:unbalanced_quote"))
            self.next_number += 1
            i += 1
        return self._assemble(body, spans, np.array(numbers, np.int64), refused), b""

    def _assemble(self, body: bytes, spans: list[tuple[int, int]] | None, numbers: np.ndarray,
                  refused: list[Refused], starts: np.ndarray | None = None,
                  stops: np.ndarray | None = None) -> Framed:
        """The good records and where each lies in the handed-on bytes.

        ``spans=None`` means every line of ``body`` is a good record (at ``starts``/``stops``):
        ``body`` is handed on as it is, without a copy."""
        refused.sort(key=lambda r: r.row_number)
        if spans is None:
            return Framed(body, numbers, refused, starts, stops)  # type: ignore[arg-type]
        if not spans:
            return Framed(b"", numbers, refused)
        bounds = np.array(spans, np.int64).reshape(-1, 2)
        lengths = bounds[:, 1] - bounds[:, 0]
        new_starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
        data = b"\n".join(body[s:e] for s, e in spans) + b"\n"
        return Framed(data, numbers, refused, new_starts, new_starts + lengths)

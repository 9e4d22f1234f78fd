"""A product as a file a consumer opens: CSV that spreadsheet software reads right, Parquet,
or JSON.

- CSV is UTF-8 with a byte-order mark, so Excel shows Korean instead of mojibake, and every
  text cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab,
  carriage return first) is prefixed with a quote (OWASP's CSV-injection advice).
- JSON is an array of row objects, UTF-8, Korean unescaped, null for a suppressed measure.
- Parquet keeps the product's types (dates as dates).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ("csv", "parquet", "json")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
               "json": "application/json"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A text cell that cannot start a formula: such text is prefixed with a quote."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def csv_bytes(table: pa.Table, bom: bool = True) -> bytes:
    """The rows as CSV (header first); ``bom`` for a whole file, not for a page after the first."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(n) for n in table.column_names])
    for row in table.to_pylist():
        writer.writerow([_cell(v) for v in row.values()])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def json_rows(table: pa.Table) -> list[dict]:
    return [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]


def json_bytes(table: pa.Table) -> bytes:
    return json.dumps(json_rows(table), ensure_ascii=False).encode("utf-8")


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def encode(table: pa.Table, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    return {"csv": csv_bytes, "parquet": parquet_bytes, "json": json_bytes}[fmt](table)


def write(table: pa.Table, folder: Path, name: str, fmt: str) -> Path:
    """Write the product's file into ``folder`` (made if needed) as ``<name>.<fmt>``, atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.{fmt}"
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(encode(table, fmt))
    partial.replace(target)
    return target


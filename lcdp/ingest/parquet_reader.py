"""Parquet deliveries (gjf): read in row batches, every contract column turned into the text
a partner would have written, so validation treats all formats alike.

Refused whole, with one line: a file that is not Parquet, repeats a column name, lacks a
contract column, holds nested values (list, struct, map) in one, or whose data cannot be read
past some row (a corrupt page). Per row: binary values that are not UTF-8 (``row:bad_encoding``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lcdp.contracts import Contract
from lcdp.errors import DeliveryRefused
from lcdp.ingest.raw import Malformed, RawBatch, ReadPlan


def _as_text(column: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, set[int]]:
    """The column as strings, and the rows whose value is not valid text."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:  # Parquet does not check that its strings are UTF-8; every later step would
            column.validate(full=True)
        except pa.ArrowInvalid:
            column = column.cast(pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary())
    try:
        return pc.cast(column, pa.string()), set()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values, bad = [], set()
    for i, value in enumerate(column.to_pylist()):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                bad.add(i)
                value = None
        values.append(None if value is None else str(value))
    return pa.array(values, pa.string()), bad


def _row_text(batch: pa.RecordBatch, names: list[str], i: int) -> str:
    row = {}
    for name in names:
        column = batch.column(name)
        if pa.types.is_string(column.type):  # its bytes as they are: they may not be UTF-8
            column = column.view(pa.binary())
        elif pa.types.is_large_string(column.type):
            column = column.view(pa.large_binary())
        value = column[i].as_py()
        row[name] = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    return json.dumps(row, ensure_ascii=False, default=str)


def read_parquet(path: Path, contract: Contract, plan: ReadPlan, batch_rows: int = 200_000) -> Iterator[RawBatch]:
    if path.stat().st_size == 0:
        raise DeliveryRefused("file is empty")
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
    except Exception as exc:
        raise DeliveryRefused(f"file is not readable Parquet: {str(exc).splitlines()[0]}") from exc
    names = schema.names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DeliveryRefused(f"Parquet file repeats column name(s) {', '.join(repeated)}")
    wanted = contract.column_names
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DeliveryRefused(f"Parquet file lacks column(s) {', '.join(missing)} (expected: {', '.join(wanted)})")
    nested = [f"{f.name} ({f.type})" for f in schema if f.name in wanted and pa.types.is_nested(f.type)]
    if nested:
        raise DeliveryRefused(f"Parquet column(s) {', '.join(nested)} hold nested values; each must be a number, "
                              "a date or text")
    extra = [n for n in names if n not in wanted]
    if extra:
        plan.notes.append(f"extra column(s) ignored: {', '.join(extra)}")
    next_row = 1
    batches = pf.iter_batches(batch_size=batch_rows, columns=wanted)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # a corrupt page or footer: Arrow and the OS have many ways to say it
            raise DeliveryRefused(f"Parquet data cannot be read after row {next_row - 1}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        columns, bad = {}, set()
        for name in wanted:
            columns[name], bad_here = _as_text(batch.column(name))
            bad |= bad_here
        n = batch.num_rows
        numbers = np.arange(next_row, next_row + n)
        table = pa.table(columns)
        malformed = []
        if bad:
            keep = np.array([i for i in range(n) if i not in bad], np.int64)
            malformed = [Malformed(int(numbers[i]), _row_text(batch, wanted, i), "row:bad_encoding") for i in sorted(bad)]
            table, numbers = table.take(keep), numbers[keep]
        yield RawBatch(table, numbers, malformed)
        next_row += n

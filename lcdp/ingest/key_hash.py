"""64-bit hashes of a batch's keys, to find the few rows whose key may repeat.

Finding duplicate keys among a whole batch with the engine's hash aggregate costs about
56 bytes of memory per row (a 2 GiB delivery, 25.7M rows: 1.4 GiB, however small the engine's
pool), where the rest of the ingest is bounded by its block size. So the ingest keeps only a
64-bit hash per staged row (8 bytes), finds the hashes seen more than once, and the engine
ranks just the rows carrying them (``lcdp.ingest.duplicates``), which include every real duplicate.
A collision only adds a candidate that the exact comparison then keeps: hash quality costs
time, never a wrong answer.

The hash is FNV-1a over each key column's UTF-8 bytes (non-string keys by their string
form), computed column-wise with numpy: one vectorized step per byte position, over the rows
still that long, so the work is the key bytes themselves.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_OFFSET = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)
_NULL = np.uint64(0x9E3779B97F4A7C15)  # mixed in for a null value, so null and "" differ


def _column_hash(values: pa.Array, h: np.ndarray) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    nulls = values.is_null().to_numpy(zero_copy_only=False)
    values = pc.fill_null(values, "")
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset:values.offset + len(values) + 1]
    data = values.buffers()[2]
    data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    with np.errstate(over="ignore"):
        # the length first: ("ab", "c") and ("a", "bc") differ across columns
        h = (h ^ lengths.astype(np.uint64)) * _PRIME
        h[nulls] = (h[nulls] ^ _NULL) * _PRIME
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = lengths[order]
        for j in range(int(sorted_lengths[-1]) if len(order) else 0):
            live = order[np.searchsorted(sorted_lengths, j, side="right"):]  # rows longer than j
            h[live] = (h[live] ^ data[starts[live] + j]) * _PRIME
    return h


def key_hashes(table: pa.Table, key: list[str], salt: int = 0) -> np.ndarray:
    """One uint64 per row of ``table`` from its ``key`` columns (and ``salt``, e.g. the
    delivery's place in its batch when a key need only be unique within a delivery)."""
    with np.errstate(over="ignore"):
        h = np.full(table.num_rows, _OFFSET ^ np.uint64(salt), np.uint64) * _PRIME
    for name in key:
        h = _column_hash(table.column(name), h)
    return h


class KeyHashes:
    """The hashes of every row staged so far in a batch; appended to from worker threads."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._lock = threading.Lock()

    def add(self, hashes: np.ndarray) -> None:
        with self._lock:
            self._parts.append(hashes)

    def take(self) -> list[np.ndarray]:
        """The hashes added so far; forgets them (their memory goes with the caller)."""
        with self._lock:
            parts, self._parts = self._parts, []
        return parts


def repeated(sets: list[KeyHashes]) -> np.ndarray:
    """The hashes held by more than one row of ``sets`` together, sorted and distinct."""
    parts = [part for s in sets for part in s.take()]
    if not parts:
        return np.zeros(0, np.uint64)
    every = np.concatenate(parts)
    del parts
    every.sort()
    return np.unique(every[1:][every[1:] == every[:-1]])

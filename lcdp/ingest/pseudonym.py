"""Keyed pseudonymization of identifiers (BRN, merchant number, card token) at ingest.

HMAC-SHA256 under the platform secret, truncated to 128 bits (32 hex characters). The kind
of identifier is mixed into the message so a BRN and a merchant number with the same digits
never collide, while the same BRN from two partners gets the same key: that is what lets the
lake join partners without ever holding a raw id.
"""

from __future__ import annotations

import hashlib
import threading

import pyarrow as pa
import pyarrow.compute as pc


def normalize(kind: str, value: str) -> str:
    """Canonical form before hashing: BRNs without hyphens or spaces."""
    if kind == "business":
        return value.replace("-", "").replace(" ", "")
    return value.strip()


class Pseudonymizer:
    """Maps raw identifiers to stable pseudonyms under one key. Safe to share between the
    ingest's worker threads.

    Pseudonyms already computed are kept per kind as two Arrow arrays (raw values and their
    pseudonyms), so a column is looked up in one vectorized pass and only values never seen
    go through HMAC one by one: card tokens and merchant numbers repeat across a delivery's
    blocks (1M kona rows hold 52k of them), and a Python call per row cost more than all the
    hashing."""

    #: Pseudonyms remembered per kind; beyond it, new values are hashed without being kept.
    CACHE_LIMIT = 500_000  # about 40 MiB per kind

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymization key must be at least 16 bytes")
        # HMAC (RFC 2104) from two hashlib states, keyed once: copying them is a C call, where
        # the hmac module's copy and hexdigest run in Python (a third of the hashing's cost)
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._known: dict[str, tuple[pa.Array, pa.Array]] = {}
        self._lock = threading.Lock()

    def one(self, kind: str, value: str) -> str:
        inner = self._inner.copy()
        inner.update(f"{kind}:{normalize(kind, value)}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]

    def _remembered(self, kind: str) -> tuple[pa.Array, pa.Array]:
        empty = pa.array([], pa.string())
        return self._known.get(kind, (empty, empty))

    def column(self, kind: str, values: pa.Array) -> pa.Array:
        """Pseudonymize a string column; nulls stay null."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        raw, hashed = self._remembered(kind)
        at = pc.index_in(values, value_set=raw)
        missing = pc.and_(pc.is_null(at), pc.is_valid(values))
        if not pc.any(missing).as_py():
            return pc.take(hashed, at)
        new = pc.unique(values.filter(missing))
        digests = pa.array([self.one(kind, v) for v in new.to_pylist()], pa.string())
        with self._lock:  # another thread may have added some of them meanwhile
            raw, hashed = self._remembered(kind)
            fresh = pc.invert(pc.is_in(new, value_set=raw))
            if len(raw) + len(new) <= self.CACHE_LIMIT:
                raw = pa.concat_arrays([raw, new.filter(fresh)])
                hashed = pa.concat_arrays([hashed, digests.filter(fresh)])
                self._known[kind] = (raw, hashed)
        if len(raw) and pc.all(pc.is_in(new, value_set=raw)).as_py():
            return pc.take(hashed, pc.index_in(values, value_set=raw))
        # the memory is full: this column's values from its own lookup
        both_raw, both_hashed = pa.concat_arrays([raw, new]), pa.concat_arrays([hashed, digests])
        return pc.take(both_hashed, pc.index_in(values, value_set=both_raw))

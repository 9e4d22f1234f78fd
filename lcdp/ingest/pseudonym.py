"""Keyed pseudonymization of identifiers (BRN, merchant number, card token) at ingest.

HMAC-SHA256 under the platform secret, truncated to 128 bits (32 hex characters). The kind
of identifier is mixed into the message so a BRN and a merchant number with the same digits
never collide, while the same BRN from two partners gets the same key: that is what lets the
lake join partners without ever holding a raw id.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc


def normalize(kind: str, value: str) -> str:
    """Canonical form before hashing: BRNs without hyphens or spaces."""
    if kind == "business":
        return value.replace("-", "").replace(" ", "")
    return value.strip()


class Pseudonymizer:
    """Maps raw identifiers to stable pseudonyms under one key."""

    #: Remembered pseudonyms per instance; one delivery's cardholders and merchants fit easily.
    CACHE_LIMIT = 500_000  # about 100 MiB

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymization key must be at least 16 bytes")
        self._inner = hmac.new(key, digestmod=hashlib.sha256)
        self._cache: dict[tuple[str, str], str] = {}

    def one(self, kind: str, value: str) -> str:
        cached = self._cache.get((kind, value))
        if cached is not None:
            return cached
        mac = self._inner.copy()
        mac.update(f"{kind}:{normalize(kind, value)}".encode())
        digest = mac.hexdigest()[:32]
        if len(self._cache) < self.CACHE_LIMIT:
            self._cache[(kind, value)] = digest
        return digest

    def column(self, kind: str, values: pa.Array) -> pa.Array:
        """Pseudonymize a string column; nulls stay null. Each distinct value is hashed once
        (card tokens repeat across a cardholder's payments)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        uniques = encoded.dictionary.to_pylist()
        hashed = pa.array([self.one(kind, v) for v in uniques], pa.string())
        return pc.take(hashed, encoded.indices)

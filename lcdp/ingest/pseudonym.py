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
    """Maps raw identifiers to stable pseudonyms under one key. Safe to share between the
    ingest's worker threads (a pseudonym computed twice at once is the same string)."""

    #: Remembered pseudonyms per kind; one delivery's cardholders and merchants fit easily.
    CACHE_LIMIT = 500_000  # about 100 MiB per kind

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymization key must be at least 16 bytes")
        self._inner = hmac.new(key, digestmod=hashlib.sha256)
        self._cache: dict[str, dict[str, str]] = {}

    def _hash(self, kind: str, value: str) -> str:
        mac = self._inner.copy()
        mac.update(f"{kind}:{normalize(kind, value)}".encode())
        return mac.hexdigest()[:32]

    def one(self, kind: str, value: str) -> str:
        cache = self._cache.setdefault(kind, {})
        cached = cache.get(value)
        if cached is None:
            cached = self._hash(kind, value)
            if len(cache) < self.CACHE_LIMIT:
                cache[value] = cached
        return cached

    def column(self, kind: str, values: pa.Array) -> pa.Array:
        """Pseudonymize a string column; nulls stay null. Each distinct value is hashed once
        (card tokens repeat across a cardholder's payments), and looked up in bulk: a call
        per row cost more than the hashing (1M kona rows: 0.9 s of 1.3 s)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        uniques = encoded.dictionary.to_pylist()
        cache = self._cache.setdefault(kind, {})
        hashed = [cache.get(v) for v in uniques]
        for i, digest in enumerate(hashed):
            if digest is None:
                hashed[i] = self.one(kind, uniques[i])
        return pc.take(pa.array(hashed, pa.string()), encoded.indices)

"""Ingestion: a partner's delivery from its bytes to bronze and quarantine.

The modules follow a delivery's path: ``landing`` (immutable bytes with their sha256) →
``readers`` (each native format, streamed) → ``validation`` (the contract, vectorized) →
``pseudonym`` (keyed HMAC of identifiers) → ``pipeline`` (the whole ingest, with receipts).
The pipeline's entry points are importable from here; they are loaded on first use, so that
importing ``lcdp.ingest.landing`` alone stays light.
"""

from __future__ import annotations

from typing import Any

_PIPELINE = ("ingest_files", "ingest_file", "ingest_streams", "ingest_landed", "new_upload_id", "Progress")

__all__ = list(_PIPELINE)


def __getattr__(name: str) -> Any:
    if name in _PIPELINE:
        from lcdp.ingest import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'lcdp.ingest' has no attribute {name!r}")

"""A product's rows at one Delta version, read once per process: a version never changes, so
the export API's pages and the dashboard's figures share one read (at 1000-row pages, reading
the table anew took most of a request's time)."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa


@lru_cache(maxsize=16)
def version_rows(uri: str, version: int) -> pa.Table:
    """A product's rows at one version: a version never changes, so it is read once per process
    (at 1000-row pages, reading the table anew took most of a request's time)."""
    from deltalake import DeltaTable

    return DeltaTable(uri, version=version).to_pyarrow_table()

"""Locks that serialize writers of one lake table across threads and processes.

Delta itself lets concurrent appends all commit, which is right for rows that cannot collide,
but a delivery's duplicate check reads bronze and then appends to it: two deliveries of the
same ids at the same moment would each find the other's rows absent and both commit them.
So the check and the commits of one dataset run under one lock:

- with PostgreSQL metadata (production, possibly several machines), a session-level
  ``pg_advisory_lock``: the server releases it if the holder's connection dies;
- with SQLite metadata (one machine), an exclusive ``flock`` on a file under the home: the
  kernel releases it if the holder dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lcdp import log, metadata
from lcdp.settings import Settings

_log = log.get(__name__)


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"lcdp:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def table_lock(settings: Settings, name: str) -> Iterator[None]:
    """Hold the write lock of lake table ``name`` (waits while another writer holds it)."""
    started = time.perf_counter()
    url = settings.metadata_db_url
    if url.startswith("postgresql"):
        from sqlalchemy import text

        key = _advisory_key(name)
        with metadata.engine(url).connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            conn.commit()
            _log.debug("lock.acquired", table=name, waited_s=round(time.perf_counter() - started, 3))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
        return
    folder = settings.home_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        _log.debug("lock.acquired", table=name, waited_s=round(time.perf_counter() - started, 3))
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

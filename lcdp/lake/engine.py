"""The Spark session: embedded LakeSail on a free loopback port, or a configured Spark Connect URL.

Job code only ever sees a ``pyspark.sql.SparkSession`` speaking Spark Connect, so the same
jobs run on the embedded engine and on a Spark 4 cluster with Delta.

Memory: what holds the embedded engine's pool, and why small worlds ran it dry (issue 15).

- Sail's pool (``SAIL_RUNTIME__MEMORY_POOL__TYPE=fair``, size ``LCDP_ENGINE_MEMORY_BYTES``)
  gives each spill-capable operator instance (pool − unspillable use) / n, where n counts
  every such instance of every running query. An operator that can spill only what it has
  already buffered fails at once when its *first* allocation exceeds that slice ("Failed to
  allocate … FinalHashAggregateStream … with 0.0 B already allocated"). Join build sides
  (``HashJoinInput``) cannot spill at all. The greedy pool avoids the slices but lets spillers
  starve the rest; a larger pool only moves the edge.
- Three plans asked for one large piece:

  1. ``gold.merchant_month_features`` as one query: 41 aggregates, 18 windows, 13 hash joins.
     The history frame was read twice by the guarantee join and twice by the registry join,
     and the engine shares no sub-plan between two uses, so its window chain ran three times
     at once: ~56 spill-capable instances, 18.3 MB each of 1 GiB, while the final aggregate's
     first batch asked 27 / 40 / 65 MB at 300 merchants × 24 / 36 / 60 months. It grows with
     history (each group's window state), not with merchants; larger worlds passed because
     their partial aggregates meet memory pressure and emit in small batches, where a small
     world hands the final aggregate all its groups at once.
  2. ``gold.spending_cube`` counted two distinct columns per cell; with more than one distinct
     column the engine keeps each group's distinct values as a list inside one accumulator,
     whose first batch asked 114 MB at 300 × 24 (it passed 1 GiB, failed 256 MiB).
  3. ``lcdp fuse --full`` over an existing ``silver.transactions`` found stale rows with an
     anti-join of the whole table against the whole source: an unspillable build side of
     166 MB per partition at 300 × 60.

- The fixes are in the plans: the features job stages (materializes) the monthly aggregates,
  the repeat-customer counts and the history frame before they are joined (``stage`` in
  ``jobs.gold_features``), so no window chain runs twice and no query holds more than a few
  operators; the cube counts distinct (cell, card) and (cell, merchant) pairs with ordinary
  group-bys, which spill; a full recompute overwrites instead of anti-joining
  (``catalog.replace_rows``). Measured from scratch (``lcdp bench fusion --grid``, docs/benchmarks.md):
  every cell of merchants {300, 1000, 5000} × months {6, 12, 24, 60} fuses at the default
  pool and equals DuckDB's gold; 300 × 24 also fuses under a 256 MiB pool and 128 MiB
  (64 MiB fails, in one line, in 9 s).
- The pool's default is a share of the machine (``lcdp.settings.default_engine_memory_bytes``).
  A step that still runs out fails with one line (``permanent_failure``) and no retries.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from lcdp import log
from lcdp.errors import EngineError
from lcdp.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_log = log.get(__name__)
_lock = threading.Lock()
_server = None
_session: SparkSession | None = None
_remote: str | None = None


#: Engine messages that a retry would only repeat (the same plan meets the same pool).
_RESOURCE_ERRORS = ("Failed to allocate", "Resources exhausted", "ResourcesExhausted", "memory pool")


def permanent_failure(exc: BaseException) -> str | None:
    """One line saying why ``exc`` will fail again on retry, or None when a retry may pass
    (I/O, a busy metadata DB): the engine running out of its memory pool, or a contract error.
    The engine's message is kept, its plan (which can run to megabytes) is not."""
    from lcdp.contracts import ContractError

    if isinstance(exc, ContractError):
        return str(exc).splitlines()[0]
    text = str(exc)
    for marker in _RESOURCE_ERRORS:
        at = text.find(marker)
        if at >= 0:
            line = text[at:].splitlines()[0][:400]
            return (f"the engine ran out of its memory pool ({line}); raise LCDP_ENGINE_MEMORY_BYTES "
                    "or see lcdp.lake.engine on memory")
    return None


def _start_sail(settings: Settings) -> str:
    """Start an in-process Sail Spark Connect server; return its ``sc://`` URL.

    Sail reads its configuration from ``SAIL_*`` variables when it starts. Its default memory
    pool is unbounded; a "fair" pool with a limit makes aggregations and joins over large
    deliveries spill to disk instead of growing with the input.
    """
    global _server
    # Sail logs every session at INFO otherwise, and warns of the tasks it aborts on a clean stop
    os.environ.setdefault("RUST_LOG", "warn,sail_common::actor=error")
    os.environ.setdefault("SAIL_RUNTIME__MEMORY_POOL__TYPE", "fair")
    # zstd at level 1 instead of Sail's 3: writing silver.transactions took 12 % less (5.4M
    # payments: 15.7 s against 17.6 s) for files about as small
    os.environ.setdefault("SAIL_PARQUET__COMPRESSION", "zstd(1)")
    # Sail drops a session idle for 900 s; this server is the process's own, and a process
    # that waits longer between queries (the service between requests, a test session while a
    # 2000-business demo runs for 11 minutes) would find its session gone ("session ... is not
    # running") on the next one. A week: the session lives as long as the process.
    os.environ.setdefault("SAIL_SPARK__SESSION_TIMEOUT_SECS", str(7 * 24 * 3600))
    # Always from this process's settings: a child process (an Airflow task, `lcdp fuse` run by
    # a test) inherits the parent's SAIL_ variables, and must not keep the parent's bound.
    os.environ["SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE"] = str(settings.engine_memory_bytes)
    os.environ["SAIL_RUNTIME__MEMORY_POOL__GREEDY__MAX_SIZE"] = str(settings.engine_memory_bytes)
    try:
        from pysail.spark import SparkConnectServer

        server = SparkConnectServer(ip="127.0.0.1", port=0)
        server.start(background=True)
        host, port = server.listening_address
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise EngineError(
            f"could not start the embedded Sail engine ({exc!r}); check that 'pysail' is "
            "installed for this Python, or set LCDP_SPARK_REMOTE to a Spark Connect URL"
        ) from exc
    _server = server
    _log.info("engine.started", engine="sail", address=f"{host}:{port}")
    return f"sc://{host}:{port}"


def _shared_server(settings: Settings) -> str | None:
    """The Spark Connect server ``lcdp up`` runs for this home, when it is running: a command
    typed beside the services uses the same engine as the DAG tasks."""
    from lcdp.runstate import running_url

    return running_url(settings, "spark")


def _check_reachable(remote: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a Spark Connect URL nobody answers (pyspark itself retries for minutes)."""
    parsed = urlparse(remote.replace("sc://", "tcp://", 1))
    host, port = parsed.hostname or "localhost", parsed.port or 15002
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise EngineError(
            f"cannot reach the Spark Connect server at {host}:{port} ({exc.strerror or exc}); "
            "start it, fix LCDP_SPARK_REMOTE, or leave it empty for the embedded engine"
        ) from exc


def spark(settings: Settings | None = None) -> SparkSession:
    """The process's Spark session, started on first use and reused afterwards."""
    global _session, _remote
    with _lock:
        if _session is not None:
            return _session
        settings = settings or Settings()
        remote = settings.spark_remote or _shared_server(settings) or _start_sail(settings)
        _check_reachable(remote)
        from pyspark.sql import SparkSession

        try:
            session = SparkSession.builder.remote(remote).getOrCreate()
            session.conf.set("spark.sql.session.timeZone", "UTC")
        except Exception as exc:
            raise EngineError(f"could not open a Spark Connect session at {remote}: {exc}") from exc
        _session, _remote = session, remote
        atexit.register(stop)
        return session


def running() -> bool:
    """Whether this process has a session open (a caller that starts the engine for a while
    stops it afterwards only if it was not already running)."""
    return _session is not None


def stop() -> None:
    """Stop the session, then the embedded server (in that order, or pyspark's exit hook
    keeps retrying against a closed port)."""
    global _session, _server, _remote
    with _lock:
        if _session is not None:
            try:
                _session.stop()
            except Exception:  # pragma: no cover - best effort at shutdown
                pass
            _session = None
        if _server is not None:
            _server.stop()
            _server = None
            _log.info("engine.stopped", engine="sail")
        _remote = None

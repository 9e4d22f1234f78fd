"""The Spark session: embedded LakeSail on a free loopback port, or a configured Spark Connect URL.

Job code only ever sees a ``pyspark.sql.SparkSession`` speaking Spark Connect, so the same
jobs run on the embedded engine and on a Spark 4 cluster with Delta.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
from urllib.parse import urlparse
from typing import TYPE_CHECKING

from lcdp import log
from lcdp.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_log = log.get(__name__)
_lock = threading.Lock()
_server = None
_session: SparkSession | None = None
_remote: str | None = None


class EngineError(RuntimeError):
    """The Spark engine could not be started or reached."""


def _start_sail(settings: Settings) -> str:
    """Start an in-process Sail Spark Connect server; return its ``sc://`` URL.

    Sail reads its configuration from ``SAIL_*`` variables when it starts. Its default memory
    pool is unbounded; a "fair" pool with a limit makes aggregations and joins over large
    deliveries spill to disk instead of growing with the input.
    """
    global _server
    os.environ.setdefault("RUST_LOG", "warn")  # Sail logs every session at INFO otherwise
    os.environ.setdefault("SAIL_RUNTIME__MEMORY_POOL__TYPE", "fair")
    os.environ.setdefault("SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE", str(settings.engine_memory_bytes))
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
        remote = settings.spark_remote or _start_sail(settings)
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

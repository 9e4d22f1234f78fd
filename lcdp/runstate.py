"""Which services ``lcdp up`` runs for a home, as their state files say: each service's pid,
start time, command and address in ``<home>/run/<service>.json``.

``lcdp.ops.supervisor`` writes these files; anything below it that needs to know whether a
service runs (the engine, to use the home's Spark Connect server instead of starting its
own) reads them here, without importing the supervisor.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import psutil
from pydantic import BaseModel

from lcdp.settings import Settings


class ServiceState(BaseModel):
    name: str
    pid: int
    create_time: float
    command: list[str]
    url: str
    log: str
    started_at: float


def run_dir(settings: Settings) -> Path:
    return settings.home_dir / "run"


def state_file(settings: Settings, name: str) -> Path:
    return run_dir(settings) / f"{name}.json"


def read_state(settings: Settings, name: str) -> ServiceState | None:
    try:
        return ServiceState.model_validate_json(state_file(settings, name).read_text())
    except (OSError, ValueError):
        return None


def alive(state: ServiceState) -> bool:
    """The recorded process is still running (not a new process that reused its pid)."""
    try:
        proc = psutil.Process(state.pid)
        return abs(proc.create_time() - state.create_time) < 0.5 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def running_url(settings: Settings, name: str) -> str | None:
    """The address of the home's service ``name`` when it is running, else None."""
    state = read_state(settings, name)
    return state.url if state is not None and alive(state) else None


def bind_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host:port`` now, or None when it can. Bound with
    ``SO_REUSEADDR``, as uvicorn and the other servers bind: a port whose last connections
    wait out TIME_WAIT (after a browser or keep-alive client) is free to them, and must be
    here, or ``lcdp down && lcdp up`` would refuse a port nothing listens on."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} on {host} is taken by another program"
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None

"""Which services ``lcdp up`` runs for a home, as their state files say: each service's pid,
start time, command and address in ``<home>/run/<service>.json``.

``lcdp.ops.supervisor`` writes these files; anything below it that needs to know whether a
service runs (the engine, to use the home's Spark Connect server instead of starting its
own) reads them here, without importing the supervisor.
"""

from __future__ import annotations

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

"""Start, watch and stop the services of one platform home (``lcdp up``/``down``/``ps``).

Each service runs in a session (process group) of its own, with its output in
``<home>/logs/<service>.log`` and its state (pid, the process's start time, command, URL) in
``<home>/run/<service>.json``. A state whose process is gone, or whose pid now belongs to
another process (a different start time), is stale: ``up`` cleans it and starts the service
again. ``up`` leaves a running service alone, so it can be run again safely. ``down`` stops
only what ``up`` started: the process groups it recorded, then any process still carrying
``LCDP_UP_HOME=<home>`` in its environment (a task process that left its group), never a
process found by its name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import psutil
import yaml
from pydantic import BaseModel

from lcdp import log
from lcdp.errors import ServiceError
from lcdp.ops.services import Service, services, spark_remote
from lcdp.runstate import ServiceState, alive, bind_problem, read_state, run_dir, state_file
from lcdp.settings import REPO_ROOT, Settings

_log = log.get(__name__)
MARKER = "LCDP_UP_HOME"


class RunState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    STALE = "stale"  # its state file names a process that is gone


class ServiceStatus(BaseModel):
    name: str
    state: RunState
    healthy: bool | None = None
    detail: str = ""
    pid: int | None = None
    url: str
    log: str
    note: str = ""


def log_dir(settings: Settings) -> Path:
    return settings.home_dir / "logs"


def service_env(settings: Settings, service: Service) -> dict[str, str]:
    """A service's environment: the platform's settings, the shared Spark Connect server (for
    all but the server itself), and the marker ``down`` recognises our processes by."""
    shared = settings if service.name == "spark" else settings.model_copy(update={"spark_remote": spark_remote(settings)})
    if service.airflow:
        from lcdp.ops.airflow_home import airflow_env

        env = airflow_env(shared)
    else:
        env = dict(os.environ) | shared.as_env()
    env.update(service.env)
    env[MARKER] = str(settings.home_dir)
    return env


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _start(settings: Settings, service: Service) -> ServiceState:
    log_dir(settings).mkdir(parents=True, exist_ok=True)
    run_dir(settings).mkdir(parents=True, exist_ok=True)
    log_path = log_dir(settings) / f"{service.name}.log"
    with open(log_path, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} lcdp up: {' '.join(service.command)}\n".encode())
        out.flush()
        proc = subprocess.Popen(service.command, env=service_env(settings, service), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=settings.home_dir,
                                start_new_session=True)
    state = ServiceState(name=service.name, pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(),
                         command=service.command, url=service.url, log=str(log_path), started_at=time.time())
    tmp = state_file(settings, service.name).with_suffix(".tmp")
    tmp.write_text(state.model_dump_json())
    os.replace(tmp, state_file(settings, service.name))
    _log.info("service.started", service=service.name, pid=proc.pid)
    return state


#: A running service is called unhealthy only after this many probes a second apart fail, as
#: a Kubernetes probe's failureThreshold: on two cores a busy Airflow api-server can miss one
#: answer while the scheduler starts the first task processes.
PROBE_TRIES = 3


def _probe(service: Service) -> tuple[bool, str]:
    for attempt in range(1, PROBE_TRIES + 1):
        ok, detail = service.check()
        if ok:
            return ok, detail if attempt == 1 else f"{detail} (on try {attempt})"
        if attempt < PROBE_TRIES:
            time.sleep(1.0)
    return ok, f"{detail} ({PROBE_TRIES} tries)"


def status(settings: Settings, check_health: bool = True) -> list[ServiceStatus]:
    out = []
    for service in services(settings):
        state = read_state(settings, service.name)
        log_path = str(log_dir(settings) / f"{service.name}.log")
        if state is None:
            out.append(ServiceStatus(name=service.name, state=RunState.STOPPED, url=service.url, log=log_path, note=service.note))
            continue
        if not alive(state):
            out.append(ServiceStatus(name=service.name, state=RunState.STALE, pid=state.pid, url=state.url, log=state.log,
                                     detail="its process is gone (lcdp up starts it again)", note=service.note))
            continue
        healthy, detail = _probe(service) if check_health else (None, "")
        out.append(ServiceStatus(name=service.name, state=RunState.RUNNING, healthy=healthy, detail=detail, pid=state.pid,
                                 url=state.url, log=state.log, note=service.note))
    return out


def feed_registry() -> list[dict]:
    """The partner feeds of ``infra/feeds.yaml``, each with the ``dag_id`` of its DAG."""
    feeds = yaml.safe_load((REPO_ROOT / "infra" / "feeds.yaml").read_text())["feeds"]
    return [feed | {"dag_id": f"lcdp_feed_{feed['partner']}_{feed['dataset']}"} for feed in feeds]


def unconfigured_feeds(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Pull feeds whose connection settings are not set (``dag_id → why``): their DAG could
    only fail, so ``up`` pauses it, and unpauses it once the settings are there."""
    environ = os.environ if environ is None else environ
    out = {}
    for feed in feed_registry():
        needed = [feed[k] for k in ("url_env", "key_env") if feed.get(k)]
        if any(not environ.get(name) for name in needed):
            out[feed["dag_id"]] = (f"{feed['partner']}.{feed['dataset']}: paused until {' and '.join(needed)} "
                                   "are set (then `lcdp up` again)")
    return out


def _prepare_airflow(settings: Settings, on_event: Callable[[str], None]) -> None:
    """Migrate Airflow's metadata database, serialize the DAGs, and pause each pull feed that
    has no connection settings (unpause the others), saying why in one line."""
    from lcdp.ops import airflow_runner

    log_dir(settings).mkdir(parents=True, exist_ok=True)
    log_file = log_dir(settings) / "airflow-prepare.log"
    try:
        airflow_runner.prepare(settings, log_file)
        unconfigured = unconfigured_feeds()
        pull_feeds = [f["dag_id"] for f in feed_registry() if f.get("url_env")]
        airflow_runner.set_paused(settings, {dag_id: dag_id in unconfigured for dag_id in pull_feeds}, log_file)
    except airflow_runner.AirflowError as exc:
        raise ServiceError(f"Airflow could not be prepared ({str(exc).splitlines()[0]}); see {log_file}") from None
    for why in unconfigured.values():
        on_event(why)


def up(settings: Settings, timeout_s: float = 300.0,
       on_event: Callable[[str], None] = lambda _m: None) -> list[ServiceStatus]:
    """Start every service not already running and wait until all are healthy."""
    from lcdp import metadata

    settings.ensure_dirs()
    for feed in feed_registry():
        if feed["channel"] == "file_drop":  # where partners drop their files; the feed DAG polls it
            (settings.drop_root / feed["partner"] / feed["dataset"]).mkdir(parents=True, exist_ok=True)
    on_event("upgrading the metadata database")
    metadata.engine(settings.metadata_db_url)
    todo: list[Service] = []
    for service in services(settings):
        state = read_state(settings, service.name)
        if state is not None and alive(state):
            on_event(f"{service.name}: already running (pid {state.pid})")
            continue
        if state is not None:
            on_event(f"{service.name}: cleaning a stale pid {state.pid}")
            state_file(settings, service.name).unlink(missing_ok=True)
        todo.append(service)
    for service in todo:
        problem = bind_problem("127.0.0.1", service.port) if service.port is not None else None
        if problem is not None:
            raise ServiceError(f"{service.name}: {problem}; free it or set {service.setting} to another port")
    if any(s.airflow for s in todo):
        on_event("preparing Airflow (metadata database, DAGs, feeds without their settings paused)")
        _prepare_airflow(settings, on_event)
    started: dict[str, ServiceState] = {}
    try:
        _start_and_wait(settings, todo, started, timeout_s, on_event)
    except BaseException:
        # nothing half-up is left behind: what this call started stops again
        for name in reversed(list(started)):
            _stop(settings, name, on_event)
        raise
    return status(settings)


def _start_and_wait(settings: Settings, todo: list[Service], started: dict[str, ServiceState], timeout_s: float,
                    on_event: Callable[[str], None]) -> None:
    """Start ``todo`` in order (each once what it comes ``after`` is healthy) and wait until
    every service is healthy; ``started`` collects what was started."""
    pending = list(todo)
    healthy: set[str] = set()

    def start_ready() -> None:
        for service in list(pending):
            if service.after is None or service.after in healthy:
                on_event(f"{service.name}: starting")
                started[service.name] = _start(settings, service)
                pending.remove(service)

    start_ready()
    waiting = {s.name: s for s in services(settings)}
    deadline = time.monotonic() + timeout_s
    last: dict[str, str] = {}
    while waiting:
        for name, service in list(waiting.items()):
            if any(p.name == name for p in pending):
                continue
            state = started.get(name) or read_state(settings, name)
            if state is None or not alive(state):
                raise ServiceError(f"{name} exited while starting; see {log_dir(settings) / (name + '.log')}:\n"
                                   f"{_tail(log_dir(settings) / (name + '.log'))}")
            ok, last[name] = service.check()
            if ok:
                on_event(f"{name}: healthy ({last[name]})")
                del waiting[name]
                healthy.add(name)
                start_ready()
        if waiting and time.monotonic() > deadline:
            name = next(iter(waiting))
            raise ServiceError(f"{name} not healthy after {timeout_s:.0f} s ({last.get(name, 'not started')}); see "
                               f"{log_dir(settings) / (name + '.log')}")
        if waiting:
            time.sleep(1.0)


def _stop(settings: Settings, name: str, on_event: Callable[[str], None]) -> bool:
    """Stop one service's process group and forget its state; whether it was running."""
    state = read_state(settings, name)
    if state is None:
        return False
    running = alive(state)
    if running:
        on_event(f"{name}: stopping (pid {state.pid})")
        try:
            os.killpg(state.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    state_file(settings, name).unlink(missing_ok=True)
    return running


def _ours(settings: Settings) -> list[psutil.Process]:
    """Every live process carrying this home's marker."""
    home = str(settings.home_dir)
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(MARKER) == home:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def down(settings: Settings, timeout_s: float = 30.0,
         on_event: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Stop what ``up`` started (services in reverse order, each with its process group), then
    any process of ours that left its group; returns the services stopped."""
    stopped = [service.name for service in reversed(services(settings)) if _stop(settings, service.name, on_event)]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _ours(settings):
        time.sleep(0.5)
    left = _ours(settings)
    for proc in left:
        on_event(f"killing {proc.pid} (did not stop in {timeout_s:.0f} s)")
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=10)
    return stopped


def describe(states: list[ServiceStatus]) -> list[dict]:
    return [json.loads(s.model_dump_json()) for s in states]

"""Run the service in a background thread on a free loopback port (demo, tests, tools)."""

from __future__ import annotations

import socket
import threading
import time

from lcdp.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process, timeout_s: float = 60.0) -> None:
    """Wait until the service at ``url`` (started as ``process``, a Popen) answers
    ``/healthz``; RuntimeError when it exits first or the time runs out."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            stderr = process.stderr.read()[-2000:] if process.stderr and process.poll() is not None else ""
            raise RuntimeError(f"the service at {url} did not start {stderr}".strip())
        time.sleep(0.2)


class BackgroundService:
    """``with BackgroundService(settings) as svc: httpx.get(svc.url + "/openapi.json")``

    A real uvicorn server, not a test client: requests cross a real socket.
    """

    def __init__(self, settings: Settings, start_timeout_s: float = 30.0) -> None:
        import uvicorn

        from lcdp.service.app import create_app

        self.settings = settings
        self.port = free_port()
        self.start_timeout_s = start_timeout_s
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundService:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the service did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

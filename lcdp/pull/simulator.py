"""A stand-in for the open-data portal's ``RegionMnyFacltStus`` API, for tests and the demo.

It serves given merchant rows as pages in the real envelope (docs/lake.md) and can be told to
misbehave on chosen pages, once each: answer 500, answer slowly, report the daily quota
(ERROR-337), cut the JSON short, refuse the key (ERROR-290) or serve the previous page again.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ENDPOINT = "RegionMnyFacltStus"
FAULTS = ("http500", "slow", "quota", "truncated", "bad_key", "repeat_previous", "server_error_code")


def page_document(rows: list[dict], total: int) -> dict:
    return {ENDPOINT: [
        {"head": [{"list_total_count": total},
                  {"RESULT": {"CODE": "INFO-000", "MESSAGE": "정상 처리되었습니다."}},
                  {"api_version": "1.0"}]},
        {"row": rows},
    ]}


def result_document(code: str, message: str) -> dict:
    return {"RESULT": {"CODE": code, "MESSAGE": message}}


class PortalSimulator:
    """``with PortalSimulator(rows, key="k", faults={3: ["http500"]}) as sim: sim.url``"""

    def __init__(self, rows: list[dict], key: str = "demo-key", faults: dict[int, list[str]] | None = None,
                 slow_seconds: float = 2.0) -> None:
        self.rows, self.key, self.slow_seconds = rows, key, slow_seconds
        self.faults: dict[int, list[str]] = defaultdict(list, {p: list(f) for p, f in (faults or {}).items()})
        self.requests: list[int] = []  # pIndex of every request served
        self._lock = threading.Lock()
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                simulator._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> PortalSimulator:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.strip("/") != ENDPOINT:
            self._send(handler, 404, b'{"error": "no such endpoint"}')
            return
        page = int(query.get("pIndex", "1") or 1)
        size = int(query.get("pSize", "100") or 100)
        with self._lock:
            self.requests.append(page)
            fault = self.faults[page].pop(0) if self.faults[page] else None
        if fault == "http500":
            self._send(handler, 500, b"internal error")
            return
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "quota":
            self._send(handler, 200, json.dumps(result_document("ERROR-337", "일일 트래픽 초과")).encode())
            return
        if fault == "server_error_code":
            self._send(handler, 200, json.dumps(result_document("ERROR-500", "서버 오류")).encode())
            return
        if fault == "bad_key" or query.get("KEY") != self.key:
            self._send(handler, 200, json.dumps(result_document("ERROR-290", "인증키가 유효하지 않습니다.")).encode())
            return
        served = page - 1 if fault == "repeat_previous" and page > 1 else page
        chunk = self.rows[(served - 1) * size: served * size]
        if not chunk:
            body = json.dumps(result_document("INFO-200", "해당하는 데이터가 없습니다.")).encode()
        else:
            body = json.dumps(page_document(chunk, len(self.rows)), ensure_ascii=False).encode()
        if fault == "truncated":
            body = body[: len(body) // 2]
        self._send(handler, 200, body)

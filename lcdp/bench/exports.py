"""``lcdp bench export``: the export API under concurrent load from a second process, beside the
same bytes served as a static file by the same server (the peer).

A small world is generated, ingested and fused, and the ``spending`` product built (it needs
no model). The service runs in its own process (``lcdp serve``'s app, with a static folder
mounted for the peer); a second process sends ``requests`` GETs per side from ``concurrency``
connections, within ``seconds`` per side, and reports each request's latency. Both sides
answer the same bytes: a CSV page of ``page_rows`` rows of the product, which the API reads
from the Delta table, filters, encodes and audits, and the peer reads from a file.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

#: the load generator: a second process, bounded in requests and time
LOAD = textwrap.dedent('''
    import asyncio, json, sys, time
    import httpx

    url, headers, requests, concurrency, seconds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), \\
        int(sys.argv[4]), float(sys.argv[5])

    async def main():
        latencies, statuses, sizes = [], {}, set()
        queue = iter(range(requests))
        deadline = time.perf_counter() + seconds
        async with httpx.AsyncClient(headers=headers, timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
            async def worker():
                for _ in queue:
                    if time.perf_counter() > deadline:
                        return
                    t = time.perf_counter()
                    response = await client.get(url)
                    latencies.append(time.perf_counter() - t)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    sizes.add(len(response.content))
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            wall = time.perf_counter() - started
        print(json.dumps({"latencies": latencies, "statuses": statuses, "sizes": sorted(sizes), "wall": wall}))

    asyncio.run(main())
''')

SERVER = textwrap.dedent('''
    import sys
    import uvicorn
    from fastapi.staticfiles import StaticFiles
    from lcdp.service import create_app
    from lcdp.settings import Settings

    app = create_app(Settings(home=sys.argv[1]))
    app.mount("/bench-static", StaticFiles(directory=sys.argv[2]), name="bench-static")
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _side(url: str, headers: dict, requests: int, concurrency: int, seconds: float) -> dict:
    proc = subprocess.run([sys.executable, "-c", LOAD, url, json.dumps(headers), str(requests), str(concurrency),
                           str(seconds)], capture_output=True, text=True, timeout=seconds + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{proc.stderr[-2000:]}")
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    lat = raw["latencies"]
    return {"requests": len(lat), "statuses": raw["statuses"], "bytes": raw["sizes"],
            "p50_ms": round(1000 * _percentile(lat, 0.5), 2), "p99_ms": round(1000 * _percentile(lat, 0.99), 2),
            "requests_per_s": round(len(lat) / raw["wall"], 1)}


def bench_export(merchants: int = 300, months: int = 6, requests: int = 2000, concurrency: int = 16,
                 seconds: float = 60.0, page_rows: int = 1000) -> dict:
    """The export API beside a static file of the same bytes, served by the same server."""
    import httpx

    from lcdp import keys
    from lcdp.exports import files
    from lcdp.exports.grants import add as grant
    from lcdp.generator import WorldParams, default_start, generate
    from lcdp.ingest import ingest_files
    from lcdp.lake import catalog
    from lcdp.pipeline import fusion
    from lcdp.pipeline.products import build
    from lcdp.service.background import wait_healthy
    from lcdp.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="lcdp-bench-export-"))
    server = None
    try:
        settings = Settings(home=work / "home")
        manifest = generate(work / "data", WorldParams(merchants=merchants, months=months, seed=3,
                                                       start=default_start(months)))
        for partner, dataset in (("ggdata", "merchants"), ("kona", "transactions")):
            ingest_files(settings, partner, dataset, [work / "data" / e.path for e in manifest.for_dataset(partner, dataset)])
        fusion.run_step(settings, "silver.merchants")
        fusion.run_step(settings, "silver.transactions")
        product = build(settings, "spending")
        grant(settings.metadata_db_url, "bench", "spending", ["spending"])
        token = keys.create(settings.metadata_db_url, "consumer", "bench")
        page = catalog.to_arrow("gold.export_spending", settings, product.version).slice(0, page_rows)
        static = work / "static"
        static.mkdir()
        (static / "page.csv").write_bytes(files.csv_bytes(page))
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(settings.home_dir), str(static), str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server)
        api_url = f"{base}/v1/products/spending/rows?format=csv&limit={page_rows}"
        auth = {"Authorization": f"Bearer {token}"}
        same = httpx.get(api_url, headers=auth).content == (static / "page.csv").read_bytes()
        if not same:
            raise RuntimeError("the API's page and the static file differ: the comparison would be unfair")
        api = _side(api_url, auth, requests, concurrency, seconds)
        peer = _side(f"{base}/bench-static/page.csv", {}, requests, concurrency, seconds)
        return {
            "stage": "export", "product": "spending", "product_rows": product.rows, "page_rows": page.num_rows,
            "page_bytes": (static / "page.csv").stat().st_size, "concurrency": concurrency,
            "requests_per_side": requests, "seconds_limit_per_side": seconds, "cores": os.cpu_count(),
            "export_api": api, "static_file_peer": peer,
            "ratio": {"p50": round(api["p50_ms"] / peer["p50_ms"], 2), "p99": round(api["p99_ms"] / peer["p99_ms"], 2),
                      "requests_per_s": round(api["requests_per_s"] / peer["requests_per_s"], 3)},
        }
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)

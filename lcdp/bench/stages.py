"""Benchmarks (``lcdp bench STAGE``): each stage is timed next to a plain peer doing the
nearest equivalent work in the same run, and reported as JSON with the ratio, because these
machines are too noisy for absolute numbers. Every measurement runs in a fresh subprocess so
its peak memory (max RSS) is its own."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

from lcdp.settings import Settings


def measure(setup: str, work: str, env: dict[str, str] | None = None) -> dict:
    """Run ``setup`` then ``work`` in a fresh interpreter; ``work`` sets ``result``. Adds the
    seconds of ``work`` alone (imports and engine start excluded) and the peak memory of all.

    Peak memory is the child's own VmHWM. (``ru_maxrss`` would not do: Linux carries it over
    ``exec`` from the parent, so every child would report at least the parent's peak.)
    """
    wrapper = (
        "import json, time\n"
        f"{textwrap.dedent(setup).strip()}\n"
        "_t = time.perf_counter()\n"
        f"{textwrap.dedent(work).strip()}\n"
        'result["seconds"] = round(time.perf_counter() - _t, 3)\n'
        "_hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        'result["peak_rss_mib"] = round(int(_hwm.split()[1]) / 1024, 1)\n'
        "print(json.dumps(result))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_kona_file(path: Path, rows: int, seed: int = 11) -> int:
    """One CP949 kona file of about ``rows`` clean payments (a single-file delivery)."""
    from lcdp.generator.world import WorldParams, build_world
    from lcdp.generator.writers import KONA_COLUMNS, kona_frame

    merchants, months = max(50, rows // 500), 12
    world = build_world(WorldParams(merchants=merchants, months=months, seed=seed,
                                    tx_per_merchant_month=rows / (merchants * months) * 1.15))
    frame = kona_frame(world)[KONA_COLUMNS].head(rows)
    with open(path, "w", encoding="cp949", newline="") as fh:
        frame.to_csv(fh, index=False, lineterminator="\r\n")
    return len(frame)


def bench_ingest(settings: Settings, rows: int) -> dict:
    """``lcdp ingest`` of one kona CP949 file, against pyarrow reading the same file.

    Works in a throwaway home (removed afterwards), so it never touches the user's lake.
    """
    work = Path(tempfile.mkdtemp(prefix="lcdp-bench-"))
    try:
        return _bench_ingest(work, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench_ingest(work: Path, rows: int) -> dict:
    csv_path = work / "kona_tx_bench.csv"
    written = write_kona_file(csv_path, rows)
    size = csv_path.stat().st_size
    peer = measure("import pyarrow.csv as c", f"""
        t = c.read_csv({str(csv_path)!r}, read_options=c.ReadOptions(encoding="cp949"))
        result = {{"rows": t.num_rows}}
    """)
    ours = measure(f"""
        from pathlib import Path
        from lcdp import metadata
        from lcdp.settings import Settings
        from lcdp.ingest import ingest_file
        from lcdp.lake import engine
        settings = Settings(home=Path({str(work / 'home')!r}))
        settings.ensure_dirs()  # an existing home, as after `lcdp init`
        metadata.engine(settings.metadata_db_url)
        engine.spark(settings)
    """, f"""
        r = ingest_file(settings, "kona", "transactions", Path({str(csv_path)!r}))
        result = {{"rows": r.rows_valid, "rows_quarantined": r.rows_quarantined}}
    """)
    for m in (peer, ours):
        m["rows_per_s"] = round(m["rows"] / m["seconds"])
    return {
        "stage": "ingest",
        "input": {"rows": written, "bytes": size, "encoding": "cp949", "format": "kona csv"},
        "lcdp_ingest": ours,
        "pyarrow_read_csv": peer,
        "ratio_seconds": round(ours["seconds"] / peer["seconds"], 2),
        "ratio_peak_rss": round(ours["peak_rss_mib"] / peer["peak_rss_mib"], 2),
        "note": "seconds exclude imports, the engine's start and making the home. lcdp_ingest lands the file "
                "(copy + sha256), parses, validates, pseudonymizes, stages, finds duplicate keys and "
                "commits to Delta; the peer only parses to Arrow in memory.",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def write_big_kona(path: Path, target_bytes: int) -> int:
    """A clean CP949 kona file of at least ``target_bytes``, written 100k unique rows at a time
    (fast enough for gigabytes, unlike the world generator)."""
    header = "tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id\r\n"
    tails = [
        f"{i:07d},C{i % 50000:015x},{1000000000 + i % 3000},2024-03-{1 + i % 28:02d} "
        f"{i % 24:02d}:{i % 60:02d}:00,{1000 + i % 50000},카드,30대,여,,\r\n"
        for i in range(100_000)
    ]
    rows = 0
    with open(path, "wb") as fh:
        fh.write(header.encode("cp949"))
        block = 0
        while fh.tell() < target_bytes:
            fh.write("".join(f"T{block:05d}{t}" for t in tails).encode("cp949"))
            rows += len(tails)
            block += 1
    return rows


def _vm_hwm_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        line = next(l for l in fh if l.startswith("VmHWM"))
    return round(int(line.split()[1]) / 1024, 1)


def bench_upload(settings: Settings, megabytes: int) -> dict:
    """A streamed upload of one big kona file to ``lcdp serve``, until its receipt comes back;
    beside it, the same bytes sent again (transfer, landing and hashing only: a duplicate) and
    a plain copy of the file on the same disk."""
    import socket
    import time

    import httpx

    work = Path(tempfile.mkdtemp(prefix="lcdp-bench-"))
    server = None
    try:
        path = work / "kona_tx_upload.csv"
        rows = write_big_kona(path, megabytes * 1024 * 1024)
        size = path.stat().st_size
        t = time.perf_counter()
        shutil.copyfile(path, work / "copy.csv")
        copy_seconds = time.perf_counter() - t
        (work / "copy.csv").unlink()
        home = work / "home"
        env = {**os.environ, "LCDP_HOME": str(home), "LCDP_MAX_UPLOAD_BYTES": str(size * 2)}
        lcdp = str(Path(sys.executable).with_name("lcdp"))
        subprocess.run([lcdp, "init"], env=env, capture_output=True, text=True, check=True)
        token = subprocess.run([lcdp, "--json", "keys", "create", "--role", "partner", "--subject", "kona"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        token = json.loads(token)["key"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([lcdp, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("lcdp serve did not start")
                time.sleep(0.2)
        idle_mib = _vm_hwm_mib(server.pid)

        def chunks():
            with open(path, "rb") as fh:
                while chunk := fh.read(1024 * 1024):
                    yield chunk

        def send(expected: int) -> tuple[float, dict]:
            t = time.perf_counter()
            response = httpx.post(f"http://127.0.0.1:{port}/v1/uploads/kona/transactions",
                                  params={"file_name": path.name}, content=chunks(), timeout=3600,
                                  headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv",
                                           "Content-Length": str(size)})
            if response.status_code != expected:
                raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
            return time.perf_counter() - t, response.json()

        seconds, receipt = send(201)
        peak_mib = _vm_hwm_mib(server.pid)
        # the same bytes again: streamed, landed and hashed, then recognised as a duplicate
        # without parsing; the transfer path alone, measured on the same server
        resend_seconds, _ = send(200)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    mb = size / 1e6
    return {
        "stage": "upload",
        "input": {"bytes": size, "rows": rows},
        "upload_to_receipt": {"seconds": round(seconds, 2), "mb_per_s": round(mb / seconds, 1),
                              "rows_valid": receipt["rows_valid"], "service_peak_rss_mib": peak_mib,
                              "service_idle_rss_mib": idle_mib},
        "resend_same_bytes": {"seconds": round(resend_seconds, 2), "mb_per_s": round(mb / resend_seconds, 1)},
        "plain_file_copy": {"seconds": round(copy_seconds, 2), "mb_per_s": round(mb / copy_seconds, 1)},
        "ratio_seconds_vs_resend": round(seconds / resend_seconds, 1),
        "note": "the upload's time runs until the receipt: streaming to disk, landing, parsing, "
                "validation, pseudonymization and the Delta commit all happen before the answer.",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


BENCHES: dict[str, Callable[[Settings, int], dict]] = {"ingest": bench_ingest, "upload": bench_upload}
#: Every stage ``lcdp bench`` knows; fusion has its own options (``lcdp.bench.fusion``).
STAGES = [*BENCHES, "fusion", "train", "export", "growth", "public-credit"]

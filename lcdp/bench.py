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


def _measure(setup: str, work: str, env: dict[str, str] | None = None) -> dict:
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
    peer = _measure("import pyarrow.csv as c", f"""
        t = c.read_csv({str(csv_path)!r}, read_options=c.ReadOptions(encoding="cp949"))
        result = {{"rows": t.num_rows}}
    """)
    ours = _measure(f"""
        from pathlib import Path
        from lcdp.settings import Settings
        from lcdp.ingest import ingest_file
        from lcdp import engine
        settings = Settings(home=Path({str(work / 'home')!r}))
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
        "note": "seconds exclude imports and the engine's start. lcdp_ingest lands the file "
                "(copy + sha256), parses, validates, pseudonymizes, stages, dedups in Sail and "
                "commits to Delta; the peer only parses to Arrow in memory.",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


BENCHES: dict[str, Callable[[Settings, int], dict]] = {"ingest": bench_ingest}

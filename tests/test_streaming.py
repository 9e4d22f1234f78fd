"""A 2 GB delivery is streamed: peak memory stays below the file size and grows far more
slowly than the file does.

Measured here (2 cores): a 120 MiB file peaks at 0.56 GiB, a 2 GiB file (25.7M rows) at
0.70 GiB, of which about 0.2 GiB is the interpreter with pyarrow and pyspark loaded, about
0.3 GiB the parse/validate/stage loop on its worker threads, and 0.2 GiB the key hashes the
duplicate check starts from (8 bytes a row). Finding the duplicates with the engine's
aggregate over every key instead peaked at 2.0 GiB, above the file's size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lcdp.bench.stages import write_big_kona

LCDP = str(Path(sys.executable).with_name("lcdp"))
MIB = 1024 * 1024


def ingest_peak(home: Path, path: Path) -> tuple[dict, int]:
    """Run ``lcdp ingest`` in a child process; return its receipt and its peak RSS in bytes."""
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(p.stderr)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
        "print(p.stdout.strip().splitlines()[-1] if p.stdout.strip() else '{}')\n"
    )
    env = {**os.environ, "LCDP_ENGINE_MEMORY_BYTES": str(512 * MIB), "LCDP_PSEUDONYM_KEY": "stream-test-key-0123456789"}
    subprocess.run([LCDP, "--home", str(home), "init"], check=True, capture_output=True, env=env, timeout=120)
    proc = subprocess.run([sys.executable, "-c", probe, LCDP, "--home", str(home), "--json", "ingest", "kona",
                           "transactions", str(path)], capture_output=True, text=True, env=env, timeout=1200)
    status_line, receipt_line = proc.stdout.strip().splitlines()[-2:]
    code, peak = (int(x) for x in status_line.split())
    assert code == 0, proc.stderr[-3000:]
    return json.loads(receipt_line), peak


@pytest.mark.slow
def test_two_gigabyte_delivery_streams_in_bounded_memory(tmp_path):
    big = tmp_path / "kona_big.csv"
    rows = write_big_kona(big, 2 * 1024**3)
    small = tmp_path / "kona_small.csv"
    small_rows = write_big_kona(small, 120 * MIB)
    small_receipt, small_peak = ingest_peak(tmp_path / "home-small", small)
    receipt, peak = ingest_peak(tmp_path / "home-big", big)
    assert small_receipt["rows_valid"] == small_rows
    assert receipt["rows_in"] == receipt["rows_valid"] == rows
    size = big.stat().st_size
    print(f"2 GiB file: {rows} rows, peak {peak / MIB:.0f} MiB; 120 MiB file: peak {small_peak / MIB:.0f} MiB")
    assert peak < 0.9 * size, f"peak {peak / MIB:.0f} MiB for a {size / MIB:.0f} MiB file"
    growth, file_growth = peak - small_peak, size - small.stat().st_size
    assert growth < 0.5 * file_growth, (
        f"peak grew by {growth / MIB:.0f} MiB while the file grew by {file_growth / MIB:.0f} MiB")

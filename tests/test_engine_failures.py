"""An engine failure reads as one line: the command says what ran out and what to change, the
logs grow by a few lines, not by the query plan."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lcdp.generator import WorldParams, generate
from lcdp.ingest import ingest_files
from lcdp.lake.engine import permanent_failure
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")
LCDP = str(Path(sys.executable).with_name("lcdp"))
KEY = "engine-failure-key-0123456789"


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def test_a_fusion_step_out_of_memory_is_one_line_and_barely_grows_the_logs(tmp_path):
    data = tmp_path / "data"
    manifest = generate(data, WorldParams(merchants=40, months=2, seed=5), dirty=0.0)
    settings = Settings(home=tmp_path / "home", pseudonym_key=KEY)
    for partner, dataset in sorted({(f.partner, f.dataset) for f in manifest.files}):
        ingest_files(settings, partner, dataset, [data / f.path for f in manifest.for_dataset(partner, dataset)])
    logs = settings.home_dir / "logs"
    before = _size(logs)
    env = {**os.environ, "LCDP_HOME": str(settings.home_dir), "LCDP_PSEUDONYM_KEY": KEY,
           "LCDP_ENGINE_MEMORY_BYTES": "4096"}  # a pool no sort or aggregate fits in
    proc = subprocess.run([LCDP, "fuse"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "ran out of its memory pool" in lines[0], proc.stderr[-3000:]
    assert "LCDP_ENGINE_MEMORY_BYTES" in lines[0] and len(proc.stderr) < 2000
    assert _size(logs) - before < 10 * 1024


def test_which_failures_a_retry_would_only_repeat():
    from lcdp.contracts import ContractError

    engine_message = ("External error: Failed to allocate additional 27.3 MB for FinalHashAggregateStream[0] "
                      "with 0.0 B already allocated\nJVM stacktrace:\n" + "plan line\n" * 10_000)
    reason = permanent_failure(RuntimeError(engine_message))
    assert reason is not None and "\n" not in reason and len(reason) < 600
    assert permanent_failure(ContractError("partner 'x' has no dataset 'y'")) == "partner 'x' has no dataset 'y'"
    assert permanent_failure(OSError("connection reset")) is None

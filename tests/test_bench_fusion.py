"""``lcdp bench fusion`` on small lakes with long histories: it runs end to end, and the
fusion's gold agrees with the gold DuckDB computes independently from the same bronze."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LCDP = str(Path(sys.executable).with_name("lcdp"))


STEPS = {"silver.merchants", "silver.transactions", "silver.credit_monthly", "silver.guarantees",
         "silver.employment_monthly", "gold.merchant_month_features", "gold.spending_cube"}


def _check_report(result: dict) -> None:
    """Both sides measured, the ratio theirs, every step timed, and the two gold results equal."""
    agreement = result["same_result"]
    assert agreement["equal"], agreement
    assert agreement["features_rows"][0] > 0 and agreement["cube_rows"][0] > 0 and agreement["total_spending"] > 0
    for side in ("lcdp_fusion", "duckdb_gold"):
        assert result[side]["seconds"] > 0 and result[side]["peak_rss_mib"] > 0
    assert result["ratio_seconds"] == round(result["lcdp_fusion"]["seconds"] / result["duckdb_gold"]["seconds"], 2)
    assert set(result["lcdp_fusion"]["steps"]) == STEPS


@pytest.fixture(scope="module")
def bench_work(tmp_path_factory):
    """One bench folder per world size for the module: its bronze lake is built once."""
    folders: dict[tuple[int, int], Path] = {}
    return lambda merchants, months: folders.setdefault(
        (merchants, months), tmp_path_factory.mktemp(f"bench-{merchants}x{months}"))


def _bench(work: Path, merchants: int, months: int, env: dict | None = None) -> dict:
    proc = subprocess.run([LCDP, "bench", "fusion", "--merchants", str(merchants), "--months", str(months),
                           "--work", str(work)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("merchants, months", [(300, 24), (300, 60), (30, 60)],
                         ids=["300x24", "300x60", "sparse-30x60"])
def test_small_worlds_with_long_history_fuse_at_default_settings(bench_work, merchants, months):
    """Small worlds with two to five years of history (and a sparse one: 30 merchants, many
    months without payments) once ran the engine's fair memory pool dry in the features step;
    from scratch at default settings they fuse, and their gold equals DuckDB's."""
    result = _bench(bench_work(merchants, months), merchants, months)
    _check_report(result)
    assert result["same_result"]["features_rows"][0] >= merchants * months * 0.5


def test_a_small_memory_bound_is_honoured_by_spilling(bench_work):
    """300 × 24 under a 256 MiB pool: every step spills where it must and the gold still equals
    DuckDB's. (The spending cube's two distinct counts once asked for 114 MB in one piece.)"""
    result = _bench(bench_work(300, 24), 300, 24, {"LCDP_ENGINE_MEMORY_BYTES": str(256 * 1024**2)})
    _check_report(result)


def test_the_default_memory_bound_is_a_share_of_the_machine_within_a_floor_and_a_cap(monkeypatch):
    from lcdp import settings as settings_module
    from lcdp.settings import ENGINE_MEMORY_CAP, ENGINE_MEMORY_FLOOR, Settings, default_engine_memory_bytes

    gib = 1024**3
    for machine, expected in ((2 * gib, ENGINE_MEMORY_FLOOR), (24 * gib, 3 * gib), (256 * gib, ENGINE_MEMORY_CAP)):
        monkeypatch.setattr(settings_module, "machine_memory_bytes", lambda m=machine: m)
        assert default_engine_memory_bytes() == expected
    monkeypatch.setenv("LCDP_ENGINE_MEMORY_BYTES", str(512 * 1024**2))
    assert Settings().engine_memory_bytes == 512 * 1024**2  # a set value wins
    monkeypatch.delenv("LCDP_ENGINE_MEMORY_BYTES")
    assert Settings().engine_memory_bytes == ENGINE_MEMORY_CAP  # the machine stubbed above


def test_grid_slopes_fit_time_against_months_merchants_and_payments():
    from lcdp.bench.fusion import grid_slopes

    cells = [{"merchants": m, "months": n, "passed": True, "payments": m * n * 40, "seconds": 2 + 0.001 * m * n}
             for m in (300, 1000) for n in (6, 12, 24)]
    cells.append({"merchants": 5000, "months": 6, "passed": False, "error": "the engine ran out"})
    slopes = grid_slopes(cells)
    assert slopes["seconds_per_month"]["300 merchants"]["slope"] == pytest.approx(0.3)
    assert slopes["seconds_per_month"]["1000 merchants"]["r2"] == pytest.approx(1.0)
    assert slopes["seconds_per_month"]["5000 merchants"] is None  # its only cell failed
    assert slopes["seconds_per_merchant"]["24 months"]["slope"] == pytest.approx(0.024)
    assert slopes["seconds_per_million_payments"]["slope"] == pytest.approx(25.0)

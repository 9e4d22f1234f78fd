"""``lcdp bench fusion`` on a small lake: it runs end to end, and the fusion's gold agrees
with the gold DuckDB computes independently from the same bronze."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LCDP = str(Path(sys.executable).with_name("lcdp"))


def test_bench_fusion_reports_both_sides_and_their_agreement(tmp_path):
    proc = subprocess.run([LCDP, "bench", "fusion", "--merchants", "80", "--months", "4", "--work", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    agreement = result["same_result"]
    assert agreement["equal"], agreement
    assert agreement["features_rows"][0] > 200 and agreement["cube_rows"][0] > 1000
    assert agreement["total_spending"] > 0
    for side in ("lcdp_fusion", "duckdb_gold"):
        assert result[side]["seconds"] > 0 and result[side]["peak_rss_mib"] > 0
    assert result["ratio_seconds"] == round(result["lcdp_fusion"]["seconds"] / result["duckdb_gold"]["seconds"], 2)
    assert set(result["lcdp_fusion"]["steps"]) == {
        "silver.merchants", "silver.transactions", "silver.credit_monthly", "silver.guarantees",
        "silver.employment_monthly", "gold.merchant_month_features", "gold.spending_cube"}


@pytest.mark.parametrize("merchants, months", [(300, 24), (300, 60), (30, 60)],
                         ids=["300x24", "300x60", "sparse-30x60"])
def test_small_worlds_with_long_history_fuse_at_default_settings(tmp_path, merchants, months):
    """Small worlds with two to five years of history (and a sparse one: 30 merchants, many
    months without payments) once ran the engine's fair memory pool dry in the features step;
    from scratch at default settings they fuse, and their gold equals DuckDB's."""
    proc = subprocess.run([LCDP, "bench", "fusion", "--merchants", str(merchants), "--months", str(months),
                           "--work", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    agreement = json.loads(proc.stdout.strip().splitlines()[-1])["same_result"]
    assert agreement["equal"], agreement
    assert agreement["features_rows"][0] >= merchants * months * 0.5

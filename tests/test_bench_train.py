"""``lcdp bench train`` measures our training beside plain xgboost.train on the same rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LCDP = str(Path(sys.executable).with_name("lcdp"))


def test_bench_train_reports_the_overhead_against_plain_xgboost(tmp_path):
    proc = subprocess.run([LCDP, "bench", "train", "--rows", "6000", "--out", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == json.loads((tmp_path / "r.json").read_text())
    ours, peer = report["lcdp_credit_risk_fit"], report["xgboost_train"]
    assert ours["trees"] == peer["trees"] >= 1  # the peer grows as many trees as we chose
    assert report["ratio_seconds"] == round(ours["seconds"] / peer["seconds"], 2) > 1  # we also ran the folds
    assert report["input"]["business_months"] == 6000 and ours["peak_rss_mib"] > 0 and peer["peak_rss_mib"] > 0

"""DAG integrity, and the demo through real Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lcdp.settings import REPO_ROOT

LCDP = str(Path(sys.executable).with_name("lcdp"))


def test_every_dag_file_imports_quickly_without_heavy_modules(tmp_path):
    """Parse each DAG file in a fresh interpreter (after Airflow itself is imported): no import
    error, no cycle, well under a second, and no heavy module (Spark, pyarrow, the platform)
    imported at parse time."""
    for dag_file in sorted((REPO_ROOT / "dags").glob("*.py")):
        code = (
            "import sys, time, runpy\n"
            "import airflow.sdk\n"
            "t = time.perf_counter()\n"
            f"ns = runpy.run_path({str(dag_file)!r})\n"
            "took = time.perf_counter() - t\n"
            "from airflow.sdk import DAG\n"
            "dags = [v for v in ns.values() if isinstance(v, DAG)]\n"
            "heavy = sorted(m for m in ('pyspark', 'pyarrow', 'lcdp', 'deltalake', 'pandas') if m in sys.modules)\n"
            "for d in dags: d.topological_sort() if hasattr(d, 'topological_sort') else None\n"
            "print(f'{took}|{len(dags)}|{\",\".join(heavy)}')\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        took, n_dags, heavy = proc.stdout.strip().splitlines()[-1].split("|")
        assert int(n_dags) >= 1, f"{dag_file.name} defines no DAG"
        assert float(took) < 1.0, f"{dag_file.name} took {took} s to parse"
        assert heavy == "", f"{dag_file.name} imports {heavy} at parse time"


@pytest.mark.slow
def test_demo_runs_ingestion_through_airflow_and_reports_every_table(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "LCDP_PSEUDONYM_KEY": "demo-test-key-0123456789"}
    started = time.perf_counter()
    proc = subprocess.run([LCDP, "--home", str(home), "--json", "demo", "--merchants", "40", "--months", "2"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["dag_runs"] == {"lcdp_ingest_partner_files": "success"}
    feeds = ["kona_transactions", "ggdata_merchants", "ked_credit", "gcgf_guarantees", "gjf_employment"]
    for feed in feeds:
        for layer in ("bronze", "quarantine"):
            name = f"{layer}.{feed}"
            assert name in summary["tables"], name
            assert DeltaTable(str(home / "lake" / layer / feed)).to_pyarrow_table().num_rows == summary["tables"][name]
        assert summary["tables"][f"bronze.{feed}"] > 0
    for feed, counts in summary["ingestion"].items():
        assert counts["rows_in"] == counts["rows_valid"] + counts["rows_quarantined"], feed
    assert summary["seconds"] <= time.perf_counter() - started
    # Airflow really ran it: its metadata DB has the successful run
    assert (home / "airflow" / "airflow.db").exists()

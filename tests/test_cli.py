"""The command line's contract (README, "Commands"), run as users run it: the installed ``lcdp`` script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import kona_row, write_kona

LCDP = str(Path(sys.executable).with_name("lcdp"))


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    """``lcdp --home HOME --json ARGS``; a new home is made first with ``lcdp init``, as a user would."""
    env = {**os.environ, "LCDP_PSEUDONYM_KEY": "cli-test-key-0123456789"}
    if not home.exists() and args[0] not in ("generate", "bench"):
        subprocess.run([LCDP, "--home", str(home), "init"], check=True, capture_output=True, env=env, timeout=120)
    return subprocess.run([LCDP, "--home", str(home), "--json", *args], capture_output=True, text=True, env=env, timeout=600)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ingest_prints_the_receipt_and_exits_0_with_quarantined_rows(tmp_path):
    path = write_kona(tmp_path / "day.csv", [kona_row("T00000001"), kona_row("T00000002", amount="x")])
    proc = run(tmp_path / "home", "ingest", "kona", "transactions", str(path))
    assert proc.returncode == 0, proc.stderr
    receipt = last_json(proc)
    for key in ("upload_id", "sha256", "rows_in", "rows_valid", "rows_quarantined", "reasons", "duplicate_of"):
        assert key in receipt
    assert (receipt["rows_in"], receipt["rows_valid"], receipt["rows_quarantined"]) == (2, 1, 1)
    assert receipt["reasons"] == {"amount:not_integer": 1} and receipt["duplicate_of"] is None
    again = last_json(run(tmp_path / "home", "ingest", "kona", "transactions", str(path)))
    assert again["duplicate_of"] == receipt["upload_id"]
    status = last_json(run(tmp_path / "home", "status"))
    tables = {t["name"]: t["rows"] for t in status["tables"]}
    assert tables["bronze.kona_transactions"] == 1 and tables["quarantine.kona_transactions"] == 1
    assert status["uploads"][0]["by_status"] == {"done": 1, "duplicate": 1}


def test_refusals_exit_2_with_one_line_reason(tmp_path):
    path = write_kona(tmp_path / "day.csv", [kona_row()])
    cases = [
        (("ingest", "acme", "transactions", str(path)), "unknown partner 'acme'"),
        (("ingest", "kona", "loans", str(path)), "partner 'kona' has no dataset 'loans' (known: transactions)"),
        (("ingest", "kona", "transactions", str(tmp_path / "missing.csv")), "no such file"),
    ]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cases.append((("ingest", "kona", "transactions", str(empty)), "file is empty"))
    for args, message in cases:
        proc = run(tmp_path / "home", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], proc.stderr


def test_generate_is_deterministic_for_a_seed(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        proc = run(tmp_path / "home", "generate", "--out", str(out), "--merchants", "40", "--months", "2", "--seed", "5", "--dirty", "0.05")
        assert proc.returncode == 0, proc.stderr
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert [f["sha256"] for f in ma["files"]] == [f["sha256"] for f in mb["files"]]
    c = tmp_path / "c"
    run(tmp_path / "home", "generate", "--out", str(c), "--merchants", "40", "--months", "2", "--seed", "6")
    mc = json.loads((c / "manifest.json").read_text())
    assert [f["sha256"] for f in ma["files"]] != [f["sha256"] for f in mc["files"]]
    # the truth stays outside the partner folders
    assert (a / "truth" / "business_month.parquet").exists()
    assert not any("truth" in f["path"] for f in ma["files"])


def test_bench_ingest_reports_both_sides_as_json(tmp_path):
    proc = run(tmp_path / "home", "bench", "ingest", "--rows", "20000")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["input"]["rows"] == 20000
    assert result["lcdp_ingest"]["rows"] == 20000 and result["pyarrow_read_csv"]["rows"] == 20000
    assert result["ratio_seconds"] > 0 and result["lcdp_ingest"]["peak_rss_mib"] > 0


def test_bench_upload_reports_throughput_and_service_memory(tmp_path):
    proc = run(tmp_path / "home", "bench", "upload", "--megabytes", "20")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["input"]["bytes"] >= 20 * 1024 * 1024
    assert result["upload_to_receipt"]["rows_valid"] == result["input"]["rows"]
    assert result["upload_to_receipt"]["mb_per_s"] > 0 and result["resend_same_bytes"]["mb_per_s"] > 0
    assert result["upload_to_receipt"]["service_peak_rss_mib"] >= result["upload_to_receipt"]["service_idle_rss_mib"] > 0

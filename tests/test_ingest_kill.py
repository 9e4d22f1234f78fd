"""A delivery's ingest killed between its two commits (quarantine, then bronze): the lake
reads at committed versions, and sending the same bytes again redoes the upload exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lcdp import metadata
from lcdp.lake import catalog
from lcdp.settings import Settings
from tests.conftest import kona_row, write_kona

LCDP = str(Path(sys.executable).with_name("lcdp"))
KEY = "kill-test-key-0123456789"


def _versions(log_dir: Path) -> int:
    return len(list(log_dir.glob("*.json"))) if log_dir.exists() else 0


@pytest.mark.slow
def test_an_ingest_killed_between_its_commits_is_redone_exactly_once(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "LCDP_HOME": str(home), "LCDP_PSEUDONYM_KEY": KEY}
    subprocess.run([LCDP, "init"], env=env, check=True, capture_output=True, timeout=120)
    settings = Settings(home=home, pseudonym_key=KEY)
    # an earlier delivery, so both tables exist and hold committed data before the kill
    first = write_kona(tmp_path / "kona_tx_20240301.csv", [kona_row("E0000001"), kona_row("E0000002", amount="x")])
    subprocess.run([LCDP, "ingest", "kona", "transactions", str(first)], env=env, check=True, capture_output=True,
                   timeout=300)
    rows = [kona_row(f"T{i:08d}", card=f"CARD{i % 5000:08d}") for i in range(300_000)]
    rows += [kona_row(f"B{i:07d}", amount="not-a-number") for i in range(10)]
    big = write_kona(tmp_path / "kona_tx_20240302.csv", rows)
    quarantine_log = catalog.table("quarantine.kona_transactions").path(settings) / "_delta_log"
    bronze_log = catalog.table("bronze.kona_transactions").path(settings) / "_delta_log"

    killed_between = False
    for _attempt in range(5):
        q_before, b_before = _versions(quarantine_log), _versions(bronze_log)
        proc = subprocess.Popen([LCDP, "ingest", "kona", "transactions", str(big)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while _versions(quarantine_log) == q_before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if _versions(quarantine_log) > q_before and _versions(bronze_log) == b_before:
            killed_between = True
            break
        # the kill missed the window: undo by sending the bytes again later, try once more
        env_retry = {**env, "LCDP_INGEST_LEASE_SECONDS": "0"}
        subprocess.run([LCDP, "ingest", "kona", "transactions", str(big)], env=env_retry, capture_output=True,
                       timeout=600)
        with metadata.session(settings.metadata_db_url) as db:
            for upload in db.query(metadata.Upload).filter(metadata.Upload.file_name == big.name):
                db.delete(upload)
            db.commit()
        for name in ("bronze.kona_transactions", "quarantine.kona_transactions"):
            DeltaTable(catalog.table(name).uri(settings)).delete("_source_file LIKE '%kona_tx_20240302%'")
    assert killed_between, "no kill landed between the two commits in five tries"

    # the lake reads at its committed versions: quarantine has the 10 bad rows, bronze none of them
    (upload,) = [u for u in metadata.list_uploads(settings.metadata_db_url) if u.file_name == big.name]
    assert upload.status == "ingesting"
    bronze = DeltaTable(catalog.table("bronze.kona_transactions").uri(settings)).to_pyarrow_table()
    quarantine = DeltaTable(catalog.table("quarantine.kona_transactions").uri(settings)).to_pyarrow_table()
    assert sorted(bronze.column("tx_id").to_pylist()) == ["E0000001"]
    assert quarantine.column("_upload_id").to_pylist().count(upload.upload_id) == 10

    # the same bytes again, once its lease is over: redone under its own id, each row once
    redo = subprocess.run([LCDP, "--json", "ingest", "kona", "transactions", str(big)],
                          env={**env, "LCDP_INGEST_LEASE_SECONDS": "0"}, capture_output=True, text=True, timeout=600)
    assert redo.returncode == 0, redo.stderr[-3000:]
    bronze = DeltaTable(catalog.table("bronze.kona_transactions").uri(settings)).to_pyarrow_table()
    quarantine = DeltaTable(catalog.table("quarantine.kona_transactions").uri(settings)).to_pyarrow_table()
    ids = bronze.column("tx_id").to_pylist()
    assert len(ids) == len(set(ids)) == 300_001
    assert quarantine.column("_upload_id").to_pylist().count(upload.upload_id) == 10
    assert quarantine.num_rows == 11

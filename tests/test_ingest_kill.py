"""A delivery's ingest killed between its two commits (quarantine, then bronze): the lake
reads at committed versions, and sending the same bytes again redoes the upload exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lcdp import metadata
from lcdp.lake import catalog
from lcdp.settings import Settings
from tests.conftest import kona_row, write_kona

LCDP = str(Path(sys.executable).with_name("lcdp"))
KEY = "kill-test-key-0123456789"

#: ``lcdp`` whose ingest waits after its quarantine commit, so a kill lands between the two
#: commits every time (they are milliseconds apart: the data files are written before either).
LCDP_WAITING_AFTER_QUARANTINE = """
import sys, time
from lcdp.lake import catalog
commit = catalog.commit_files
def commit_then_wait(name, *args, **kwargs):
    version = commit(name, *args, **kwargs)
    if name.startswith("quarantine."):
        print("quarantine committed", flush=True)
        time.sleep(600)
    return version
catalog.commit_files = commit_then_wait
from lcdp.cli import run
run()
"""


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
    bronze_before = DeltaTable(catalog.table("bronze.kona_transactions").uri(settings)).version()

    proc = subprocess.Popen([sys.executable, "-c", LCDP_WAITING_AFTER_QUARANTINE, "ingest", "kona", "transactions",
                             str(big)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "quarantine committed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert DeltaTable(catalog.table("bronze.kona_transactions").uri(settings)).version() == bronze_before
    bronze_dir = catalog.table("bronze.kona_transactions").path(settings)
    orphans = {p.name for p in bronze_dir.glob("*.parquet")} - {
        Path(f).name for f in DeltaTable(str(bronze_dir)).file_uris()}
    assert orphans, "the killed ingest had written its bronze data files, uncommitted"

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
    # the killed writer's files are referenced by no version: vacuum removes them, nothing else
    removed = {Path(f).name for f in catalog.vacuum("bronze.kona_transactions", settings, retention_hours=0)}
    assert removed == orphans
    assert DeltaTable(str(bronze_dir)).to_pyarrow_table().num_rows == 300_001

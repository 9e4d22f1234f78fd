"""The platform home holds partners' raw deliveries (business numbers, names), quarantined
rows with their raw text, secrets and the metadata DB: no other local user may read any of it."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from tests.conftest import LCDP, kona_row

KONA = ("tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id\r\n"
        + "\r\n".join([kona_row("T00000001"), kona_row("T00000002", amount="not-a-number")]) + "\r\n")


def lcdp(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The command line as a user with the usual umask (022) runs it."""
    env = {"PATH": "/usr/bin:/bin", "LCDP_HOME": str(home), "LCDP_PSEUDONYM_KEY": "privacy-test-key-0123456789"}
    return subprocess.run([LCDP, "--json", *args], capture_output=True, text=True, timeout=600, env=env,
                          preexec_fn=lambda: os.umask(0o022))


def readable_by_others(home: Path) -> list[str]:
    out = []
    for path in [home, *home.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            out.append(f"{oct(mode & 0o777)} {path.relative_to(home)}")
    return out


def test_everything_a_command_writes_in_the_home_is_its_owners_alone(tmp_path):
    home = tmp_path / "home"
    assert lcdp(home, "init").returncode == 0
    delivery = tmp_path / "kona_20240301.csv"
    delivery.write_bytes(KONA.encode("cp949"))
    ingested = lcdp(home, "ingest", "kona", "transactions", str(delivery))
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    landed = [p for p in (home / "landing").rglob("*") if p.is_file()]
    quarantined = [p for p in (home / "lake").rglob("*.parquet") if "quarantine" in str(p)]
    assert landed and quarantined and (home / "metadata.db").exists()
    assert readable_by_others(home) == []
    assert all(p.stat().st_mode & 0o777 == 0o400 for p in landed)  # immutable too


def test_a_home_an_older_version_left_open_is_closed_on_first_use(tmp_path):
    home = tmp_path / "home"
    assert lcdp(home, "init").returncode == 0
    home.chmod(0o755)
    assert lcdp(home, "status").returncode == 0
    assert home.stat().st_mode & 0o777 == 0o700

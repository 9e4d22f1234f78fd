"""The Airflow home the platform generates stands on its own: with nothing but
``AIRFLOW_HOME`` set, Airflow finds the project's DAGs (no examples) and its database, and a
task started that way finds its platform home; its paths follow the home when it moves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from lcdp.ops import airflow_runner
from lcdp.ops.airflow_home import write_config
from lcdp.settings import REPO_ROOT, Settings

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
PLATFORM_DAGS = {"lcdp_exports", "lcdp_fusion", "lcdp_maintenance", "lcdp_models", "lcdp_feed_ggdata_merchants",
                 "lcdp_feed_kona_transactions", "lcdp_feed_gjf_employment", "lcdp_feed_ked_credit",
                 "lcdp_feed_gcgf_guarantees"}


def _airflow_alone(airflow_home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(airflow_home)})


def test_airflow_runs_from_the_generated_home_alone_and_follows_a_moved_home(tmp_path):
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    airflow_runner.prepare(settings)
    listed = _airflow_alone(settings.airflow_home, "dags", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    dags = json.loads(listed.stdout.strip().splitlines()[-1])
    assert {d["dag_id"] for d in dags} == PLATFORM_DAGS  # ours, and no example DAG
    assert {str(d["is_paused"]) for d in dags} == {"False"}  # unpaused when they first appear
    assert {Path(d["fileloc"]).parent for d in dags} == {REPO_ROOT / "dags"}
    # a task process started by that Airflow (AIRFLOW_HOME, no LCDP_HOME) finds the platform home
    found = subprocess.run([sys.executable, "-c", "from lcdp.settings import Settings; print(Settings().home_dir)"],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                                                 "AIRFLOW_HOME": str(settings.airflow_home)})
    assert found.stdout.strip() == str(settings.home_dir)

    # the home moves: the next command that runs Airflow rewrites its paths
    moved = Settings(home=tmp_path / "moved")
    shutil.move(settings.home_dir, moved.home_dir)
    stale = (moved.airflow_home / "airflow.cfg").read_text()
    assert str(settings.home_dir) in stale and str(moved.home_dir) not in stale
    write_config(moved)
    config = (moved.airflow_home / "airflow.cfg").read_text()
    assert str(settings.home_dir) not in config and f"sqlite:///{moved.airflow_home / 'airflow.db'}" in config
    assert (moved.airflow_home / "airflow.cfg").stat().st_mode & 0o077 == 0  # it holds the JWT secret
    again = _airflow_alone(moved.airflow_home, "dags", "list", "-o", "json")
    assert again.returncode == 0 and {d["dag_id"] for d in json.loads(again.stdout.strip().splitlines()[-1])} == PLATFORM_DAGS

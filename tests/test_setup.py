"""The test suite's setup on a fresh machine: README's test command runs ``infra/bootstrap.sh
--tests``, whose ``infra/test-postgres.sh`` brings up the PostgreSQL the suite needs (a stopped
server is started; the ``test`` database is there afterwards)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa

from conftest import PG_ADMIN_URL, readme_commands

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "infra" / "test-postgres.sh"


def as_root(*command: str) -> list[str]:
    return list(command) if os.geteuid() == 0 else ["sudo", "-n", *command]


def answers() -> bool:
    """Whether PostgreSQL on 127.0.0.1:5432 accepts connections."""
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", "-t", "2"]).returncode == 0


def suite_cluster() -> tuple[str, str]:
    """The Debian cluster the suite's PG_ADMIN_URL reaches: its version and name."""
    lines = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
    for line in lines.splitlines():
        version, name, port, *_ = line.split()
        if port == "5432":
            return version, name
    raise AssertionError(f"no PostgreSQL cluster on port 5432:\n{lines}")


def database_names() -> set[str]:
    engine = sa.create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


def test_readme_test_command_sets_up_postgresql_as_ci_does():
    command = readme_commands()["tests"]
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert command.startswith("bash infra/bootstrap.sh --tests && ")
    assert ci[-1] == command


def test_bootstrap_refuses_an_unknown_option_before_doing_anything():
    proc = subprocess.run(["bash", str(REPO / "infra" / "bootstrap.sh"), "--test"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown option '--test' (known: --tests)" in proc.stderr


def test_a_ready_server_is_left_as_it_is():
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # one line: nothing started, installed, trusted or created
    [line] = proc.stdout.splitlines()
    assert line.endswith('answers on 127.0.0.1:5432 (trust auth), database "test" ready'), line


def test_a_stopped_server_is_started_with_the_test_database():
    """Stops the suite's own server for a few seconds; it is started again whatever happens."""
    assert shutil.which("pg_ctlcluster"), "this test drives Debian's cluster tools (postgresql-common)"
    version, name = suite_cluster()
    try:
        subprocess.run(as_root("pg_ctlcluster", version, name, "stop"), check=True, capture_output=True, timeout=60)
        assert not answers()
        proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert f"starting PostgreSQL {version} cluster '{name}'" in proc.stdout
        assert answers()
        assert "test" in database_names()
    finally:
        if not answers():
            subprocess.run(as_root("pg_ctlcluster", version, name, "start"), capture_output=True, timeout=60)
            deadline = time.monotonic() + 30
            while not answers() and time.monotonic() < deadline:
                time.sleep(0.5)

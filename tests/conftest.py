"""Shared fixtures: a fresh platform home per test, one embedded Sail engine per session, a
throwaway PostgreSQL database, and small generated partner data sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

from lcdp.lake import engine
from lcdp.generator import Manifest, WorldParams, generate
from lcdp.service.background import BackgroundService
from lcdp.settings import Settings

# CI explores the same examples every run (a red build should be reproducible); local runs
# keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PG_ADMIN_URL = os.environ.get("LCDP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", pseudonym_key="test-key-0123456789abcdef")


@pytest.fixture(scope="session")
def spark():
    session = engine.spark(Settings())
    yield session
    engine.stop()


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database on 127.0.0.1:5432 (its SQLAlchemy URL), dropped afterwards.
    Fails (never skips) when the server is not there: production runs on PostgreSQL."""
    name = f"lcdp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from lcdp import metadata

        metadata.engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (the metadata backend production uses)."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_settings(request, settings: Settings) -> Settings:
    """``settings`` on each metadata backend: SQLite in the home, and a fresh PostgreSQL
    database (production's), so keys, audit, leases and pins are tested on both."""
    if request.param == "sqlite":
        return settings
    return settings.model_copy(update={"metadata_url": request.getfixturevalue("pg_url")})


@pytest.fixture(scope="session")
def dirty_data(tmp_path_factory) -> tuple[Path, Manifest]:
    """Two months of partner files for 120 merchants with 5 % of records corrupted."""
    out = tmp_path_factory.mktemp("partner-data")
    manifest = generate(out, WorldParams(merchants=120, months=2, seed=3), dirty=0.05)
    return out, manifest


def write_kona(path: Path, rows: list[str], encoding: str = "cp949", header: str | None = None) -> Path:
    """A kona CSV from data lines (header added)."""
    head = header or "tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id"
    path.write_bytes(("\r\n".join([head, *rows]) + "\r\n").encode(encoding))
    return path


def kona_row(tx_id: str = "T00000001", card: str = "CARD00000001", frcs: str = "1234567890",
             ts: str = "2024-03-01 12:00:00", amount: str = "15000", channel: str = "카드",
             age: str = "20대", gender: str = "남", fund: str = "", orig: str = "") -> str:
    return ",".join([tx_id, card, frcs, ts, amount, channel, age, gender, fund, orig])


class Service(BackgroundService):
    """The service on a free loopback port, with a helper to make keys for it."""

    def key(self, role: str, subject: str, **kwargs) -> dict[str, str]:
        from lcdp import keys

        return {"Authorization": f"Bearer {keys.create(self.settings.metadata_db_url, role, subject, **kwargs)}"}


LCDP = str(Path(sys.executable).with_name("lcdp"))


def lcdp_json(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    """``lcdp --json ARGS`` in a child process with ``settings`` as its environment."""
    env = {"PATH": "/usr/bin:/bin", **settings.as_env()}
    return subprocess.run([LCDP, "--json", *args], capture_output=True, text=True, timeout=600, env=env)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    """The JSON object a ``--json`` command printed last."""
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: the suite's demo world: README's demo command as it stands (README's figures are this
#: run's), so no option is added
DEMO_SIZE: tuple[str, ...] = ()


def readme_commands() -> dict[str, str]:
    """README's two commands, by what they do: ``demo`` and ``tests``."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return {"demo": next(line for line in lines if "lcdp demo" in line),
            "tests": next(line for line in lines if "pytest" in line)}


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> dict:
    """A platform home made by README's demo command (bootstrap included), at ``DEMO_SIZE``:
    its ``home``, the ``command`` that made it and the demo's ``summary``. Shared by the
    dashboard's browser test, the documentation's examples, README's figures and ``lcdp up``
    on a finished demo's home. ``LCDP_TEST_DEMO_HOME`` names
    a demo home to reuse instead (while working on the pages or the docs)."""
    reuse = os.environ.get("LCDP_TEST_DEMO_HOME")
    if reuse:  # the summary the demo kept beside its partner data
        kept = sorted(Path(reuse).glob("demo/*/summary.json"))
        return {"home": Path(reuse), "command": None,
                "summary": json.loads(kept[-1].read_text(encoding="utf-8")) if kept else None}
    home = tmp_path_factory.mktemp("demo") / "home"
    command = " ".join([readme_commands()["demo"], "--json", *DEMO_SIZE])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LCDP_")} | {"LCDP_HOME": str(home)}
    proc = subprocess.run(["bash", "-c", command], cwd=Path(__file__).resolve().parents[1], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"home": home, "command": command, "summary": last_json(proc)}

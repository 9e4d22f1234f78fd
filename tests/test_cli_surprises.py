"""The command line as a new user meets it: a wrong home, a dead database, options in the
wrong place, piped output, keys, lineage versions, a busy port. Every error is one line on
stderr and exit 2; nothing surprises."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from lcdp.service.background import free_port
from tests.conftest import kona_row, write_kona

LCDP = str(Path(sys.executable).with_name("lcdp"))
ENV = {**os.environ, "LCDP_PSEUDONYM_KEY": "cli-surprise-key-0123456789"}


def lcdp(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([LCDP, *args], capture_output=True, text=True, env=env or ENV, timeout=300)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    return lines[0]


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def made_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    proc = lcdp("--home", str(home), "init")
    assert proc.returncode == 0, proc.stderr
    return home


def test_a_home_must_exist_and_be_a_folder(tmp_path):
    missing = tmp_path / "typo"
    delivery = write_kona(tmp_path / "day.csv", [kona_row()])
    for args in (["status"], ["fuse"], ["maintain"], ["keys", "list"], ["serve"], ["lineage", "gold.spending_cube"],
                 ["ingest", "kona", "transactions", str(delivery)]):
        assert "no platform home at" in one_line_error(lcdp("--home", str(missing), *args)), args
    assert not missing.exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for args in (["status"], ["init"], ["demo"]):
        assert "is a file, not a platform home" in one_line_error(lcdp("--home", str(a_file), *args)), args
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "not a platform home" in one_line_error(lcdp("--home", str(plain), "status"))
    home = made_home(tmp_path)
    assert last_json(lcdp("--home", str(home), "--json", "init")) == {"home": str(home), "created": False}
    assert lcdp("--home", str(home), "status").returncode == 0


def test_an_unreachable_metadata_database_is_one_line(tmp_path):
    home = made_home(tmp_path)
    env = {**ENV, "LCDP_METADATA_URL": "postgresql+psycopg://lcdp:secret@127.0.0.1:1/none"}
    for args in (["status"], ["keys", "create", "--role", "admin", "--subject", "ops"]):
        line = one_line_error(lcdp("--home", str(home), *args, env=env))
        assert "cannot use the metadata database postgresql+psycopg://lcdp:***@127.0.0.1:1/none" in line
        assert "secret" not in line


def test_global_options_after_the_command_version_and_errors_as_json(tmp_path):
    home = made_home(tmp_path)
    status = lcdp("status", "--json", "--home", str(home))
    assert status.returncode == 0 and "tables" in last_json(status)
    assert lcdp("--version").stdout.strip().startswith("lcdp ")
    helped = lcdp("status", "--help", "--home", str(tmp_path / "typo"))
    assert helped.returncode == 0 and "--home DIR" in helped.stdout and "--json" in helped.stdout
    refused = lcdp("ingest", "nope", "transactions", "x.csv", "--home", str(home), "--json")
    assert "unknown partner 'nope'" in one_line_error(refused)
    assert last_json(refused)["exit_code"] == 2 and "unknown partner" in last_json(refused)["error"]
    assert "No such command 'frob'" in one_line_error(lcdp("--home", str(home), "frob"))
    assert "unknown log level" in one_line_error(lcdp("--home", str(home), "--log-level", "LOUD", "status"))
    assert "Missing argument" in one_line_error(lcdp("--home", str(home), "ingest", "kona"))


def test_piped_tables_are_never_cut(tmp_path):
    home = made_home(tmp_path)
    piped = lcdp("--home", str(home), "status")  # stdout is a pipe here
    assert piped.returncode == 0
    assert "quarantine.gcgf_guarantees" in piped.stdout and "…" not in piped.stdout


def test_keys_list_show_the_id_and_revoke_by_id_or_by_key(tmp_path):
    home = made_home(tmp_path)
    created = lcdp("--home", str(home), "keys", "create", "--role", "partner", "--subject", "kona")
    token = created.stdout.strip()
    _, key_id, secret = token.split("_", 2)  # the secret is URL-safe base64 and may hold "_" itself
    assert f"key id {key_id}" in created.stderr
    other = last_json(lcdp("--home", str(home), "--json", "keys", "create", "--role", "admin", "--subject", "ops"))
    listed = lcdp("--home", str(home), "--json", "keys", "list")
    rows = {k["key_id"]: k for k in last_json(listed)["keys"]}
    assert set(rows) == {key_id, other["key_id"]} and rows[key_id]["role"] == "partner"
    assert secret not in listed.stdout  # never the secret
    assert lcdp("--home", str(home), "keys", "revoke", key_id).returncode == 0
    assert lcdp("--home", str(home), "keys", "revoke", other["key"]).returncode == 0
    revoked = {k["key_id"]: k["revoked_at"] for k in last_json(lcdp("--home", str(home), "--json", "keys", "list"))["keys"]}
    assert all(revoked.values())
    assert "no key 'nothere'" in one_line_error(lcdp("--home", str(home), "keys", "revoke", "nothere"))


def test_lineage_shows_the_current_version_and_refuses_others(tmp_path):
    home = made_home(tmp_path)
    delivery = write_kona(tmp_path / "day.csv", [kona_row()])
    assert lcdp("--home", str(home), "ingest", "kona", "transactions", str(delivery)).returncode == 0
    versions = {t["name"]: t["version"] for t in last_json(lcdp("--home", str(home), "--json", "status"))["tables"]}
    shown = last_json(lcdp("--home", str(home), "--json", "lineage", "bronze.kona_transactions"))
    assert shown["version"] == versions["bronze.kona_transactions"] and len(shown["uploads"]) == 1
    for bad in ("99", "-1"):
        assert "has no version" in one_line_error(lcdp("--home", str(home), "lineage", "bronze.kona_transactions",
                                                        "--version", bad))
    assert "has not been written yet" in one_line_error(lcdp("--home", str(home), "lineage", "gold.spending_cube"))
    assert "no table 'gold.nothing'" in one_line_error(lcdp("--home", str(home), "lineage", "gold.nothing"))


def test_serve_says_where_it_listens_and_when_its_port_is_taken(tmp_path):
    home = made_home(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(lcdp("--home", str(home), "serve", "--port", str(port)))
        assert f"port {port} on 127.0.0.1 is taken" in line
    port = free_port()
    server = subprocess.Popen([LCDP, "--home", str(home), "serve", "--port", str(port)], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stderr.readline()
        assert f"http://127.0.0.1:{port}" in first
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=30)


HEAVY = {"pyspark", "deltalake", "sqlalchemy", "airflow", "structlog", "pydantic_settings", "fastapi", "pandas", "duckdb"}
PROBE = """
import atexit, sys
from lcdp.cli import run
sys.argv = ["lcdp", *sys.argv[1:]]
# lcdp ends with its exit hooks then os._exit: report from an exit hook of our own
atexit.register(lambda: print("LOADED", ",".join(sorted({m.split(".")[0] for m in sys.modules} & set(%r))),
                              file=sys.stderr, flush=True))
run()
"""


def test_help_and_refusals_load_no_heavy_library(tmp_path):
    """Help and early refusals answer before any engine, database or web library loads (their
    imports cost seconds; ``lcdp bench`` is the place for timings, this checks the cause)."""
    probe = PROBE % (sorted(HEAVY),)
    for args in (["--help"], ["status", "--help"], ["ingest", "nope", "transactions", "x.csv"],
                 ["--home", str(tmp_path / "typo"), "status"], ["--version"]):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=ENV, timeout=120)
        loaded = next(line for line in proc.stderr.splitlines() if line.startswith("LOADED"))
        assert loaded == "LOADED ", (args, loaded)


def test_a_long_history_starts_early_enough_to_end_by_last_month(tmp_path):
    """``demo --months 36`` once refused itself ("reach into the future"): the first month is
    2024-01 when the history fits, else the latest month from which it ends by last month."""
    import datetime as dt

    from lcdp.generator import default_start

    november = dt.date(2026, 11, 23)
    assert default_start(12, november) == default_start(34, november) == "2024-01"
    assert default_start(36, november) == "2023-11"  # 2023-11 … 2026-10
    assert default_start(72, dt.date(2027, 1, 1)) == "2021-01"  # 2021-01 … 2026-12
    proc = lcdp("generate", "--out", str(tmp_path / "data"), "--merchants", "10", "--months", "72")
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["params"]["start"] == default_start(72)

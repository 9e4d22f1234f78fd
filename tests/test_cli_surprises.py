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
import pytest

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


def _time_wait_port() -> int:
    """A port nothing listens on whose server side closed a connection first, so it waits out
    TIME_WAIT: what a browser or keep-alive client leaves behind when ``lcdp down`` stops the
    service."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's listener
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server closes first: its side of the connection enters TIME_WAIT
        time.sleep(0.2)
        client.close()
    return port


def test_a_port_left_in_time_wait_is_free_to_serve_and_up_alike(tmp_path):
    """`lcdp serve` bound its check without SO_REUSEADDR, the supervisor with it: after a
    keep-alive client, `lcdp down && lcdp up` passed up's check and the service died on its
    own ("port taken" while nothing listened), leaving the other services running. Both now
    ask one function, which binds as the servers themselves do."""
    from lcdp.runstate import bind_problem

    port = _time_wait_port()
    with socket.socket() as plain, pytest.raises(OSError):  # the old check (no SO_REUSEADDR): refused
        plain.bind(("127.0.0.1", port))
    assert bind_problem("127.0.0.1", port) is None
    home = made_home(tmp_path)
    server = subprocess.Popen([LCDP, "--home", str(home), "serve", "--port", str(port)], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert f"http://127.0.0.1:{port}" in server.stderr.readline()
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert bind_problem("127.0.0.1", port) == f"port {port} on 127.0.0.1 is taken by another program"
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


def test_the_generated_world_s_calendar_never_depends_on_today(tmp_path):
    """The world once started at a month computed from today's date, so the seed-7 figures
    README quotes moved every month. Its first month is now fixed by its own calendar: 2023-01,
    or early enough for a long history to end by 2025-12; ``--start`` moves it."""
    from lcdp.generator import default_start

    assert default_start(12) == default_start(36) == "2023-01"  # 2023-01 … 2025-12 at most
    assert default_start(48) == "2022-01" and default_start(72) == "2020-01"  # … 2025-12
    proc = lcdp("generate", "--out", str(tmp_path / "data"), "--merchants", "10", "--months", "72")
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["params"]["start"] == "2020-01"
    moved = lcdp("generate", "--out", str(tmp_path / "moved"), "--merchants", "10", "--months", "3",
                 "--start", "2024-05")
    assert moved.returncode == 0, moved.stderr[-2000:]
    assert json.loads((tmp_path / "moved" / "manifest.json").read_text())["params"]["start"] == "2024-05"


def test_models_shows_counts_as_counts_and_says_why_the_oracle_is_empty(tmp_path):
    """A version trained without --oracle: ``event_businesses 92``, not ``92.0000``, and a
    line saying what would fill the empty oracle column."""
    import mlflow

    from lcdp.settings import Settings
    from models import tracking

    home = made_home(tmp_path)
    settings = Settings(home=home)
    with tracking.quiet_libraries(), tracking.run(settings, "credit-risk", run_name="by hand") as run:
        mlflow.log_metrics({"holdout_auc": 0.816849, "holdout_event_businesses": 92.0, "holdout_events": 389.0})
    client = tracking.client(settings)
    client.create_registered_model("lcdp-credit-risk")
    client.create_model_version("lcdp-credit-risk", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    shown = lcdp("--home", str(home), "models", env={**ENV, "COLUMNS": "300"})
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "auc 0.8168" in shown.stdout and "event_businesses 92 " in shown.stdout, shown.stdout
    assert "92.0000" not in shown.stdout
    assert "oracle: empty for a version trained without --oracle DIR" in " ".join(shown.stdout.split())

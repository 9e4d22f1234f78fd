"""The platform as services (``lcdp up``): started on loopback with PostgreSQL metadata,
partner data delivered through the real channels, and the scheduler (not us) runs the feed
DAGs, then fusion, models and exports through their Assets; every service healthy; then
``lcdp down`` leaves no process of ours behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from deltalake import DeltaTable

from conftest import LCDP, last_json, lcdp_json
from lcdp import demo, metadata
from lcdp.generator import WorldParams, generate
from lcdp.lake import catalog
from lcdp.ops.airflow_api import AirflowApi
from lcdp.demo.scheduled import FEEDS, wait_for_pipeline
from lcdp.ops.supervisor import MARKER
from lcdp.pull.simulator import PortalSimulator
from lcdp.settings import Settings

KEY = "services-test-key-0123456789"
POLL_SECONDS = 10
SERVICES = ["spark", "mlflow", "service", "airflow-api", "airflow-dag-processor", "airflow-scheduler"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _ours(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and (proc.environ().get(MARKER) == str(home)
                                            or str(home) in " ".join(proc.cmdline())):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _lcdp(settings: Settings, *args: str, **env: str):
    """``lcdp --json ARGS`` with the settings' environment and ``env`` (what an operator exports)."""
    return subprocess.run([LCDP, "--json", *args], capture_output=True, text=True, timeout=900,
                          env={"PATH": "/usr/bin:/bin", **settings.as_env(), **env})


def _by_name(payload: dict) -> dict[str, dict]:
    return {s["name"]: s for s in payload["services"]}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_lcdp_up_runs_the_pipeline_by_itself_and_down_leaves_nothing(pg_url, tmp_path):
    data = tmp_path / "partners"
    manifest = generate(data, WorldParams(merchants=30, months=4, seed=11), dirty=0.02)
    airflow_port, mlflow_port, spark_port, service_port = _free_ports(4)
    settings = Settings(home=tmp_path / "home", metadata_url=pg_url, pseudonym_key=KEY, airflow_port=airflow_port,
                        mlflow_port=mlflow_port, spark_port=spark_port, service_port=service_port,
                        feed_poll_seconds=POLL_SECONDS)
    assert lcdp_json(settings, "init").returncode == 0
    with PortalSimulator(demo._registry_rows(data, manifest), key="portal-key") as portal:
        source = {"LCDP_GGDATA_URL": portal.url, "LCDP_GGDATA_KEY": "portal-key"}  # the registry feed's source
        try:
            up = _lcdp(settings, "up", **source)
            assert up.returncode == 0, up.stderr[-3000:]
            started = _by_name(last_json(up))
            assert list(started) == SERVICES
            assert all(s["state"] == "running" and s["healthy"] for s in started.values()), started

            # idempotent: a second `up` leaves every running service alone
            again = _by_name(last_json(_lcdp(settings, "up", **source)))
            assert {n: s["pid"] for n, s in again.items()} == {n: s["pid"] for n, s in started.items()}

            # a service that died leaves a stale pid: ps says so, up cleans it and starts it again
            os.killpg(started["service"]["pid"], signal.SIGKILL)
            time.sleep(1)
            assert _by_name(last_json(lcdp_json(settings, "ps")))["service"]["state"] == "stale"
            restarted = _by_name(last_json(_lcdp(settings, "up", **source)))
            assert restarted["service"]["pid"] != started["service"]["pid"] and restarted["service"]["healthy"]

            # deliveries through the real channels; from here no command starts a DAG
            for partner, dataset in (("kona", "transactions"), ("gjf", "employment")):
                demo.drop_files(settings, data, manifest, partner, dataset)
            demo.upload_feeds(settings, data, manifest, f"http://127.0.0.1:{service_port}")
            with AirflowApi(settings) as api:
                runs = wait_for_pipeline(api, POLL_SECONDS, 1200, lambda m: print(m, flush=True))
                assert set(runs) == {*FEEDS, "lcdp_fusion", "lcdp_models", "lcdp_exports"}
                assert all(api.runs(dag)[0]["run_type"] != "manual" for dag in runs)  # the scheduler's runs

            health = _by_name(last_json(lcdp_json(settings, "ps")))
            assert all(s["healthy"] for s in health.values()), health
        finally:
            down = lcdp_json(settings, "down")
    assert down.returncode == 0, down.stderr
    assert set(last_json(down)["stopped"]) == set(SERVICES)
    assert _ours(settings.home_dir) == []
    assert last_json(lcdp_json(settings, "ps"))["services"][0]["state"] == "stopped"

    # the tables hold every delivery: rows in = bronze + quarantine for each, silver and gold agree
    uploads = [u for u in metadata.list_uploads(pg_url) if not u.duplicate_of]
    assert {f"{u.partner}.{u.dataset}" for u in uploads} == {
        "ggdata.merchants", "kona.transactions", "gjf.employment", "ked.credit", "gcgf.guarantees"}
    for feed in {(u.partner, u.dataset) for u in uploads}:
        mine = [u for u in uploads if (u.partner, u.dataset) == feed]
        bronze = catalog.row_count(f"bronze.{feed[0]}_{feed[1]}", settings)
        assert bronze == sum(u.rows_valid for u in mine) > 0
        assert sum(u.rows_in for u in mine) == bronze + catalog.row_count(f"quarantine.{feed[0]}_{feed[1]}", settings)
    transactions = DeltaTable(catalog.table("silver.transactions").uri(settings)).to_pyarrow_table()
    cube = DeltaTable(catalog.table("gold.spending_cube").uri(settings)).to_pyarrow_table()
    assert transactions.num_rows > 0
    assert sum(transactions.column("net_amount").to_pylist()) == sum(cube.column("spending").to_pylist())
    assert catalog.row_count("silver.merchants", settings) == 30
    assert catalog.row_count("gold.merchant_month_features", settings) > 0
    assert catalog.row_count("gold.export_spending", settings) > 0

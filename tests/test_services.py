"""The platform as services (``lcdp up``): started on loopback with PostgreSQL metadata,
partner data delivered through the real channels, and the scheduler (not us) runs the feed
DAGs, then fusion, models and exports through their Assets; every service healthy; then
``lcdp down`` leaves no process of ours behind."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest
from deltalake import DeltaTable

from conftest import LCDP, last_json, lcdp_json
from lcdp import demo, metadata
from lcdp.generator import WorldParams, generate
from lcdp.lake import catalog
from lcdp.ops.airflow_api import AirflowApi
from lcdp.demo.scheduled import FEEDS, published_at, wait_for_pipeline
from lcdp.ops.supervisor import MARKER
from lcdp.pull.simulator import PortalSimulator
from lcdp.settings import Settings

KEY = "services-test-key-0123456789"
POLL_SECONDS = 10
SERVICES = ["spark", "mlflow", "service", "airflow-api", "airflow-dag-processor", "airflow-scheduler",
            "airflow-triggerer"]
DOWNSTREAM = ["lcdp_fusion", "lcdp_models", "lcdp_exports", "lcdp_maintenance"]


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
                assert set(runs) == {*FEEDS, *DOWNSTREAM}
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


def _after(runs: list[dict], since: dt.datetime) -> list[dict]:
    return [r for r in runs if dt.datetime.fromisoformat(r["run_after"].replace("Z", "+00:00")) >= since]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_up_on_the_demo_s_home_runs_nothing_and_down_up_at_once_comes_back(demo_home, tmp_path):
    """On a finished demo's home, ``lcdp up`` once ran every DAG again on unchanged data
    (fusion twice, a new version of each model, every product, maintenance), the registry feed
    failed for want of its URL, Airflow's health showed no triggerer, and ``down && up`` after
    a keep-alive client failed for a minute (the port check refused TIME_WAIT sockets). Now:
    seven healthy services, the feed without its settings paused with the reason, no downstream
    run, no new version of any table or model, and ``down && up`` at once comes back."""
    home = tmp_path / "home"
    shutil.copytree(demo_home["home"], home, symlinks=True, ignore=shutil.ignore_patterns("run", "logs"))
    airflow_port, mlflow_port, spark_port, service_port = _free_ports(4)
    settings = Settings(home=home, airflow_port=airflow_port, mlflow_port=mlflow_port, spark_port=spark_port,
                        service_port=service_port)
    unset = {"LCDP_GGDATA_URL": "", "LCDP_GGDATA_KEY": ""}
    tables = {t["name"]: t["version"] for t in last_json(_lcdp(settings, "status"))["tables"]}
    models = last_json(_lcdp(settings, "models"))
    since = dt.datetime.now(dt.timezone.utc)
    try:
        up = _lcdp(settings, "up", **unset)
        assert up.returncode == 0, up.stderr[-3000:]
        assert "ggdata.merchants: paused until LCDP_GGDATA_URL and LCDP_GGDATA_KEY are set" in up.stderr
        states = _by_name(last_json(up))
        assert list(states) == SERVICES and all(s["healthy"] for s in states.values()), states
        with AirflowApi(settings) as api:
            health = api.get("/api/v2/monitor/health")
            assert {k: v["status"] for k, v in health.items()} == dict.fromkeys(
                ("metadatabase", "scheduler", "triggerer", "dag_processor"), "healthy"), health
            assert api.get("/api/v2/dags/lcdp_feed_ggdata_merchants")["is_paused"]
            # give the scheduler time to start whatever it would on this home; then an operator
            # polls a feed by hand: it finds nothing new and publishes nothing
            time.sleep(60)
            poll = api.trigger("lcdp_feed_kona_transactions")
            deadline = time.monotonic() + 300
            while (state := api.runs("lcdp_feed_kona_transactions", limit=1)[0]["state"]) in ("queued", "running"):
                assert time.monotonic() < deadline, "the feed's run did not finish in 300 s"
                time.sleep(3)
            assert state == "success"
            assert api.task_states("lcdp_feed_kona_transactions", poll["dag_run_id"]) == {"pull": "skipped"}
            time.sleep(30)  # what a published Asset would have started, it would have by now
            for feed in FEEDS:  # the scheduler's own polls (due on their schedules) found nothing either
                for run in _after(api.runs(feed), since):
                    assert api.task_states(feed, run["dag_run_id"]).get("pull") in ("skipped", None), (feed, run)
            assert _after(api.runs(FEEDS[0]), since) == []  # paused
            assert {d: _after(api.runs(d), since) for d in DOWNSTREAM} == dict.fromkeys(DOWNSTREAM, [])
        # the task's log holds the platform's lines at their level (they were all "error", or absent)
        [log] = [p for p in (home / "airflow" / "logs").rglob("*.log") if poll["dag_run_id"] in str(p)]
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        assert {"event": "drop.pulled", "level": "info"}.items() <= next(
            (line for line in lines if line.get("event") == "drop.pulled"), {}).items(), lines
        assert [line for line in lines if line.get("level") == "error"] == []

        # a browser session (keep-alive) on the service, then down && up at once
        with httpx.Client(base_url=f"http://127.0.0.1:{service_port}") as browser:
            for path in ("/healthz", "/dashboard/login", "/docs"):
                assert browser.get(path).status_code == 200
            down = _lcdp(settings, "down")
            assert down.returncode == 0, down.stderr[-2000:]
            again = _lcdp(settings, "up", **unset)
        assert again.returncode == 0, again.stderr[-3000:]
        assert all(s["healthy"] for s in _by_name(last_json(again)).values())
    finally:
        _lcdp(settings, "down")
    assert {t["name"]: t["version"] for t in last_json(_lcdp(settings, "status"))["tables"]} == tables
    assert last_json(_lcdp(settings, "models")) == models


def test_up_stops_what_it_started_when_a_service_fails_to_start(tmp_path, monkeypatch):
    """When the service died at start (the port check's TIME_WAIT refusal), ``up`` reported it
    and left Spark, MLflow and the Airflow api-server running. Now what one ``up`` started stops
    again when a later service fails: here real processes, one healthy, one that exits."""
    from lcdp.errors import ServiceError
    from lcdp.ops import supervisor
    from lcdp.ops.services import Service
    from lcdp.runstate import read_state

    settings = Settings(home=tmp_path / "home", pseudonym_key="stop-on-failure-key-0123456789")
    healthy = Service("first", ["sleep", "300"], "http://127.0.0.1:1", lambda: (True, "up"))
    failing = Service("second", ["false"], "http://127.0.0.1:2", lambda: (False, "no answer"), after="first")
    monkeypatch.setattr(supervisor, "services", lambda _settings: [healthy, failing])
    events: list[str] = []
    with pytest.raises(ServiceError, match="second exited while starting"):
        supervisor.up(settings, timeout_s=30, on_event=events.append)
    assert any(e.startswith("first: stopping") for e in events), events
    assert read_state(settings, "first") is None and read_state(settings, "second") is None
    time.sleep(1)
    assert [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "300"]] == []


def _month_of(entry) -> str | None:
    """``YYYYMM`` of a monthly or daily partner file (from its name), None for a snapshot file."""
    digits = "".join(c for c in Path(entry.path).stem if c.isdigit())
    return digits[:6] if len(digits) >= 6 else None


def _registry_as_of(rows: list[dict], world, last: int) -> list[dict]:
    """The registry as the portal served it at the end of month index ``last``: businesses that
    opened later absent, closures after it not yet recorded."""
    biz = world.businesses.set_index("frcs_no")
    out = []
    for row in rows:
        b = biz.loc[row["FRCS_NO"]]
        if b["opened_idx"] > last:
            continue
        if b["closed_idx"] > last:
            state = "02" if b["suspended"] else "01"
            row = row | {"LEAD_TAX_MAN_STATE_CD": state, "CLSBIZ_DAY": "",
                         "LEAD_TAX_MAN_STATE": {"01": "계속사업자", "02": "휴업자"}[state]}
        out.append(row)
    return out


def _guarantees_as_of(source: Path, target: Path, month_after: dt.date) -> None:
    """gcgf's snapshot as it stood before ``month_after``: the defaults of that month not yet recorded."""
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["default_date"] and record["default_date"] >= month_after.isoformat():
            record |= {"status": "ACTIVE", "default_date": None, "subrogation_amount": None}
        lines.append(json.dumps(record, ensure_ascii=False))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _months(frame):
    """``frame`` with its ``month`` column as dates."""
    return frame.assign(month=frame["month"].map(lambda m: dt.date(m.year, m.month, m.day)))


def _deliver(settings: Settings, data: Path, manifest, service_port: int) -> None:
    """Every partner's files of ``manifest`` through its real channel (the registry aside: the portal serves it)."""
    for partner, dataset in (("kona", "transactions"), ("gjf", "employment")):
        demo.drop_files(settings, data, manifest, partner, dataset)
    demo.upload_feeds(settings, data, manifest, f"http://127.0.0.1:{service_port}")


def _wait_for_models_after(api: AirflowApi, since: dt.datetime, timeout_s: float) -> list[dict]:
    """The scheduler's lcdp_models runs started after every feed had published since ``since``,
    once one of them has succeeded and fusion and models have been quiet for three poll periods."""
    deadline = time.monotonic() + timeout_s
    published: dict[str, dt.datetime] = {}
    seen: set[str] = set()  # feed runs already looked at (a feed polls every few seconds)
    quiet_since = None
    while True:
        assert time.monotonic() < deadline, {d: [(r["run_type"], r["state"]) for r in _after(api.runs(d), since)]
                                             for d in [*FEEDS, *DOWNSTREAM]}
        for feed in (f for f in FEEDS if f not in published):
            # by the pull's end, not the run's run_after: a poll queued just before the delivery
            # picks it up
            for run in api.runs(feed, limit=100):
                if run["state"] != "success" or run["dag_run_id"] in seen:
                    continue
                seen.add(run["dag_run_id"])
                if (when := published_at(api, feed, run["dag_run_id"])) and when >= since:
                    published[feed] = when
                    print(f"{feed}: published the new month", flush=True)
                    break
        busy, done = False, []
        for dag_id in ("lcdp_fusion", "lcdp_models"):
            runs = _after(api.runs(dag_id, limit=50), since)
            failed = [r for r in runs if r["state"] == "failed"]
            assert not failed, (dag_id, api.task_states(dag_id, failed[0]["dag_run_id"]))
            busy |= any(r["state"] in ("queued", "running") for r in runs)
            if dag_id == "lcdp_models" and len(published) == len(FEEDS):
                done = [r for r in runs if r["state"] == "success" and dt.datetime.fromisoformat(
                    r["start_date"].replace("Z", "+00:00")) >= max(published.values())]
        if done and not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 3 * POLL_SECONDS:
                return done
        else:
            quiet_since = None
        time.sleep(5)


@pytest.mark.long
@pytest.mark.timeout(2700)
def test_a_new_month_landing_under_up_runs_the_models_dag_and_monitors_that_month(pg_url, tmp_path):
    """Under ``lcdp up``, a partner world's first 29 months arrive and the scheduler runs the
    pipeline through to the models; then month 30 lands through the same channels (kona's days,
    ked's and gjf's month files, gcgf's and the registry's new snapshots) and, with no command
    of ours, the feeds publish it, fusion rebuilds gold and the models DAG (on the gold
    features' Assets) scores with the champions and monitors that month into
    gold.model_monitoring."""
    from lcdp.generator import Manifest, build_world

    params = WorldParams(merchants=150, months=30, seed=5)
    data = tmp_path / "partners"
    manifest = generate(data, params, dirty=0.0)
    world = build_world(params)
    new_month = world.months[-1]
    first = Manifest(params=manifest.params, dirty=0.0, truth=manifest.truth, files=[
        f for f in manifest.files if f.dataset != "guarantees" and _month_of(f) != f"{new_month:%Y%m}"])
    second = Manifest(params=manifest.params, dirty=0.0, truth=manifest.truth, files=[
        f for f in manifest.files if f.dataset == "guarantees" or _month_of(f) == f"{new_month:%Y%m}"])
    [snapshot] = manifest.for_dataset("gcgf", "guarantees")
    earlier = f"partners/gcgf/guarantees/before/{Path(snapshot.path).name}"
    _guarantees_as_of(data / snapshot.path, data / earlier, new_month)
    first.files.append(snapshot.model_copy(update={"path": earlier}))
    registry = demo._registry_rows(data, manifest)

    airflow_port, mlflow_port, spark_port, service_port = _free_ports(4)
    settings = Settings(home=tmp_path / "home", metadata_url=pg_url, pseudonym_key=KEY, airflow_port=airflow_port,
                        mlflow_port=mlflow_port, spark_port=spark_port, service_port=service_port,
                        feed_poll_seconds=POLL_SECONDS)
    monitoring = catalog.table("gold.model_monitoring").uri(settings)
    assert lcdp_json(settings, "init").returncode == 0
    started = time.monotonic()
    with PortalSimulator(_registry_as_of(registry, world, len(world.months) - 2), key="portal-key") as portal:
        source = {"LCDP_GGDATA_URL": portal.url, "LCDP_GGDATA_KEY": "portal-key"}
        try:
            up = _lcdp(settings, "up", **source)
            assert up.returncode == 0, up.stderr[-3000:]
            _deliver(settings, data, first, service_port)
            with AirflowApi(settings) as api:
                wait_for_pipeline(api, POLL_SECONDS, 1500, lambda m: print(m, flush=True))
                print(f"months 1..29 through the pipeline in {time.monotonic() - started:.0f} s", flush=True)
                before = _months(DeltaTable(monitoring).to_pandas())
                assert (before["month"] < new_month).all(), before  # nothing measured of month 30 yet

                # month 30 lands; from here no command starts a DAG
                since = dt.datetime.now(dt.timezone.utc)
                portal.rows = registry
                _deliver(settings, data, second, service_port)
                runs = _wait_for_models_after(api, since, 1500)
                print(f"month 30 through the models in {time.monotonic() - started:.0f} s", flush=True)
                assert {r["run_type"] for r in runs} == {"asset_triggered"}, runs  # the scheduler's, on the Assets
                # month 30 may land over two fusion runs, each starting the models DAG (and a run on
                # the other gold Asset's event of the same fusion finds nothing new and skips)
                tasks = [api.task_states("lcdp_models", r["dag_run_id"]) for r in runs]
                assert any(t["monitor"] == "success" for t in tasks), tasks
                assert any(t["score_spending_pattern"] == "success" for t in tasks), tasks
                # a credit model the gate refused has no champion: it is neither scored nor measured
                credit_scored = any(t["score_credit_risk"] == "success" for t in tasks)
                assert all(t["score_credit_risk"] in ("success", "skipped") for t in tasks), tasks
        finally:
            down = lcdp_json(settings, "down")
    assert down.returncode == 0, down.stderr
    assert _ours(settings.home_dir) == []

    after = _months(DeltaTable(monitoring).to_pandas())
    latest = after[after["month"] == new_month]
    # the spending forecasts published before the month landed, measured against what it
    # realized; and the credit champion's drift on its features, when the gate made one
    assert set(latest.loc[latest["model"] == "lcdp-spending-pattern", "measure"]) == {"wape"}, \
        after.groupby("model")["month"].max()
    assert ("psi" in set(latest.loc[latest["model"] == "lcdp-credit-risk", "measure"])) == credit_scored, latest
    assert latest["value"].notna().all()

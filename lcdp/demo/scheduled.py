"""``lcdp demo --services``: the platform as running services, its DAGs started by the scheduler.

The demo starts the services (``lcdp up``) with every feed polling its source every few
seconds, then only delivers: ggdata's registry is served by a portal simulator the feed DAG
pulls, kona and gjf files land in their drop folders, ked and gcgf push to the running service
with their own keys. From there no command of ours starts anything: the scheduler runs the feed
DAGs, and through their Assets fusion, then the models and exports DAGs. The demo watches
through Airflow's REST API until every feed has published and the downstream DAGs have run and
gone quiet, summarizes the lake, and stops the services (``lcdp down``).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable

from lcdp.errors import PipelineFailed
from lcdp.generator import Manifest, WorldParams, generate
from lcdp.settings import Settings

FEEDS = ["lcdp_feed_ggdata_merchants", "lcdp_feed_kona_transactions", "lcdp_feed_gjf_employment",
         "lcdp_feed_ked_credit", "lcdp_feed_gcgf_guarantees"]
DOWNSTREAM = ["lcdp_fusion", "lcdp_models", "lcdp_exports", "lcdp_maintenance"]
PORTAL_KEY = "demo-key"


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def published_at(api, dag_id: str, run_id: str) -> dt.datetime | None:
    """When the feed run's ``pull`` published its bronze Asset (its task's end), None when it
    published nothing. Not the run's ``end_date``: the scheduler may start the downstream run
    the Asset event queued before it marks the feed's run finished (seen: fusion started
    0.6 s before the kona run's end_date, and the wait never counted it)."""
    pull = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/pull")
    return _when(pull["end_date"]) if pull.get("state") == "success" else None


def wait_for_pipeline(api, poll_seconds: int, timeout_s: float, step: Callable[[str], None]) -> dict[str, str]:
    """Wait until every feed has published (a run whose ``pull`` succeeded) and fusion, models,
    exports and maintenance have each run after that and stayed quiet (nothing queued or running) for three
    poll periods; returns DAG id → its newest finished run's state. Raises PipelineFailed on a
    failed run of a downstream DAG, or of a feed whose retries are spent."""
    deadline = time.monotonic() + timeout_s
    published: dict[str, dt.datetime] = {}
    seen: set[str] = set()
    quiet_since: float | None = None
    while True:
        if time.monotonic() > deadline:
            missing = []
            for dag_id in (f for f in FEEDS if f not in published):
                newest = api.runs(dag_id, limit=1)
                states = api.task_states(dag_id, newest[0]["dag_run_id"]) if newest else {}
                missing.append(f"{dag_id} (newest run: {newest[0]['state'] if newest else 'none'}, {states})")
            raise PipelineFailed(f"the pipeline did not finish in {timeout_s:.0f} s"
                                 + (f"; feeds not published: {'; '.join(missing)}" if missing else ""))
        for dag_id in FEEDS:
            if dag_id in published:
                continue
            for run in api.runs(dag_id, limit=20):
                if run["state"] == "failed":
                    raise PipelineFailed(f"{dag_id} run {run['dag_run_id']} failed: see the Airflow UI or its task log")
                if run["state"] == "success" and run["dag_run_id"] not in seen:
                    seen.add(run["dag_run_id"])
                    if (when := published_at(api, dag_id, run["dag_run_id"])) is not None:
                        published[dag_id] = when
                        step(f"{dag_id}: the scheduler's run published new bronze data")
                        break
        busy = False
        latest: dict[str, str] = {}
        if len(published) == len(FEEDS):
            last_feed = max(published.values())
            for dag_id in DOWNSTREAM:
                runs = api.runs(dag_id, limit=20)
                busy |= any(r["state"] in ("queued", "running") for r in runs)
                for run in runs:
                    if run["state"] == "failed":
                        raise PipelineFailed(f"{dag_id} run {run['dag_run_id']} failed: "
                                             f"{api.task_states(dag_id, run['dag_run_id'])}")
                after = [r for r in runs if r["state"] == "success" and (_when(r["start_date"]) or last_feed) >= last_feed]
                if after:
                    latest[dag_id] = "success"
                    if f"{dag_id}:{after[0]['dag_run_id']}" not in seen:
                        seen.add(f"{dag_id}:{after[0]['dag_run_id']}")
                        step(f"{dag_id}: run {after[0]['dag_run_id']} ({after[0]['run_type']}) succeeded")
            if len(latest) == len(DOWNSTREAM) and not busy:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 3 * poll_seconds:
                    return {**{f: "success" for f in FEEDS}, **latest}
            else:
                quiet_since = None
        time.sleep(2.0)


def run_services_demo(settings: Settings, params: WorldParams, dirty: float, poll_seconds: int = 20,
                      timeout_s: float = 3600, step: Callable[[str], None] = lambda _m: None):
    from lcdp import demo
    from lcdp.ops import supervisor
    from lcdp.ops.airflow_api import AirflowApi
    from lcdp.pull.simulator import PortalSimulator

    started = time.perf_counter()
    stages: dict[str, float] = {}
    settings = settings.model_copy(update={"feed_poll_seconds": poll_seconds})
    settings.ensure_dirs()
    data = demo.partner_data(settings, params)
    step(f"generating partner data ({params.merchants} merchants, {params.months} months) in {data}")
    manifest: Manifest = generate(data, params, dirty=dirty)
    stages["generate"] = round(time.perf_counter() - started, 1)
    with PortalSimulator(demo._registry_rows(data, manifest), key=PORTAL_KEY) as portal:
        saved = {k: os.environ.get(k) for k in ("LCDP_GGDATA_URL", "LCDP_GGDATA_KEY")}
        os.environ.update({"LCDP_GGDATA_URL": portal.url, "LCDP_GGDATA_KEY": PORTAL_KEY})
        try:
            t = time.perf_counter()
            step(f"starting the services (lcdp up), feeds polling every {poll_seconds} s")
            supervisor.up(settings, on_event=step)
            stages["up"] = round(time.perf_counter() - t, 1)
            try:
                t = time.perf_counter()
                for partner, dataset in (("kona", "transactions"), ("gjf", "employment")):
                    step(f"{partner}: files dropped into {settings.drop_root / partner / dataset}")
                    demo.drop_files(settings, data, manifest, partner, dataset)
                step("ked, gcgf: partners push their files to the running service")
                demo.upload_feeds(settings, data, manifest, f"http://127.0.0.1:{settings.service_port}")
                step("waiting for the scheduler: feeds, then fusion, models and exports on their Assets")
                with AirflowApi(settings) as api:
                    runs = wait_for_pipeline(api, poll_seconds, timeout_s, step)
                stages["scheduled_pipeline"] = round(time.perf_counter() - t, 1)
                health = supervisor.describe(supervisor.status(settings))
                summary = demo.summarize(settings, params, data, runs, stages, started, step)
            finally:
                step("stopping the services (lcdp down)")
                supervisor.down(settings, on_event=step)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return summary.model_copy(update={"services": health, "seconds": round(time.perf_counter() - started, 1)})

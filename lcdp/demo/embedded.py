"""``lcdp demo``: the DAGs run one after another in-process by ``airflow dags test``.

- ``ggdata`` is pulled by its Airflow feed DAG from a portal simulator (the real envelope,
  with a 5xx injected on page 1 to show the retry);
- ``kona`` and ``gjf`` are dropped as files and picked up by their Airflow feed DAGs;
- ``ked`` and ``gcgf`` push their files to the upload API with their own partner keys, and
  their feed DAGs publish what arrived;
- the fusion DAG then builds silver and gold, the models DAG trains, gates and scores the
  credit-risk and spending models (with the generator's oracle beside them), the exports DAG
  builds the disclosure-controlled data products, and the maintenance DAG compacts the lake.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from lcdp.demo import DemoSummary, _registry_rows, drop_files, partner_data, summarize, upload_feeds
from lcdp.generator import Manifest, WorldParams, generate
from lcdp.ops import airflow_runner
from lcdp.settings import Settings


def _upload_feeds(settings: Settings, data: Path, manifest: Manifest) -> None:
    """Push ked and gcgf through the upload API of a service started for the demo."""
    from lcdp.service.background import BackgroundService

    with BackgroundService(settings) as service:
        upload_feeds(settings, data, manifest, service.url)


def run_demo(settings: Settings, params: WorldParams, dirty: float,
             step: Callable[[str], None] = lambda _m: None) -> DemoSummary:
    from lcdp.pull.simulator import PortalSimulator

    started = time.perf_counter()
    stages: dict[str, float] = {}
    settings.ensure_dirs()
    log_file = settings.home_dir / "demo-airflow.log"
    data = partner_data(settings, params)

    def stage(name: str, message: str, work: Callable[[], object]) -> object:
        step(message)
        t = time.perf_counter()
        result = work()
        stages[name] = round(time.perf_counter() - t, 1)
        return result

    manifest: Manifest = stage("generate", f"generating partner data ({params.merchants} merchants, "
                               f"{params.months} months) in {data}", lambda: generate(data, params, dirty=dirty))
    stage("airflow_prepare", "preparing Airflow (db migrate, reserialize DAGs)",
          lambda: airflow_runner.prepare(settings, log_file))
    runs: dict[str, str] = {}

    def pull_registry() -> None:
        with PortalSimulator(_registry_rows(data, manifest), key="demo-key", faults={1: ["http500"]}) as portal:
            run = airflow_runner.run_dag(settings, "lcdp_feed_ggdata_merchants",
                                         {"source": portal.url, "key": "demo-key"}, log_file)
        runs["lcdp_feed_ggdata_merchants"] = run["state"]

    stage("ggdata_http_pull", "ggdata: Airflow pulls the registry from the portal API (simulated, one 5xx)", pull_registry)

    def drop_and_pull(partner: str, dataset: str) -> None:
        drop_files(settings, data, manifest, partner, dataset)
        dag_id = f"lcdp_feed_{partner}_{dataset}"
        # the files were copied whole just now: no need to wait for them to settle
        runs[dag_id] = airflow_runner.run_dag(settings, dag_id, {"settle_seconds": 0}, log_file)["state"]

    for partner, dataset in (("kona", "transactions"), ("gjf", "employment")):
        stage(f"{partner}_file_drop", f"{partner}: files dropped, Airflow picks them up",
              lambda p=partner, d=dataset: drop_and_pull(p, d))
    def push_and_publish() -> None:
        _upload_feeds(settings, data, manifest)
        # the feed DAG of an upload feed publishes what arrived (its bronze Asset); run now, it
        # also leaves nothing unpublished for a scheduler started later (lcdp up) to find
        for partner, dataset in (("ked", "credit"), ("gcgf", "guarantees")):
            dag_id = f"lcdp_feed_{partner}_{dataset}"
            runs[dag_id] = airflow_runner.run_dag(settings, dag_id, {}, log_file)["state"]

    stage("upload_api", "ked, gcgf: partners push their files to the upload API, Airflow publishes them",
          push_and_publish)

    def fuse() -> None:
        # a scheduler would start this DAG on the bronze Assets the feeds just published;
        # `airflow dags test` has no scheduler, so the demo starts the run itself
        runs["lcdp_fusion"] = airflow_runner.run_dag(settings, "lcdp_fusion", {}, log_file)["state"]

    stage("fusion", "fusion: Airflow runs bronze → silver → gold", fuse)

    def models() -> None:
        # as for fusion: a scheduler would start it on the gold Assets fusion published
        runs["lcdp_models"] = airflow_runner.run_dag(settings, "lcdp_models", {"oracle": str(data)}, log_file)["state"]

    stage("models", "models: Airflow trains, gates and scores the credit-risk and spending models", models)

    def exports() -> None:
        # a scheduler would start it on the gold Assets the models DAG and fusion published
        runs["lcdp_exports"] = airflow_runner.run_dag(settings, "lcdp_exports", {}, log_file)["state"]

    stage("exports", "exports: Airflow builds the data products (disclosure control, LP audit)", exports)

    def maintain() -> None:
        runs["lcdp_maintenance"] = airflow_runner.run_dag(settings, "lcdp_maintenance", {}, log_file)["state"]

    stage("maintenance", "maintenance: Airflow compacts and vacuums every table (time travel kept)", maintain)
    # every DAG ran above; the Asset events those runs published must not start them again
    # when a scheduler comes up on this home (lcdp up)
    airflow_runner.consume_asset_queue(settings)

    return summarize(settings, params, data, runs, stages, started, step)

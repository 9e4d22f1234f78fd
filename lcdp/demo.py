"""The end-to-end demo: generate partner data, deliver every feed through its real channel,
fuse bronze into silver and gold, summarize.

- ``ggdata`` is pulled by its Airflow feed DAG from a portal simulator (the real envelope,
  with a 5xx injected on page 1 to show the retry);
- ``kona`` and ``gjf`` are dropped as files and picked up by their Airflow feed DAGs;
- ``ked`` and ``gcgf`` push their files to the upload API with their own partner keys;
- the fusion DAG then builds silver and gold, the models DAG trains, gates and scores the
  credit-risk and spending models (with the generator's oracle beside them), the exports DAG
  builds the disclosure-controlled data products, and the maintenance DAG compacts the lake.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from lcdp import airflow_runner, keys, metadata
from lcdp.lake import catalog
from lcdp.generator import Manifest, WorldParams, generate
from lcdp.settings import Settings

CONTENT_TYPES = {"ked": "text/csv", "gcgf": "application/x-ndjson"}


class DemoSummary(BaseModel):
    """``lcdp demo --json`` (BRIEF §10)."""

    tables: dict[str, int]
    ingestion: dict[str, dict[str, int]]
    channels: dict[str, str]
    models: dict[str, dict] = Field(default_factory=dict)
    exports: dict[str, dict] = Field(default_factory=dict)
    dag_runs: dict[str, str] = Field(default_factory=dict)
    partner_data: str
    seconds: float
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    services: list[dict] = Field(default_factory=list)  # lcdp demo --services: each service's health
    dashboard: str = ""  # the policy dashboard's address once `lcdp serve` runs


def _registry_rows(data: Path, manifest: Manifest) -> list[dict]:
    rows: list[dict] = []
    for entry in manifest.for_dataset("ggdata", "merchants"):
        page = json.loads((data / entry.path).read_text(encoding="utf-8"))
        rows += next(p["row"] for p in page["RegionMnyFacltStus"] if "row" in p)
    return rows


def upload_feeds(settings: Settings, data: Path, manifest: Manifest, service_url: str) -> None:
    """Push ked and gcgf through the upload API, each partner with its own key."""
    for partner, dataset in (("ked", "credit"), ("gcgf", "guarantees")):
        token = keys.create(settings.metadata_db_url, "partner", partner)
        for entry in manifest.for_dataset(partner, dataset):
            path = data / entry.path
            with open(path, "rb") as body:
                response = httpx.post(
                    f"{service_url}/v1/uploads/{partner}/{dataset}", params={"file_name": path.name},
                    content=body, timeout=600,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPES[partner]})
            if response.status_code not in (200, 201):
                raise RuntimeError(f"upload of {path.name} answered {response.status_code}: {response.text[:300]}")


def drop_files(settings: Settings, data: Path, manifest: Manifest, partner: str, dataset: str) -> None:
    """Copy a file-drop partner's files into its drop folder (modification times kept: they
    were written whole before, so the feed need not wait for them to settle)."""
    drop = settings.drop_root / partner / dataset
    drop.mkdir(parents=True, exist_ok=True)
    for entry in manifest.for_dataset(partner, dataset):
        shutil.copy2(data / entry.path, drop / Path(entry.path).name)


def _upload_feeds(settings: Settings, data: Path, manifest: Manifest) -> None:
    """Push ked and gcgf through the upload API of a service started for the demo."""
    from lcdp.service.background import BackgroundService

    with BackgroundService(settings) as service:
        upload_feeds(settings, data, manifest, service.url)


def _skipped_models(params: WorldParams, trained: dict) -> dict[str, dict]:
    """Why a model has no version: the world is shorter than its training needs."""
    from models.credit_risk.train import months_needed as credit_months
    from models.spending_pattern.train import months_needed as spending_months

    out = {}
    for name, needed in (("credit_risk", credit_months()), ("spending_pattern", spending_months())):
        if name not in trained and params.months < needed:
            out[name] = {"skipped": f"needs {needed} months of history, the world has {params.months} "
                                    f"(lcdp demo --months {max(needed, 36)})"}
    return out


def partner_data(settings: Settings, params: WorldParams) -> Path:
    return settings.home_dir / "demo" / f"seed{params.seed}-m{params.merchants}-n{params.months}"


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
    stage("upload_api", "ked, gcgf: partners push their files to the upload API",
          lambda: _upload_feeds(settings, data, manifest))

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

    return summarize(settings, params, data, runs, stages, started, step)


def summarize(settings: Settings, params: WorldParams, data: Path, runs: dict[str, str], stages: dict[str, float],
              started: float, step: Callable[[str], None] = lambda _m: None) -> DemoSummary:
    """What the lake, the registry and the metadata hold after a demo."""
    step("reading the model registry")
    from models import tracking

    model_summary = tracking.latest_versions(settings)
    model_summary.update(_skipped_models(params, model_summary))
    step("reading the data products")
    from lcdp.exports.build import export_summary

    export_summaries = export_summary(settings)
    step("counting tables")
    tables = {name: rows for name in catalog.tables() if (rows := catalog.row_count(name, settings)) is not None}
    ingestion: dict[str, dict[str, int]] = {}
    for u in metadata.list_uploads(settings.metadata_db_url):
        entry = ingestion.setdefault(f"{u.partner}.{u.dataset}", {
            "uploads": 0, "duplicates": 0, "refused": 0, "rows_in": 0, "rows_valid": 0, "rows_quarantined": 0})
        entry["uploads"] += 1
        if u.duplicate_of:
            entry["duplicates"] += 1
            continue
        entry["refused"] += u.status == "refused"
        entry["rows_in"] += u.rows_in
        entry["rows_valid"] += u.rows_valid
        entry["rows_quarantined"] += u.rows_quarantined
    return DemoSummary(
        tables=tables, ingestion=ingestion, models=model_summary, exports=export_summaries, dag_runs=runs, partner_data=str(data),
        channels={"ggdata.merchants": "http_pull (Airflow)", "kona.transactions": "file_drop (Airflow)",
                  "gjf.employment": "file_drop (Airflow)", "ked.credit": "upload API", "gcgf.guarantees": "upload API"},
        seconds=round(time.perf_counter() - started, 1), stage_seconds=stages,
        dashboard=f"{settings.service_url}/dashboard",
    )

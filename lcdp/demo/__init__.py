"""The end-to-end demo: generate a world's partner data, deliver every feed through its real
channel, run the whole pipeline, summarize.

- ``embedded``: ``lcdp demo``, the DAGs run one after another by ``airflow dags test``;
- ``scheduled``: ``lcdp demo --services``, the platform as services (``lcdp up``) and Airflow's
  scheduler running every DAG on its own.

Both deliver the same way: ``ggdata`` is pulled by its feed DAG from a portal simulator,
``kona`` and ``gjf`` are dropped as files the feed DAGs pick up, ``ked`` and ``gcgf`` push to the
upload API with their own partner keys. This module holds what they share: the world's
partner data, the deliveries, and the summary.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from lcdp import keys, metadata
from lcdp.generator import Manifest, WorldParams
from lcdp.lake import catalog
from lcdp.metadata import UploadStatus
from lcdp.settings import Settings

CONTENT_TYPES = {"ked": "text/csv", "gcgf": "application/x-ndjson"}


class DemoSummary(BaseModel):
    """``lcdp demo --json``: tables (name → rows), ingestion, models (name → version, alias,
    metrics and their ``oracle_*`` counterparts), exports (name → rows, suppressed cells), seconds.
    Also written to ``summary.json`` beside the world's partner data."""

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


def _skipped_models(params: WorldParams, trained: dict) -> dict[str, dict]:
    """Why a model has no version: the world is shorter than its training needs."""
    from lcdp.pipeline import models

    out = {}
    for model in models.names():
        name, needed = model.replace("-", "_"), models.months_needed(model)
        if name not in trained and params.months < needed:
            out[name] = {"skipped": f"needs {needed} months of history, the world has {params.months} "
                                    f"(lcdp demo --months {max(needed, 36)})"}
    return out


def partner_data(settings: Settings, params: WorldParams) -> Path:
    return settings.home_dir / "demo" / f"seed{params.seed}-m{params.merchants}-n{params.months}"


def summarize(settings: Settings, params: WorldParams, data: Path, runs: dict[str, str], stages: dict[str, float],
              started: float, step: Callable[[str], None] = lambda _m: None) -> DemoSummary:
    """What the lake, the registry and the metadata hold after a demo."""
    step("reading the model registry")
    from models import tracking

    model_summary = tracking.latest_versions(settings)
    model_summary.update(_skipped_models(params, model_summary))
    step("reading the data products")
    from lcdp.pipeline.products import export_summary

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
        entry["refused"] += u.status == UploadStatus.REFUSED
        entry["rows_in"] += u.rows_in
        entry["rows_valid"] += u.rows_valid
        entry["rows_quarantined"] += u.rows_quarantined
    summary = DemoSummary(
        tables=tables, ingestion=ingestion, models=model_summary, exports=export_summaries, dag_runs=runs, partner_data=str(data),
        channels={"ggdata.merchants": "http_pull (Airflow)", "kona.transactions": "file_drop (Airflow)",
                  "gjf.employment": "file_drop (Airflow)", "ked.credit": "upload API", "gcgf.guarantees": "upload API"},
        seconds=round(time.perf_counter() - started, 1), stage_seconds=stages,
        dashboard=f"{settings.service_url}/dashboard",
    )
    # kept beside the world's partner data: what this home's demo gave, for whoever reads
    # the home later (the test suite reuses a demo home through it)
    (data / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary

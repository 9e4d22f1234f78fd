"""The end-to-end demo: generate partner data, run the pipeline through Airflow, summarize."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from lcdp import airflow_runner, catalog, metadata
from lcdp.generator import WorldParams, generate
from lcdp.settings import Settings

INGEST_DAG = "lcdp_ingest_partner_files"


class DemoSummary(BaseModel):
    """``lcdp demo --json`` (BRIEF §10); models and exports fill in as later stages land."""

    tables: dict[str, int]
    ingestion: dict[str, dict[str, int]]
    models: dict[str, dict] = Field(default_factory=dict)
    exports: dict[str, dict] = Field(default_factory=dict)
    dag_runs: dict[str, str] = Field(default_factory=dict)
    partner_data: str
    seconds: float
    stage_seconds: dict[str, float] = Field(default_factory=dict)


def run_demo(settings: Settings, params: WorldParams, dirty: float,
             step: Callable[[str], None] = lambda _m: None) -> DemoSummary:
    started = time.perf_counter()
    stages: dict[str, float] = {}
    settings.ensure_dirs()
    log_file = settings.home_dir / "demo-airflow.log"
    drop = settings.home_dir / "demo" / f"seed{params.seed}-m{params.merchants}-n{params.months}"

    t = time.perf_counter()
    step(f"generating partner data ({params.merchants} merchants, {params.months} months) in {drop}")
    generate(drop, params, dirty=dirty)
    stages["generate"] = time.perf_counter() - t

    t = time.perf_counter()
    step("preparing Airflow (db migrate, reserialize DAGs)")
    airflow_runner.prepare(settings, log_file)
    stages["airflow_prepare"] = time.perf_counter() - t

    t = time.perf_counter()
    step(f"running DAG {INGEST_DAG} (all five partner feeds → bronze/quarantine)")
    run = airflow_runner.run_dag(settings, INGEST_DAG, {"drop": str(drop / "partners")}, log_file)
    stages["ingest_dag"] = time.perf_counter() - t

    step("counting tables")
    tables = {}
    for name in catalog.tables():
        rows = catalog.row_count(name, settings)
        if rows is not None:
            tables[name] = rows
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
        tables=tables, ingestion=ingestion, dag_runs={INGEST_DAG: run["state"]},
        partner_data=str(drop), seconds=round(time.perf_counter() - started, 1),
        stage_seconds={k: round(v, 1) for k, v in stages.items()},
    )

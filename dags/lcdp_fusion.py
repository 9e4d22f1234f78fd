"""Fusion DAG: bronze → silver → gold, scheduled on data.

It runs whenever any feed DAG publishes a bronze Asset (``lcdp://bronze/<feed>``), and each
task publishes its own silver or gold Asset (``lcdp://silver/<table>``), so the model DAGs
can schedule on those. One task per fused table of ``schemas/lake.py``, after the
tasks of the fused tables it reads. A task whose inputs did not move is skipped and publishes
nothing; its downstream tasks still run if another input moved (``none_failed``). Wiring
only: the steps live in ``lcdp.pipeline.fusion``, the Spark jobs in ``jobs/``.
"""

import datetime as dt
from pathlib import Path

import yaml
from airflow.sdk import Param, dag, task

from schemas.lake import TABLES, any_of, asset

REGISTRY = Path(__file__).resolve().parents[1] / "infra" / "feeds.yaml"
FUSED = {t.name for t in TABLES}


def _bronze_tables() -> list[str]:
    return [f"bronze.{f['partner']}_{f['dataset']}" for f in yaml.safe_load(REGISTRY.read_text())["feeds"]]


@dag(
    dag_id="lcdp_fusion",
    description="bronze → silver → gold (incremental, exactly once)",
    schedule=any_of(_bronze_tables()),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # two fusions at once would compute the same batch twice
    dagrun_timeout=dt.timedelta(hours=3),
    params={"full": Param(False, type="boolean", description="Recompute everything from bronze")},
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=2), "retry_exponential_backoff": True,
                  "execution_timeout": dt.timedelta(hours=1)},
    tags=["lcdp", "fusion"],
)
def lcdp_fusion():
    tasks = {}
    for table in TABLES:
        upstream = [name for name in table.inputs if name in FUSED]

        @task(task_id=table.name.replace(".", "_"), outlets=[asset(table.name)],
              trigger_rule="none_failed" if upstream else "all_success")
        def step(name: str = table.name, params: dict | None = None) -> dict:
            from airflow.exceptions import AirflowSkipException

            from lcdp.pipeline.airflow import task_outcome
            from lcdp.pipeline.fusion import run_step
            from lcdp.pipeline.outcome import StepStatus
            from lcdp.settings import load_settings

            with task_outcome(name):
                result = run_step(load_settings(), name, full=bool((params or {}).get("full")))
            if result.status == StepStatus.UP_TO_DATE:
                raise AirflowSkipException(f"{name} is up to date with its inputs")
            return result.model_dump(mode="json")

        tasks[table.name] = step()
        for parent in upstream:
            tasks[parent] >> tasks[table.name]


fusion_dag = lcdp_fusion()

"""Fusion DAG: bronze → silver → gold, scheduled on data.

It runs whenever any feed DAG publishes a bronze Asset (``lcdp://bronze/<feed>``), and each
task publishes its own silver or gold Asset (``lcdp://silver/<table>``), so the model DAGs
can schedule on those. A task whose inputs did not move is skipped and publishes nothing;
its downstream tasks still run if another input moved (``none_failed``). Wiring only: the
steps live in ``lcdp.lake.fusion``, the Spark jobs in ``jobs/``.
"""

import datetime as dt
from pathlib import Path

import yaml
from airflow.sdk import Asset, Param, dag, task

REGISTRY = Path(__file__).resolve().parents[1] / "infra" / "feeds.yaml"
#: step (output table) → the steps it reads, as in lcdp.lake.fusion.STEPS
STEPS = {
    "silver.merchants": [],
    "silver.transactions": ["silver.merchants"],
    "silver.credit_monthly": [],
    "silver.guarantees": [],
    "silver.employment_monthly": [],
    "gold.merchant_month_features": ["silver.transactions", "silver.merchants", "silver.credit_monthly",
                                     "silver.guarantees", "silver.employment_monthly"],
    "gold.spending_cube": ["silver.transactions"],
}


def lake_asset(name: str) -> Asset:
    layer, table = name.split(".", 1)
    return Asset(name=name, uri=f"lcdp://{layer}/{table}")


def _bronze_assets() -> list[Asset]:
    feeds = yaml.safe_load(REGISTRY.read_text())["feeds"]
    return [lake_asset(f"bronze.{f['partner']}_{f['dataset']}") for f in feeds]


def _any_of(assets: list[Asset]):
    schedule = assets[0]
    for asset in assets[1:]:
        schedule = schedule | asset
    return schedule


@dag(
    dag_id="lcdp_fusion",
    description="bronze → silver → gold (incremental, exactly once)",
    schedule=_any_of(_bronze_assets()),
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
    for name, upstream in STEPS.items():

        @task(task_id=name.replace(".", "_"), outlets=[lake_asset(name)],
              trigger_rule="none_failed" if upstream else "all_success")
        def step(table: str = name, params: dict | None = None) -> dict:
            from airflow.exceptions import AirflowFailException, AirflowSkipException

            from lcdp.lake.engine import permanent_failure
            from lcdp.lake.fusion import run_step
            from lcdp.settings import load_settings

            try:
                result = run_step(load_settings(), table, full=bool((params or {}).get("full")))
            except Exception as exc:
                reason = permanent_failure(exc)
                if reason:  # the same error again on retry: fail now, in one line, no retries
                    raise AirflowFailException(f"{table}: {reason}") from None
                raise
            if result.status == "up to date":
                raise AirflowSkipException(f"{table} is up to date with its inputs")
            return result.model_dump(mode="json")

        tasks[name] = step()
        for parent in upstream:
            tasks[parent] >> tasks[name]


fusion_dag = lcdp_fusion()

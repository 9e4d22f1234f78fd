"""Exports DAG: rebuild the disclosure-controlled data products when their sources move.

One task per product of ``schemas/lake.py`` (``gold.export_<name>``), each
publishing its table as an Asset. The DAG runs once fusion has written its last table and
whenever a model's scores that a product reads have a new version
(``export_triggers``). A product whose sources are not in the lake yet (no
champion has scored) skips, saying why, and so does one whose sources' data did not change
(a compaction is no change), publishing no Asset event; a product whose disclosure audit fails fails its
task and publishes nothing. Wiring only: the work lives in ``lcdp.pipeline.products``,
``lcdp.exports`` and ``jobs/exports``.
"""

import datetime as dt

from airflow.sdk import dag, task

from schemas.lake import PRODUCTS, any_of, asset, export_triggers


@dag(
    dag_id="lcdp_exports",
    description="build the data products (disclosure control, audit) from the gold tables",
    schedule=any_of(export_triggers()),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=2),
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=2),
                  "execution_timeout": dt.timedelta(hours=1)},
    tags=["lcdp", "exports"],
)
def lcdp_exports():
    for product in PRODUCTS:

        @task(task_id=f"build_{product.name}", outlets=[asset(product.table)])
        def build(name: str = product.name) -> dict:
            from lcdp.pipeline.airflow import task_outcome
            from lcdp.pipeline.products import build as build_product
            from lcdp.settings import load_settings

            with task_outcome(f"product {name}"):
                result = build_product(load_settings(), name)
            if result.status == "up to date":  # its sources' data did not change: no new release
                from airflow.exceptions import AirflowSkipException

                raise AirflowSkipException(f"product {name} is up to date with its sources (version {result.version})")
            return result.model_dump(mode="json", exclude={"disclosure": {"audit": {"findings"}}})

        build()


exports_dag = lcdp_exports()

"""Exports DAG: rebuild the disclosure-controlled data products when their gold sources move.

One task per product (``gold.export_<name>``), each publishing its table as an Asset. A
product whose sources are not in the lake yet (no champion has scored) skips, saying why; a
product whose disclosure audit fails fails its task and publishes nothing. Wiring only: the
work lives in ``lcdp.exports`` and ``jobs/exports``.
"""

import datetime as dt

from airflow.sdk import Asset, dag, task

#: product → its table (``lcdp.lake.catalog.EXPORT_TABLES``); declared here so parsing imports nothing heavy
PRODUCTS = {"spending": "gold.export_spending", "risk": "gold.export_risk", "forecasts": "gold.export_forecasts"}
SOURCES = ("gold.spending_cube", "gold.credit_risk_scores", "gold.spending_forecasts")


def lake_asset(name: str) -> Asset:
    layer, table = name.split(".", 1)
    return Asset(name=name, uri=f"lcdp://{layer}/{table}")


@dag(
    dag_id="lcdp_exports",
    description="build the data products (disclosure control, audit) from the gold tables",
    schedule=lake_asset(SOURCES[0]) | lake_asset(SOURCES[1]) | lake_asset(SOURCES[2]),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=2),
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=2),
                  "execution_timeout": dt.timedelta(hours=1)},
    tags=["lcdp", "exports"],
)
def lcdp_exports():
    for name, table in PRODUCTS.items():

        @task(task_id=f"build_{name}", outlets=[lake_asset(table)])
        def build(product: str = name) -> dict:
            from airflow.exceptions import AirflowSkipException

            from lcdp.exports.build import ExportUnavailable, build as build_product
            from lcdp.settings import load_settings

            try:
                result = build_product(load_settings(), product)
            except ExportUnavailable as exc:
                raise AirflowSkipException(str(exc)) from None
            return result.model_dump(mode="json", exclude={"disclosure": {"audit": {"findings"}}})

        build()


exports_dag = lcdp_exports()

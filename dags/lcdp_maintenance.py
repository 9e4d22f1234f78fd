"""Maintenance DAG: compact small files and vacuum old ones in every lake table, after each
new release of the data products (the end of the chain feeds → fusion → models → exports),
so it runs when the lake has changed and never on a lake that has not.

Retention keeps time travel: files of versions younger than ``LCDP_RETENTION_HOURS`` and of
versions pinned by models stay (``lcdp.lake.maintenance``). One mapped task per table, so a
failure names its table and the others still run. Wiring only.
"""

import datetime as dt

from airflow.sdk import dag, task

from schemas.lake import PRODUCTS, any_of


@dag(
    dag_id="lcdp_maintenance",
    description="delta-rs compaction and vacuum under the retention policy",
    schedule=any_of(p.table for p in PRODUCTS),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=2),
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=5),
                  "execution_timeout": dt.timedelta(minutes=30)},
    tags=["lcdp", "maintenance"],
)
def lcdp_maintenance():
    @task
    def tables() -> list[str]:
        from lcdp.lake import catalog

        return list(catalog.tables())

    @task(max_active_tis_per_dag=1)  # one table at a time: compaction is I/O heavy
    def maintain(table: str) -> dict:
        from lcdp.lake.maintenance import maintain as maintain_table
        from lcdp.settings import load_settings

        return maintain_table(load_settings(), table).model_dump(mode="json")

    maintain.expand(table=tables())


maintenance_dag = lcdp_maintenance()

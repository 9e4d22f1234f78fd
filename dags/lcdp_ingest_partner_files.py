"""Ingest every partner file found in a drop folder into bronze and quarantine.

Wiring only: the work happens in ``lcdp.ingest``. One mapped task per (partner, dataset)
feed found in the folder; each feed's files are ingested as one batch with one receipt per
file. Heavy imports stay inside the tasks so this file parses in milliseconds.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task


@dag(
    dag_id="lcdp_ingest_partner_files",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    params={"drop": Param("", type="string", description="Folder laid out as <partner>/<dataset>/<files>")},
    default_args={"retries": 1, "retry_delay": dt.timedelta(seconds=10), "execution_timeout": dt.timedelta(hours=2)},
    tags=["lcdp", "ingestion"],
)
def lcdp_ingest_partner_files():
    @task
    def discover_feeds(params: dict | None = None) -> list[dict]:
        from lcdp.feeds import discover

        return [feed.model_dump(mode="json") for feed in discover(params["drop"])]

    @task(map_index_template="{{ feed['partner'] }}.{{ feed['dataset'] }}")
    def ingest_feed(feed: dict) -> dict:
        from lcdp.feeds import Feed, ingest_feed

        return ingest_feed(Feed.model_validate(feed)).model_dump(mode="json")

    ingest_feed.expand(feed=discover_feeds())


dag = lcdp_ingest_partner_files()

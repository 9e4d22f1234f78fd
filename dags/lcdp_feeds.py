"""One ingestion DAG per feed of the partner registry (``infra/feeds.yaml``).

Pull feeds (HTTP API, file drop) are pulled into bronze; push feeds (upload API) are ingested
by the service as they arrive, and their DAG publishes what arrived since its last run. Either
way the DAG's task publishes the bronze table as an Airflow Asset, so downstream DAGs schedule
on data, not on clocks; a run with nothing new is skipped and publishes nothing. Wiring only:
the adapters live in ``lcdp.pull``, imported inside the task.
"""

import datetime as dt
import os
from pathlib import Path

import yaml
from airflow.sdk import Param, dag, task

from schemas.lake import asset

REGISTRY = Path(__file__).resolve().parents[1] / "infra" / "feeds.yaml"
#: LCDP_FEED_POLL_SECONDS: poll every feed this often instead of its registry schedule (trying
#: the platform under `lcdp up`); read here because schedules are fixed when the file is parsed.
POLL_SECONDS = int(os.environ.get("LCDP_FEED_POLL_SECONDS") or 0)


def build(feed: dict):
    partner, dataset, channel = feed["partner"], feed["dataset"], feed["channel"]

    @dag(
        dag_id=f"lcdp_feed_{partner}_{dataset}",
        description=f"{channel} of {partner}.{dataset} into bronze",
        schedule=dt.timedelta(seconds=POLL_SECONDS) if POLL_SECONDS > 0 else feed.get("schedule"),
        start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,
        max_active_runs=1,  # two pulls of one feed at once would race for the same pages/files
        # Airflow 3 has no task SLAs. The run's deadline is dagrun_timeout: a run still going
        # after deadline_minutes fails (and says so) instead of silently running late.
        # (DeadlineAlert callbacks failed to persist under `airflow dags test` in 3.3.2.)
        dagrun_timeout=dt.timedelta(minutes=feed["deadline_minutes"]),
        params={
            "source": Param("", type="string", description="Override: base URL (http_pull) or folder (file_drop)"),
            "key": Param("", type="string", description="Override: API key (http_pull)"),
            "settle_seconds": Param(feed.get("settle_seconds", 60), type="number"),
        },
        default_args={
            "retries": feed["retries"],
            "retry_delay": dt.timedelta(minutes=feed["retry_delay_minutes"]),
            "retry_exponential_backoff": True,
            "execution_timeout": dt.timedelta(minutes=feed["timeout_minutes"]),
        },
        tags=["lcdp", "ingestion", partner],
    )
    def feed_dag():
        @task(outlets=[asset(f"bronze.{partner}_{dataset}")])
        def pull(params: dict | None = None, run_id: str | None = None) -> dict:
            from lcdp.pipeline.airflow import task_outcome
            from lcdp.pull.runner import run_feed

            with task_outcome(f"{partner}.{dataset}"):
                return run_feed(partner, dataset, channel, params or {}, run_key=run_id or "manual",
                                url_env=feed.get("url_env"), key_env=feed.get("key_env"))

        pull()

    return feed_dag()


for _feed in yaml.safe_load(REGISTRY.read_text())["feeds"]:
    globals()[f"lcdp_feed_{_feed['partner']}_{_feed['dataset']}"] = build(_feed)

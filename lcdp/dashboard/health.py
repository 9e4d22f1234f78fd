"""The admin's data-health view: every feed's last delivery with its rows and top quarantine
reasons, every lake table's freshness and version, the last Airflow DAG runs, the champion
models with their holdout metrics beside the oracle's, and the models over time (drift and
realized performance, ``gold.model_monitoring``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from lcdp import declarations, metadata
from lcdp.lake import catalog, lineage
from lcdp.settings import Settings
from lcdp.status import TableState, table_states


@dataclass
class Feed:
    feed: str
    last_delivery: dt.datetime
    uploads: int
    rows_in: int
    rows_quarantined: int
    top_reasons: list[tuple[str, int]]


@dataclass
class DagRun:
    dag_id: str
    state: str
    started: dt.datetime | None
    ended: dt.datetime | None


@dataclass
class Model:
    name: str
    version: int
    alias: str
    metrics: list[tuple[str, float, float | None]]  # metric, value, the oracle's
    #: the credit model's master scale on its holdout, as its run logged it (band_backtest.json)
    bands: list[dict] = field(default_factory=list)


@dataclass
class Monitoring:
    """The latest version of ``gold.model_monitoring``: its rows and what its lineage says."""

    version: int
    rows: pd.DataFrame
    skipped: dict[str, str]  # registered model → why it was not measured
    recorded_at: str | None


@dataclass
class Health:
    feeds: list[Feed]
    tables: list[TableState]
    dag_runs: list[DagRun]
    models: list[Model]
    monitoring: Monitoring | None


def collect(settings: Settings) -> Health:
    """The five views side by side: each waits on its own store (metadata DB, Delta logs,
    Airflow's DB, MLflow's, the monitoring table)."""
    with ThreadPoolExecutor(5, thread_name_prefix="health") as pool:
        parts = [pool.submit(part, settings) for part in (feeds, table_states, dag_runs, models, monitoring)]
        return Health(*(p.result() for p in parts))


def warm(settings: Settings) -> None:
    """Import MLflow and open its store ahead of the first data-health page (3.7 s cold, in
    a service that has not needed MLflow yet); done when an admin signs in."""
    models(settings)


def feeds(settings: Settings) -> list[Feed]:
    grouped: dict[str, list[metadata.Upload]] = {}
    for upload in metadata.list_uploads(settings.metadata_db_url):
        grouped.setdefault(f"{upload.partner}.{upload.dataset}", []).append(upload)
    out = []
    for feed, uploads in sorted(grouped.items()):
        originals = [u for u in uploads if not u.duplicate_of]
        reasons: Counter = Counter()
        for u in originals:
            reasons.update(u.reasons or {})
        out.append(Feed(feed, max(u.created_at for u in uploads), len(uploads),
                        sum(u.rows_in or 0 for u in originals), sum(u.rows_quarantined or 0 for u in originals),
                        reasons.most_common(3)))
    return out


def dag_runs(settings: Settings, limit: int = 12) -> list[DagRun]:
    """The newest runs in Airflow's own metadata database (none when Airflow never ran here)."""
    url = settings.airflow_db_url
    if url.startswith("sqlite:///") and not (settings.airflow_home / "airflow.db").exists():
        return []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT dag_id, state, start_date, end_date FROM dag_run "
                                        "ORDER BY start_date DESC LIMIT :n"), {"n": limit}).all()
    except sa.exc.DBAPIError:  # the database exists but Airflow has not made its tables
        return []
    finally:
        engine.dispose()
    return [DagRun(r.dag_id, r.state, _aware(r.start_date), _aware(r.end_date)) for r in rows]


def _aware(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def models(settings: Settings) -> list[Model]:
    """Each registered model's champion, with every holdout metric the oracle also has first."""
    from models import tracking

    out = []
    for row in tracking.registry_listing(settings):
        if tracking.CHAMPION not in row["aliases"]:
            continue
        oracle = {k.removeprefix("oracle_"): v for k, v in row["oracle"].items()}
        metrics = sorted(row["metrics"].items(), key=lambda kv: (kv[0] not in oracle, kv[0]))
        out.append(Model(row["model"], row["version"], tracking.CHAMPION,
                         [(name, value, oracle.get(name)) for name, value in metrics],
                         _bands(settings, row["model"], row["version"])))
    return out


def _bands(settings: Settings, model: str, version: int) -> list[dict]:
    from models.credit_risk.score import band_backtest_of
    from models.credit_risk.train import MODEL_NAME

    if model != MODEL_NAME:
        return []
    found = band_backtest_of(settings, version)
    return found[1] if found else []


def monitoring(settings: Settings) -> Monitoring | None:
    """The models' drift and realized performance as last measured, or None before the first
    measurement."""
    name = declarations.MONITORING.name
    version = catalog.version(name, settings)
    if version is None:
        return None
    rows = catalog.to_arrow(name, settings, version).to_pandas()
    rows["month"] = pd.to_datetime(rows["month"])
    record = lineage.latest(name, settings) or {}
    return Monitoring(version, rows, record.get("skipped") or {}, record.get("recorded_at"))

"""``lcdp score``: the champions write their outputs back into the lake, where exports and
dashboards read them (``gold.credit_risk_scores``; ``gold.spending_forecasts``).

Each table is rewritten whole in one commit from the current features and the champion, and
its lineage commit names the input versions and the model version that made it.
"""

from __future__ import annotations

import time

from pydantic import BaseModel

from lcdp import log
from lcdp.lake import catalog, engine, lineage
from lcdp.settings import Settings
from models import tracking

_log = log.get(__name__)


class ScoreResult(BaseModel):
    table: str
    version: int
    rows: int
    model: str
    model_version: int
    inputs: dict[str, int]
    seconds: float


def score_credit_risk(settings: Settings) -> ScoreResult:
    """Every business-month of the features table, scored by the credit-risk champion."""
    import mlflow

    from models.credit_risk import score as job
    from models.credit_risk.estimator import CreditRiskClassifier
    from models.credit_risk.train import FEATURES_TABLE, MODEL_NAME, CreditRiskConfig

    started = time.perf_counter()
    champion = tracking.champion(settings, MODEL_NAME)  # refuses, saying how to get one
    booster = mlflow.xgboost.load_model(f"models:/{MODEL_NAME}/{champion.version}")
    estimator = CreditRiskClassifier.from_booster(booster)
    params = tracking.client(settings).get_run(champion.run_id).data.params
    config = CreditRiskConfig.model_validate_json(params["config"]) if "config" in params else CreditRiskConfig()
    features_version = catalog.version(FEATURES_TABLE, settings)
    if features_version is None:
        raise LookupError(f"{FEATURES_TABLE} has not been written yet: run `lcdp fuse`")
    spark = engine.spark(settings)
    features = catalog.read(spark, FEATURES_TABLE, settings, features_version)
    scores = job.credit_risk_scores(features, estimator, config.scorecard, MODEL_NAME, int(champion.version))
    name = "gold.credit_risk_scores"
    data_version = catalog.overwrite_where(scores, name, settings, job.PARTITION, None)
    inputs = {FEATURES_TABLE: features_version}
    lineage.record(name, settings, data_version, inputs, mode="full",  # type: ignore[arg-type]
                   scope=f"every business-month, {MODEL_NAME} v{champion.version}")
    result = ScoreResult(table=name, version=catalog.version(name, settings), rows=catalog.row_count(name, settings),
                         model=MODEL_NAME, model_version=int(champion.version), inputs=inputs,
                         seconds=round(time.perf_counter() - started, 1))
    _log.info("scoring.done", table=name, version=result.version, rows=result.rows, model_version=result.model_version)
    return result

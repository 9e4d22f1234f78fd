"""``gold.credit_risk_scores``: the champion's probability, scorecard points, risk band and
reasons for every business-month of ``gold.merchant_month_features``.

``credit_risk_scores`` is a Spark job (a function of DataFrames): the model travels to the
engine's Python workers inside the function given to ``mapInPandas``, so the same code scores
on the embedded engine and on a cluster (which is why this module imports little: the engine's
workers import it to run that function). ``scores`` is what the pipeline calls
(``lcdp.pipeline.models.score``): the champion's booster and scorecard on the features at the
version the pipeline pinned.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame

from lcdp.lake.dictionary import Columns
from lcdp.settings import Settings
from models.credit_risk.estimator import CreditRiskClassifier
from models.credit_risk.scorecard import ScorecardConfig, bands, points, reason_codes

#: the partition column last, where Delta keeps it
OUTPUT_DDL = ("business_key string, probability double, score int, risk_band string, "
              "reason_codes array<string>, model_name string, model_version int, month date")


def score_batch(batch: pd.DataFrame, estimator: CreditRiskClassifier, config: ScorecardConfig,
                model_name: str, model_version: int) -> pd.DataFrame:
    """One batch of feature rows → score rows."""
    X = batch[list(estimator.features_)]
    probability = estimator.predict_proba(X)[:, 1]
    reasons = reason_codes(estimator.contributions(X), X.reset_index(drop=True), config.reasons)
    return pd.DataFrame({
        "business_key": batch["business_key"].to_numpy(), "probability": probability.astype("float64"),
        "score": points(probability, config).astype("int32"), "risk_band": bands(probability, config),
        "reason_codes": reasons, "model_name": model_name, "model_version": model_version,
        "month": batch["month"].to_numpy(),
    })


def credit_risk_scores(features: DataFrame, estimator: CreditRiskClassifier, config: ScorecardConfig,
                       model_name: str, model_version: int) -> DataFrame:
    """Every row of the features table, scored."""
    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if len(batch):
                yield score_batch(batch, estimator, config, model_name, model_version)

    return features.mapInPandas(score, OUTPUT_DDL)


def scores(settings: Settings, champion, versions: dict[str, int]) -> tuple[DataFrame, str]:
    """Every business-month of the features table (at its pinned version) scored by
    ``champion`` (an MLflow model version), and what was scored, in words."""
    import mlflow

    from lcdp.lake import catalog, engine
    from models import tracking
    from models.credit_risk.train import FEATURES_TABLE, MODEL_NAME, CreditRiskConfig

    uri = f"models:/{MODEL_NAME}/{champion.version}"
    booster = mlflow.xgboost.load_model(uri)
    # a version logged before the hazard model predicted its horizon itself (one period)
    periods = int((mlflow.models.get_model_info(uri).metadata or {}).get("periods", 1))
    estimator = CreditRiskClassifier.from_booster(booster, periods)
    params = tracking.client(settings).get_run(champion.run_id).data.params
    config = CreditRiskConfig.model_validate_json(params["config"]) if "config" in params else CreditRiskConfig()
    features = catalog.read(engine.spark(settings), FEATURES_TABLE, settings, versions[FEATURES_TABLE])
    return (credit_risk_scores(features, estimator, config.scorecard, MODEL_NAME, int(champion.version)),
            "every business-month")


def scorecard_of(settings: Settings, version: int | None = None) -> tuple[int, ScorecardConfig] | None:
    """A registered version's scorecard (default: the champion's), with the master scale it
    learned at training; None when there is no such version."""
    from models import tracking
    from models.credit_risk.train import MODEL_NAME, CreditRiskConfig

    chosen = (tracking.alias_version(settings, MODEL_NAME, tracking.CHAMPION) if version is None
              else tracking.client(settings).get_model_version(MODEL_NAME, str(version)))
    if chosen is None:
        return None
    params = tracking.client(settings).get_run(chosen.run_id).data.params
    config = CreditRiskConfig.model_validate_json(params["config"]) if "config" in params else CreditRiskConfig()
    return int(chosen.version), config.scorecard


def band_backtest_of(settings: Settings, version: int | None = None) -> tuple[int, list[dict]] | None:
    """The master scale's backtest a registered version (default: the champion) logged when it
    was trained: per band its range, businesses, events, observed and predicted rate on the
    holdout; None when there is no such version or it logged none."""
    import json

    from mlflow.exceptions import MlflowException

    from models import tracking
    from models.credit_risk.train import MODEL_NAME

    chosen = (tracking.alias_version(settings, MODEL_NAME, tracking.CHAMPION) if version is None
              else tracking.client(settings).get_model_version(MODEL_NAME, str(version)))
    if chosen is None:
        return None
    try:
        with tempfile.TemporaryDirectory() as scratch:
            path = tracking.client(settings).download_artifacts(chosen.run_id, "band_backtest.json", scratch)
            return int(chosen.version), json.loads(Path(path).read_text())
    except (MlflowException, OSError):
        return None


COLUMNS = Columns(OUTPUT_DDL, {
    "business_key": "pseudonym of the BRN", "month": "the month T the features describe",
    "probability": "P(guarantee default or closure in the 12 months after T), from the champion",
    "score": "scorecard points: 600 at 50:1 good:bad odds, 20 points to double the odds (higher is safer)",
    "risk_band": "A (very low) … E (very high): the master scale the model version learned at training "
                 "(its probability cut-offs are in the version's run configuration and model card)",
    "reason_codes": "up to 3 reasons in words: the features that raised the risk most (XGBoost contributions)",
    "model_name": "registered model", "model_version": "its version (the champion when scored)"})

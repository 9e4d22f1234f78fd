"""``gold.credit_risk_scores``: the champion's probability, scorecard points, risk band and
reasons for every business-month of ``gold.merchant_month_features``.

``credit_risk_scores`` is a Spark job (a function of DataFrames): the model travels to the
engine's Python workers inside the function given to ``mapInPandas``, so the same code scores
on the embedded engine and on a cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from pyspark.sql import DataFrame

from models.credit_risk.estimator import CreditRiskClassifier
from models.credit_risk.scorecard import ScorecardConfig, bands, points, reason_codes

PARTITION = "month"
OUTPUT_DDL = ("business_key string, month date, probability double, score int, risk_band string, "
              "reason_codes array<string>, model_name string, model_version int")


def score_batch(batch: pd.DataFrame, estimator: CreditRiskClassifier, config: ScorecardConfig,
                model_name: str, model_version: int) -> pd.DataFrame:
    """One batch of feature rows → score rows."""
    X = batch[list(estimator.feature_names_in_)]
    probability = estimator.predict_proba(X)[:, 1]
    reasons = reason_codes(estimator.contributions(X), X.reset_index(drop=True), config.reasons)
    return pd.DataFrame({
        "business_key": batch["business_key"].to_numpy(), "month": batch["month"].to_numpy(),
        "probability": probability.astype("float64"), "score": points(probability, config).astype("int32"),
        "risk_band": bands(probability, config), "reason_codes": reasons, "model_name": model_name,
        "model_version": model_version,
    })


def credit_risk_scores(features: DataFrame, estimator: CreditRiskClassifier, config: ScorecardConfig,
                       model_name: str, model_version: int) -> DataFrame:
    """Every row of the features table, scored."""
    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if len(batch):
                yield score_batch(batch, estimator, config, model_name, model_version)

    return features.mapInPandas(score, OUTPUT_DDL)

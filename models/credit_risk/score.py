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
from lcdp.lake.dictionary import TableDoc
from models.credit_risk.scorecard import ScorecardConfig, bands, points, reason_codes

PARTITION = "month"
#: the partition column last, where Delta keeps it
OUTPUT_DDL = ("business_key string, probability double, score int, risk_band string, "
              "reason_codes array<string>, model_name string, model_version int, month date")


def score_batch(batch: pd.DataFrame, estimator: CreditRiskClassifier, config: ScorecardConfig,
                model_name: str, model_version: int) -> pd.DataFrame:
    """One batch of feature rows → score rows."""
    X = batch[list(estimator.feature_names_in_)]
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


DOC = TableDoc(
    table="gold.credit_risk_scores", grain="one business and month (every row of gold.merchant_month_features)",
    key=["business_key", "month"], ddl=OUTPUT_DDL, partition=PARTITION,
    written_by="models.credit_risk.score.credit_risk_scores (lcdp score)", meanings={
        "business_key": "pseudonym of the BRN", "month": "the month T the features describe",
        "probability": "P(guarantee default or closure in the 12 months after T), from the champion",
        "score": "scorecard points: 600 at 50:1 good:bad odds, 20 points to double the odds (higher is safer)",
        "risk_band": "A (very low) … E (very high), by probability",
        "reason_codes": "up to 3 reasons in words: the features that raised the risk most (XGBoost contributions)",
        "model_name": "registered model", "model_version": "its version (the champion when scored)"})

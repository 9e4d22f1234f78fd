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
from lcdp.lake.dictionary import TableDoc
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
    return _write(settings, scores, "gold.credit_risk_scores", job.PARTITION, {FEATURES_TABLE: features_version},
                  "every business-month", MODEL_NAME, int(champion.version), started)


def _write(settings: Settings, frame, name: str, partition: str | None, inputs: dict[str, int], scope: str,
           model: str, model_version: int, started: float) -> ScoreResult:
    """Overwrite ``name`` with ``frame`` in one commit and record its lineage (the inputs'
    versions and the model version)."""
    data_version = catalog.overwrite_where(frame, name, settings, partition, None)
    lineage.record(name, settings, data_version, inputs, mode="full",  # type: ignore[arg-type]
                   scope=f"{scope}, {model} v{model_version}")
    result = ScoreResult(table=name, version=catalog.version(name, settings), rows=catalog.row_count(name, settings),
                         model=model, model_version=model_version, inputs=inputs,
                         seconds=round(time.perf_counter() - started, 1))
    _log.info("scoring.done", table=name, version=result.version, rows=result.rows, model_version=model_version)
    return result


FORECASTS_DDL = ("level string, sigun_cd string, industry_code string, month date, forecast double, "
                 "lower double, upper double, interval double, origin date, model_name string, model_version int")
FORECASTS_DOC = TableDoc(
    table="gold.spending_forecasts", grain="one series (province, 시군 or 시군 × industry) and forecast month",
    key=["level", "sigun_cd", "industry_code", "month"], ddl=FORECASTS_DDL,
    written_by="models.scoring.score_spending_pattern (lcdp score)", meanings={
        "level": "province, region (시군) or cell (시군 × industry)", "sigun_cd": "city/county (null for the province)",
        "industry_code": "industry (null above cells)", "month": "the month forecast",
        "forecast": "expected spending (KRW), reconciled: cells add up to their region, regions to the province",
        "lower": "lower end of the prediction interval (KRW)", "upper": "upper end (KRW)",
        "interval": "central share the interval covers on the model's holdout (0.8)",
        "origin": "the last month of data the forecast starts from", "model_name": "registered model",
        "model_version": "its version (the champion when scored)"})


def score_spending_pattern(settings: Settings) -> ScoreResult:
    """The next three months of spending for the province, every 시군 and every 시군 ×
    industry, from the spending champion at the latest month of data, reconciled, with the
    prediction interval its holdout errors gave."""
    import json

    import mlflow
    import numpy as np
    import pandas as pd

    from models.spending_pattern import series
    from models.spending_pattern.train import CUBE, MODEL_NAME, SpendingConfig, base_forecasts, read_cube, reconcile

    started = time.perf_counter()
    champion = tracking.champion(settings, MODEL_NAME)
    model = mlflow.xgboost.load_model(f"models:/{MODEL_NAME}/{champion.version}")
    params = tracking.client(settings).get_run(champion.run_id).data.params
    config = SpendingConfig.model_validate_json(params["config"]) if "config" in params else SpendingConfig()
    interval = json.loads(champion.tags.get("interval_log_ratio", "{}"))
    cube, cube_version = read_cube(settings)
    Y_df, S_df, tags = series.hierarchy(series.monthly_cells(cube))
    origin = Y_df["ds"].max()
    forecasts = reconcile(base_forecasts(model, Y_df, origin, "forecast"), S_df, tags, Y_df, "forecast")
    level_parts = [series.parts(u) for u in forecasts["unique_id"]]
    horizon = (forecasts["ds"].dt.year - origin.year) * 12 + forecasts["ds"].dt.month - origin.month
    key = [f"{p[0]}/{h}" for p, h in zip(level_parts, horizon)]
    low = pd.Series([interval.get(k, [np.nan, np.nan])[0] for k in key], index=forecasts.index)
    high = pd.Series([interval.get(k, [np.nan, np.nan])[1] for k in key], index=forecasts.index)
    rows = forecasts.assign(
        level=[p[0] for p in level_parts], sigun_cd=[p[1] for p in level_parts], industry_code=[p[2] for p in level_parts],
        month=forecasts["ds"].dt.date, lower=np.clip(np.expm1(np.log1p(forecasts["forecast"].clip(lower=0)) + low), 0, None),
        upper=np.expm1(np.log1p(forecasts["forecast"].clip(lower=0)) + high), interval=config.interval,
        origin=origin.date(), model_name=MODEL_NAME, model_version=int(champion.version))
    spark = engine.spark(settings)
    columns = [c.split()[0] for c in FORECASTS_DDL.split(", ")]
    table = spark.createDataFrame(rows[columns], FORECASTS_DDL)
    return _write(settings, table, "gold.spending_forecasts", None, {CUBE: cube_version},
                  f"3 months after {origin:%Y-%m}", MODEL_NAME, int(champion.version), started)

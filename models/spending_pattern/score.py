"""``gold.spending_forecasts``: the next three months of spending for the province, every 시군
and every 시군 × industry, from the spending champion at the latest month of the cube,
reconciled, with the prediction interval its holdout errors gave.

``scores`` is what the pipeline calls (``lcdp.pipeline.models.score``), on the cube at the
version the pipeline pinned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lcdp.lake.dictionary import Columns
from lcdp.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

OUTPUT_DDL = ("level string, sigun_cd string, industry_code string, month date, forecast double, "
              "lower double, upper double, interval double, origin date, model_name string, model_version int")


def scores(settings: Settings, champion, versions: dict[str, int]) -> tuple[DataFrame, str]:
    """The champion's reconciled forecasts with their intervals, and what was forecast, in words."""
    import json

    import mlflow
    import numpy as np
    import pandas as pd

    from lcdp.lake import engine
    from models import tracking
    from models.spending_pattern import series
    from models.spending_pattern.train import CUBE, MODEL_NAME, SpendingConfig, base_forecasts, read_cube, reconcile

    model = mlflow.xgboost.load_model(f"models:/{MODEL_NAME}/{champion.version}")
    params = tracking.client(settings).get_run(champion.run_id).data.params
    config = SpendingConfig.model_validate_json(params["config"]) if "config" in params else SpendingConfig()
    interval = json.loads(champion.tags.get("interval_log_ratio", "{}"))
    cube, _ = read_cube(settings, versions[CUBE])
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
    columns = [c.split()[0] for c in OUTPUT_DDL.split(", ")]
    return engine.spark(settings).createDataFrame(rows[columns], OUTPUT_DDL), f"3 months after {origin:%Y-%m}"


COLUMNS = Columns(OUTPUT_DDL, {
    "level": "province, region (시군) or cell (시군 × industry)", "sigun_cd": "city/county (null for the province)",
    "industry_code": "industry (null above cells)", "month": "the month forecast",
    "forecast": "expected spending (KRW), reconciled: cells add up to their region, regions to the province",
    "lower": "lower end of the prediction interval (KRW)", "upper": "upper end (KRW)",
    "interval": "central share the interval covers on the model's holdout (0.8)",
    "origin": "the last month of data the forecast starts from", "model_name": "registered model",
    "model_version": "its version (the champion when scored)"})

"""``gold.spending_forecasts``: the next three months of spending for the province, every 시군
and every 시군 × industry, from the spending champion at the latest month of the cube,
reconciled, with the prediction interval its out-of-sample errors gave (``intervals``).

``scores`` is what the pipeline calls (``lcdp.pipeline.models.score``), on the cube and the
businesses' monthly features at the versions the pipeline pinned.
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

    from lcdp.lake import engine
    from models import tracking
    from models.spending_pattern import forecaster, intervals, series
    from models.spending_pattern.train import BUSINESSES, CUBE, MODEL_NAME, SpendingConfig, read_businesses, read_cube

    model = mlflow.xgboost.load_model(f"models:/{MODEL_NAME}/{champion.version}")
    params = tracking.client(settings).get_run(champion.run_id).data.params
    config = SpendingConfig.model_validate_json(params["config"]) if "config" in params else SpendingConfig()
    table = json.loads(champion.tags.get("interval_log_ratio", "{}"))
    cube, _ = read_cube(settings, versions[CUBE])
    businesses, _ = read_businesses(settings, versions[BUSINESSES])
    Y_df, S_df, tags = series.hierarchy(series.monthly_cells(cube))
    lake = forecaster.Lake(Y_df, S_df, businesses)
    origin = lake.months[-1]
    rows = lake.design([len(lake.months) - 1], with_target=False)
    forecasts = forecaster.reconcile(forecaster.base_forecasts(model, rows, "forecast"), S_df, tags, "forecast")
    forecasts = forecasts.merge(rows[["unique_id", "ds", "h"]], on=["unique_id", "ds"])
    level_parts = [series.parts(u) for u in forecasts["unique_id"]]
    forecasts["level"] = [p[0] for p in level_parts]
    lower, upper = intervals.bounds(forecasts, table)
    out = forecasts.assign(
        sigun_cd=[p[1] for p in level_parts], industry_code=[p[2] for p in level_parts], month=forecasts["ds"].dt.date,
        lower=np.minimum(lower, forecasts["forecast"]), upper=np.maximum(upper, forecasts["forecast"]),
        interval=config.interval, origin=origin.date(), model_name=MODEL_NAME, model_version=int(champion.version))
    columns = [c.split()[0] for c in OUTPUT_DDL.split(", ")]
    return engine.spark(settings).createDataFrame(out[columns], OUTPUT_DDL), f"3 months after {origin:%Y-%m}"


COLUMNS = Columns(OUTPUT_DDL, {
    "level": "province, region (시군) or cell (시군 × industry)", "sigun_cd": "city/county (null for the province)",
    "industry_code": "industry (null above cells)", "month": "the month forecast",
    "forecast": "expected spending (KRW), reconciled: cells add up to their region, regions to the province",
    "lower": "lower end of the prediction interval (KRW)", "upper": "upper end (KRW)",
    "interval": "central share of out-of-sample forecasts the interval held (0.8)",
    "origin": "the last month of data the forecast starts from", "model_name": "registered model",
    "model_version": "its version (the champion when scored)"})

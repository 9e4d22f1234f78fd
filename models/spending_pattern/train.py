"""Train the spending-pattern forecaster, judge it on the latest months beside statsforecast's
peers and the generator's oracle, reconcile it across the hierarchy, log and register it, and
run the promotion gate.

    ... training months (origins and their 1-3 month targets) | origin | holdout (3 months)

The forecaster is one XGBoost model over every series of every level (``series.design``);
its base forecasts for the province, each 시군 and each 시군 × industry are reconciled with
MinTrace (hierarchicalforecast), so cells add up to their region and the regions to the
province. WAPE and MASE are taken on the cells, with utilsforecast's losses.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from lcdp import declarations, log
from lcdp.errors import InsufficientHistory
from lcdp.lake import catalog
from lcdp.settings import Settings
from models import tracking
from models.gate import GateConfig, GateDecision, Rule, judge, psi
from models.uncertainty import Interval, intervals, replicate_weights
from models.spending_pattern import series

_log = log.get(__name__)

DECLARED = declarations.model("spending-pattern")
MODEL_NAME = DECLARED.registered
EXPERIMENT = DECLARED.name
CUBE = DECLARED.features
#: residuals needed at a level to take its own interval quantiles
MIN_INTERVAL_POINTS = 20


class SpendingConfig(BaseModel):
    holdout_months: int = 3
    min_training_months: int = 15  # a year for last year's month, and three to start from
    estimator: dict = Field(default_factory=lambda: {
        "n_estimators": 800, "learning_rate": 0.05, "max_depth": 4, "min_child_weight": 5, "subsample": 0.8,
        "colsample_bytree": 0.8, "early_stopping_rounds": 50})
    validation_origins: int = 3  # the training period's last origins watch early stopping
    interval: float = 0.8  # central share of the prediction interval
    gate: GateConfig = Field(default_factory=GateConfig)


def months_needed(config: SpendingConfig | None = None) -> int:
    config = config or SpendingConfig()
    return config.min_training_months + config.holdout_months


class SpendingResult(BaseModel):
    model: str = MODEL_NAME
    run_id: str
    version: int | None
    alias: str | None
    inputs: dict[str, int]
    origin: str
    holdout_months: list[str]
    cells: int
    wape: float
    mase: float
    seasonal_naive_wape: float
    auto_ets_wape: float
    oracle_wape: float | None = None
    base_wape: float  # before reconciliation
    coherence_gap: float  # largest |sum of reconciled cells - reconciled region| (KRW)
    interval_log_ratio: dict[str, list[float]]  # "level/horizon" → [low, high] of log(actual / forecast)
    champion_wape: float | None = None
    psi: float | None = None
    gate: GateDecision | None = None
    best_iteration: int
    seconds: float

    def summary(self) -> dict:
        return {"version": self.version, "alias": self.alias, "wape": self.wape, "mase": self.mase,
                "seasonal_naive_wape": self.seasonal_naive_wape, "auto_ets_wape": self.auto_ets_wape,
                "oracle_wape": self.oracle_wape, "run_id": self.run_id}


# --------------------------------------------------------------------------- pieces


def read_cube(settings: Settings, version: int | None = None) -> tuple[pd.DataFrame, int]:
    version = version if version is not None else catalog.version(CUBE, settings)
    if version is None:
        raise InsufficientHistory(f"{CUBE} has not been written yet: run `lcdp fuse` after the partners' deliveries")
    cube = catalog.to_arrow(CUBE, settings, version).to_pandas()
    if not (cube["sigun_cd"].notna() & cube["industry_code"].notna()).any():
        # a fusion that ran before the card payments arrived (the scheduler starts it on any feed)
        raise InsufficientHistory(f"{CUBE} version {version} has no spending at a known region and industry yet: "
                                  "deliver card payments and fuse")
    return cube, version


def fit_forecaster(Y_train: pd.DataFrame, config: SpendingConfig):
    """The XGBoost regressor on every origin of ``Y_train`` whose targets it holds; the
    last ``validation_origins`` origins stop the boosting."""
    import xgboost as xgb

    months = sorted(Y_train["ds"].unique())
    design = series.design(Y_train, months)
    origins = sorted(design["origin"].unique())
    valid = design["origin"].isin(origins[-config.validation_origins:])
    params = dict(config.estimator)
    model = xgb.XGBRegressor(**params, enable_categorical=True, tree_method="hist", random_state=0)
    model.fit(design.loc[~valid, series.FEATURES], design.loc[~valid, "target"],
              eval_set=[(design.loc[valid, series.FEATURES], design.loc[valid, "target"])], verbose=False)
    return model


def base_forecasts(model, Y_train: pd.DataFrame, origin: pd.Timestamp, column: str) -> pd.DataFrame:
    """``unique_id, ds, <column>``: every series' forecast 1-3 months after ``origin``."""
    rows = series.design(Y_train, [origin], with_target=False)
    predicted = model.predict(rows[series.FEATURES])
    rows[column] = np.clip(np.expm1(rows["base"] + predicted), 0, None)
    return rows[["unique_id", "ds", column]]


def reconcile(forecasts: pd.DataFrame, S_df: pd.DataFrame, tags: dict, Y_train: pd.DataFrame, column: str) -> pd.DataFrame:
    """Coherent forecasts (MinTrace, structural weights: a series weighs by the cells under it)
    in ``<column>`` itself."""
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import MinTrace

    reconciler = HierarchicalReconciliation(reconcilers=[MinTrace(method="wls_struct")])
    quiet = logging.getLogger("hierarchicalforecast")
    level, _ = quiet.level, quiet.setLevel(logging.ERROR)
    try:
        out = reconciler.reconcile(Y_hat_df=forecasts, S_df=S_df, tags=tags, Y_df=Y_train)
    finally:
        quiet.setLevel(level)
    reconciled = [c for c in out.columns if c.startswith(f"{column}/")][0]
    return out[["unique_id", "ds"]].assign(**{column: out[reconciled].to_numpy()})


def pooled_wape(frame: pd.DataFrame, models: list[str]) -> dict[str, float]:
    """WAPE over every row (utilsforecast's, with all rows as one series)."""
    from utilsforecast.losses import wape

    pooled = frame.assign(unique_id="all")
    result = wape(pooled, models=models, id_col="unique_id", target_col="y")
    return {m: round(float(result[m].iloc[0]), 5) for m in models}


def peers(Y_train_cells: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """statsforecast's SeasonalNaive (12) and AutoETS (season 12) on every cell."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    sf = StatsForecast(models=[SeasonalNaive(season_length=12), AutoETS(season_length=12)], freq="MS", n_jobs=1)
    return sf.forecast(df=Y_train_cells, h=horizon).reset_index(drop="unique_id" in Y_train_cells.columns)


def oracle_cells(oracle_dir: Path) -> pd.DataFrame:
    truth_file = Path(oracle_dir) / "truth" / "expected_spending.parquet"
    if not truth_file.exists():
        raise FileNotFoundError(f"no oracle at {truth_file} (give the folder `lcdp generate` wrote)")
    truth = pd.read_parquet(truth_file)
    truth["unique_id"] = series.PROVINCE + "/" + truth["sigun_cd"] + "/" + truth["industry_code"]
    return truth.assign(ds=pd.to_datetime(truth["month"]))[["unique_id", "ds", "expected_amount"]]


# --------------------------------------------------------------------------- the run


def train(settings: Settings, config: SpendingConfig | None = None, versions: dict[str, int | None] | None = None,
          oracle_dir: Path | None = None, register: bool = True) -> SpendingResult:
    """Train on the cube at ``versions[CUBE]`` (default: its current version), judge on the
    holdout, log and register; the gate then sets the alias."""
    import mlflow

    config = config or SpendingConfig()
    started = time.perf_counter()
    cube, version = read_cube(settings, (versions or {}).get(CUBE))
    cells = series.monthly_cells(cube)
    Y_df, S_df, tags = series.hierarchy(cells)
    months = sorted(Y_df["ds"].unique())
    if len(months) < config.min_training_months + config.holdout_months:
        raise InsufficientHistory(
            f"{len(months)} month(s) of spending; the forecaster needs {config.min_training_months} to train and "
            f"{config.holdout_months} to judge: deliver more history")
    holdout = months[-config.holdout_months:]
    origin = pd.Timestamp(months[-config.holdout_months - 1])
    Y_train = Y_df[Y_df["ds"] <= origin]
    model = fit_forecaster(Y_train, config)
    base = base_forecasts(model, Y_train, origin, "xgboost")
    ours = reconcile(base, S_df, tags, Y_train, "xgboost")
    cell_ids = set(tags["province/sigun_cd/industry_code"])
    actual = Y_df[Y_df["ds"].isin(holdout) & Y_df["unique_id"].isin(cell_ids)]
    bottom_train = Y_train[Y_train["unique_id"].isin(cell_ids)]
    judged = (actual.merge(ours, on=["unique_id", "ds"]).merge(base.rename(columns={"xgboost": "base"}),
                                                              on=["unique_id", "ds"])
              .merge(peers(bottom_train, config.holdout_months), on=["unique_id", "ds"]))
    wapes = pooled_wape(judged, ["xgboost", "base", "SeasonalNaive", "AutoETS"])
    from utilsforecast.losses import mase

    mase_by_series = mase(judged, models=["xgboost", "SeasonalNaive"], seasonality=12, train_df=bottom_train,
                          id_col="unique_id", target_col="y")
    mase_value = round(float(mase_by_series["xgboost"].replace([np.inf], np.nan).mean()), 5)
    oracle_wape = None
    if oracle_dir is not None:
        with_truth = judged.merge(oracle_cells(oracle_dir), on=["unique_id", "ds"], how="left").fillna({"expected_amount": 0})
        oracle_wape = pooled_wape(with_truth, ["expected_amount"])["expected_amount"]
    coherence_gap = _coherence_gap(ours, tags)
    interval = _interval(Y_df[Y_df["ds"].isin(holdout)].merge(ours, on=["unique_id", "ds"]), holdout, config.interval)

    with tracking.run(settings, EXPERIMENT, run_name=f"spending-pattern {origin:%Y-%m}") as active:
        run_id = active.info.run_id
        tracking.log_lake_input(settings, CUBE, version, cube, "training", run_id)
        mlflow.log_params({"holdout_months": config.holdout_months, "origin": f"{origin:%Y-%m}",
                           "series": Y_df["unique_id"].nunique(), "cells": len(cell_ids),
                           "best_iteration": int(model.best_iteration), "reconciliation": "MinTrace(wls_struct)",
                           "oracle_dir": str(oracle_dir) if oracle_dir else "", "config": config.model_dump_json()})
        mlflow.log_metrics({"holdout_wape": wapes["xgboost"], "holdout_mase": mase_value,
                            "holdout_base_wape": wapes["base"], "seasonal_naive_wape": wapes["SeasonalNaive"],
                            "auto_ets_wape": wapes["AutoETS"], "coherence_gap": coherence_gap,
                            **({"oracle_wape": oracle_wape} if oracle_wape is not None else {})})
        mlflow.log_dict(interval, "interval_log_ratio.json")
        with tempfile.TemporaryDirectory() as scratch:
            _log_artifacts(Path(scratch), Y_df, ours, judged, series.pattern(cube))
        model_info = _log_model(model, series.design(Y_train, [origin], with_target=False), register)

    result = SpendingResult(
        run_id=run_id, version=None, alias=None, inputs={CUBE: version}, origin=f"{origin:%Y-%m}",
        holdout_months=[f"{pd.Timestamp(m):%Y-%m}" for m in holdout], cells=len(cell_ids), wape=wapes["xgboost"],
        mase=mase_value, seasonal_naive_wape=wapes["SeasonalNaive"], auto_ets_wape=wapes["AutoETS"],
        oracle_wape=oracle_wape, base_wape=wapes["base"], coherence_gap=coherence_gap, interval_log_ratio=interval,
        best_iteration=int(model.best_iteration), seconds=0.0)
    if register:
        result = _register_and_gate(settings, result, model_info, Y_df, S_df, tags, Y_train, origin, judged, config)
    result.seconds = round(time.perf_counter() - started, 1)
    _log.info("spending_pattern.done", run_id=run_id, version=result.version, alias=result.alias, wape=result.wape,
              seasonal_naive_wape=result.seasonal_naive_wape, oracle_wape=oracle_wape, seconds=result.seconds)
    return result


def _interval(judged: pd.DataFrame, holdout: list, share: float) -> dict[str, list[float]]:
    """Per level and horizon, the central ``share`` of log(actual / forecast) on the holdout:
    the prediction interval scoring puts around each forecast (split conformal)."""
    ratio = np.log1p(judged["y"].clip(lower=0)) - np.log1p(judged["xgboost"].clip(lower=0))
    level = judged["unique_id"].map(lambda u: series.parts(u)[0])
    horizon = judged["ds"].map({pd.Timestamp(m): i + 1 for i, m in enumerate(holdout)})
    low, high = (1 - share) / 2, 1 - (1 - share) / 2
    out, sizes = {}, {}
    for (lv, h), part in ratio.groupby([level, horizon]):
        out[f"{lv}/{h}"] = [round(float(part.quantile(low)), 4), round(float(part.quantile(high)), 4)]
        sizes[f"{lv}/{h}"] = len(part)
    # a level with too few series to take quantiles (the province is one) borrows the next
    # level down's interval, which is wider
    for h in series.HORIZONS:
        for lv, below in (("region", "cell"), ("province", "region")):
            if sizes.get(f"{lv}/{h}", 0) < MIN_INTERVAL_POINTS and f"{below}/{h}" in out:
                out[f"{lv}/{h}"] = out[f"{below}/{h}"]
    return out


def _coherence_gap(reconciled: pd.DataFrame, tags: dict) -> float:
    """The largest difference between a region's forecast and the sum of its cells'."""
    frame = reconciled.copy()
    frame["parent"] = frame["unique_id"].str.rsplit("/", n=1).str[0]
    cells = frame[frame["unique_id"].isin(tags["province/sigun_cd/industry_code"])]
    sums = cells.groupby(["parent", "ds"])["xgboost"].sum()
    regions = frame.set_index(["unique_id", "ds"])["xgboost"]
    gap = (regions.reindex(sums.index) - sums).abs().max()
    return round(float(gap), 2)


def _log_artifacts(folder: Path, Y_df: pd.DataFrame, ours: pd.DataFrame, judged: pd.DataFrame,
                   pattern: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    pattern.to_parquet(folder / "spending_pattern_by_cell.parquet", index=False)
    largest = (judged.groupby("unique_id")["y"].sum().sort_values(ascending=False).index[:3].tolist())
    shown = [series.PROVINCE, *largest]
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 2.4 * len(shown)))
    for ax, uid in zip(axes, shown):
        history = Y_df[Y_df["unique_id"] == uid]
        forecast = ours[ours["unique_id"] == uid]
        ax.plot(history["ds"], history["y"] / 1e6, label="actual")
        ax.plot(forecast["ds"], forecast["xgboost"] / 1e6, "o--", label="forecast (reconciled)")
        ax.set_title(uid, fontsize=9)
        ax.set_ylabel("M KRW")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "forecast_vs_actual.png", dpi=80)
    plt.close("all")
    mlflow.log_artifacts(str(folder))


def _log_model(model, example: pd.DataFrame, register: bool):
    import mlflow
    import xgboost
    from mlflow.models import infer_signature

    sample = example[series.FEATURES].head(5).copy()
    for c in ("level", "sigun_cd", "industry_code"):
        sample[c] = sample[c].astype(object)
    quiet = logging.getLogger("mlflow.models.model")  # see credit_risk.train._log_model
    level, _ = quiet.level, quiet.setLevel(logging.ERROR)
    try:
        return mlflow.xgboost.log_model(
            model, name="model", signature=infer_signature(sample, model.predict(example[series.FEATURES].head(5))),
            input_example=sample, registered_model_name=MODEL_NAME if register else None, model_format="ubj",
            pip_requirements=[f"xgboost=={xgboost.__version__}", f"pandas=={pd.__version__}"],
            metadata={"target": "log(spending at target month + 1) - mean log spending of the origin's last 3 months"})
    finally:
        quiet.setLevel(level)


def _register_and_gate(settings: Settings, result: SpendingResult, model_info, Y_df: pd.DataFrame, S_df, tags: dict,
                       Y_train: pd.DataFrame, origin: pd.Timestamp, judged: pd.DataFrame,
                       config: SpendingConfig) -> SpendingResult:
    import mlflow

    version = int(model_info.registered_model_version)
    champion = tracking.alias_version(settings, MODEL_NAME, tracking.CHAMPION)
    champion_wape = stability = vs_champion = None
    if champion is not None:
        theirs_model = mlflow.xgboost.load_model(f"models:/{MODEL_NAME}/{champion.version}")
        theirs = reconcile(base_forecasts(theirs_model, Y_train, origin, "xgboost"), S_df, tags, Y_train, "xgboost")
        compared = judged[["unique_id", "ds", "y", "xgboost"]].merge(
            theirs.rename(columns={"xgboost": "champion"}), on=["unique_id", "ds"])
        champion_wape = pooled_wape(compared, ["champion"])["champion"]
        stability = psi(np.log1p(compared["champion"]), np.log1p(compared["xgboost"]))
        vs_champion = wape_difference(compared, "xgboost", "champion")
    rules: list[Rule] = judge("WAPE", False, wape_difference(judged, "xgboost", "SeasonalNaive"),
                              vs_champion if champion is not None else None, stability,
                              config.gate.wape_margin, config.gate.psi_max)
    decision = tracking.apply_gate(settings, MODEL_NAME, version, rules, champion,
                                   {"holdout_wape": str(result.wape), "run_id": result.run_id,
                                    "interval_log_ratio": json.dumps(result.interval_log_ratio)})
    return result.model_copy(update={"version": version, "champion_wape": champion_wape, "psi": stability,
                                     "gate": decision,
                                     "alias": tracking.CHAMPION if decision.promoted else tracking.CHALLENGER})


def wape_difference(frame: pd.DataFrame, ours: str, theirs: str, replicates: int = 1000) -> Interval:
    """WAPE of ``ours`` minus WAPE of ``theirs`` on the same rows, with its 90 % bootstrap
    interval over series (a series' months are alike: whole series are resampled)."""
    y = frame["y"].to_numpy(dtype=float)
    ours_error, theirs_error = np.abs(y - frame[ours].to_numpy(dtype=float)), np.abs(y - frame[theirs].to_numpy(dtype=float))

    def statistics(w: np.ndarray | None) -> dict[str, float | None]:
        w = np.ones_like(y) if w is None else w
        total = float(np.sum(w * np.abs(y)))
        return {"difference": (float(np.sum(w * ours_error)) - float(np.sum(w * theirs_error))) / total if total else None}

    return intervals(statistics, replicate_weights(frame["unique_id"].to_numpy(), replicates))["difference"]


def reproduce(settings: Settings, run_id: str) -> tracking.Reproduction:
    """Retrain ``run_id`` from the cube version and configuration it logged, without
    registering; compare the holdout metrics."""
    run = tracking.training_run(settings, run_id, EXPERIMENT)
    config = SpendingConfig.model_validate_json(run.data.params["config"])
    versions = tracking.lake_inputs(settings, run_id)
    result = train(settings, config, versions=versions, oracle_dir=tracking.logged_oracle(run), register=False)
    return tracking.reproduction(settings, run, result.run_id, versions,
                                 {"holdout_wape": result.wape, "holdout_mase": result.mase})

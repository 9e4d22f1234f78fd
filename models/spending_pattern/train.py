"""Train the spending-pattern forecaster, judge it on rolling origins beside the structural
forecast alone, statsforecast's peers and the generator's oracle, log and register it, and run
the promotion gate.

    calibration origins (up to 8) | judged origins (6) | each forecasts 1, 2 and 3 months ahead

The forecaster (``forecaster``) corrects the structural forecast the lake's businesses give
(``knowledge``) with one XGBoost model over every series of every level, and reconciles its
forecasts for the province, each 시군 and each 시군 × industry with MinTrace
(hierarchicalforecast), so cells add up to their region and the regions to the province.

Each origin's forecasts come from a model trained only on months up to it, so every forecast
the run judges is out of sample. Each judged origin's 80 % intervals are calibrated on the
forecasts of earlier origins whose months had arrived (``intervals``), so the coverage the run
reports is what a user would have seen. The registered version is trained on every month, with
the intervals of every out-of-sample forecast of the run. ``judging`` holds the figures.
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
from models.spending_pattern import forecaster, intervals, judging, oracle, series
from models.uncertainty import Interval, intervals as bootstrap, replicate_weights

_log = log.get(__name__)

DECLARED = declarations.model("spending-pattern")
MODEL_NAME = DECLARED.registered
EXPERIMENT = DECLARED.name
CUBE = DECLARED.features
BUSINESSES = "gold.merchant_month_features"
BUSINESS_COLUMNS = ["business_key", "sigun_cd", "industry_code", "month", "sales_amount"]
#: the run's out-of-sample forecasts, which the gate compares a later challenger with
BACKTEST = "backtest.parquet"


class SpendingConfig(BaseModel):
    judged_origins: int = 6  # rolling origins judged, each forecasting HORIZONS months
    calibration_origins: int = 16  # earlier origins whose forecasts only calibrate the first intervals (see intervals)
    min_training_months: int = 15  # a year for last year's month, and three to start from
    #: the correction: absolute error from no correction (``forecaster.fit``), shallow trees
    estimator: dict = Field(default_factory=lambda: {
        "objective": "reg:absoluteerror", "base_score": 0.0, "n_estimators": 600, "learning_rate": 0.05,
        "max_depth": 3, "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 5.0, "early_stopping_rounds": 50})
    validation_origins: int = 3  # the training period's last origins watch early stopping
    interval: float = 0.8  # central share of the prediction interval
    replicates: int = 1000  # bootstrap replicates over series
    gate: GateConfig = Field(default_factory=GateConfig)


def months_needed(config: SpendingConfig | None = None) -> int:
    config = config or SpendingConfig()
    return config.min_training_months + max(series.HORIZONS)


class Plan(BaseModel):
    """Where the run's origins fall (positions in the months)."""

    calibration: list[int]
    judged: list[int]


def plan(months: int, config: SpendingConfig) -> Plan:
    """The judged origins: the last ``judged_origins`` whose every horizon has arrived, none
    before ``min_training_months``; before them, up to ``calibration_origins`` more, each with a
    few origins to learn from."""
    last = months - 1 - max(series.HORIZONS)
    first = max(config.min_training_months - 1, last - config.judged_origins + 1)
    judged = list(range(first, last + 1))
    earliest = forecaster.FIRST_ORIGIN + config.validation_origins + 3
    calibration = list(range(max(earliest, first - config.calibration_origins), first))
    return Plan(calibration=calibration, judged=judged)


class SpendingResult(BaseModel):
    model: str = MODEL_NAME
    run_id: str
    version: int | None
    alias: str | None
    inputs: dict[str, int]
    origins: list[str]  # the judged origins
    holdout_months: list[str]  # the months their forecasts are judged on
    cells: int
    wape: float  # cells, every judged origin and horizon
    mase: float
    structural_wape: float
    seasonal_naive_wape: float
    auto_ets_wape: float
    oracle_wape: float | None = None  # the best forecast at the origin (``oracle``)
    oracle_at_target_wape: float | None = None  # the target month's expected spending: knows closures and openings
    base_wape: float  # before reconciliation
    coverage: float  # of the 80 % intervals at the cells
    coherence_gap: float  # largest |sum of reconciled cells - reconciled region| (KRW)
    intervals: dict[str, Interval]  # the cells' figures with their 90 % intervals over series
    levels: list[dict]  # per level and horizon: WAPE and MASE of each forecast, coverage, pinball loss
    interval_log_ratio: dict[str, list[float]]  # the registered version's: "level/horizon" → [low, high]
    champion_wape: float | None = None
    psi: float | None = None
    gate: GateDecision | None = None
    best_iteration: int
    seconds: float

    def summary(self) -> dict:
        return {"version": self.version, "alias": self.alias, "wape": self.wape, "mase": self.mase,
                "seasonal_naive_wape": self.seasonal_naive_wape, "auto_ets_wape": self.auto_ets_wape,
                "oracle_wape": self.oracle_wape, "coverage": self.coverage, "run_id": self.run_id,
                **{k: [v.value, v.low, v.high] for k, v in self.intervals.items() if "_minus_" in k or "_over_" in k}}


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


def read_businesses(settings: Settings, version: int | None = None) -> tuple[pd.DataFrame, int]:
    """Each business's monthly sales and cell (the structural forecast's knowledge)."""
    version = version if version is not None else catalog.version(BUSINESSES, settings)
    if version is None:
        raise InsufficientHistory(f"{BUSINESSES} has not been written yet: run `lcdp fuse`")
    return catalog.to_arrow(BUSINESSES, settings, version, columns=BUSINESS_COLUMNS).to_pandas(), version


def peers(Y_train: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """statsforecast's SeasonalNaive (12) and AutoETS (season 12) on every series."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    sf = StatsForecast(models=[SeasonalNaive(season_length=12), AutoETS(season_length=12)], freq="MS", n_jobs=1)
    return sf.forecast(df=Y_train, h=horizon).reset_index(drop="unique_id" in Y_train.columns)


def oracles(oracle_dir: Path, lake: forecaster.Lake, judged: list[int]) -> pd.DataFrame:
    """``unique_id, origin, ds, oracle, oracle_at_target`` at every judged origin and horizon
    (``oracle``: the generator's limits)."""
    truth = oracle.Oracle(oracle_dir, lake.wide, lake.S, lake.months[judged[0]])
    rows = []
    for o in judged:
        for h in series.HORIZONS:
            if o + h < len(lake.months):
                rows.append(pd.DataFrame({"unique_id": lake.wide.index, "origin": lake.months[o],
                                          "ds": lake.months[o + h], "oracle": truth.origin(o, o + h),
                                          "oracle_at_target": truth.target(o + h)}))
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------- the run


def backtest(lake: forecaster.Lake, design: pd.DataFrame, S_df: pd.DataFrame, tags: dict, origins: list[int],
             config: SpendingConfig) -> pd.DataFrame:
    """Every origin's forecasts (base and reconciled), each from a model trained on the
    months up to it: ``unique_id, level, origin, ds, h, y, structural, base, forecast``."""
    out = []
    for o in origins:
        at = lake.months[o]
        model = forecaster.fit(design[design["ds"] <= at], config.estimator, config.validation_origins)
        rows = design[design["origin"] == at]
        base = forecaster.base_forecasts(model, rows, "base")
        reconciled = forecaster.reconcile(base.rename(columns={"base": "forecast"}), S_df, tags, "forecast")
        out.append(rows[["unique_id", "level", "origin", "ds", "h", "y", "structural"]]
                   .merge(base, on=["unique_id", "ds"]).merge(reconciled, on=["unique_id", "ds"]))
        _log.info("spending_pattern.origin", origin=f"{at:%Y-%m}", best_iteration=int(model.best_iteration))
    return pd.concat(out, ignore_index=True)


def calibrate(forecasts: pd.DataFrame, judged: list[pd.Timestamp], share: float) -> pd.DataFrame:
    """The judged origins' forecasts with ``lower`` and ``upper``: each origin's intervals from
    the forecasts of earlier origins whose month had arrived by it."""
    out = []
    for origin in judged:
        earlier = forecasts[(forecasts["origin"] < origin) & (forecasts["ds"] <= origin)]
        rows = forecasts[forecasts["origin"] == origin].copy()
        rows["lower"], rows["upper"] = intervals.bounds(rows, intervals.quantiles(earlier, share))
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def judge_peers(lake: forecaster.Lake, Y_df: pd.DataFrame, judged: list[int]) -> pd.DataFrame:
    """Seasonal naive and AutoETS at every judged origin, and each series' MASE scale there."""
    out = []
    for o in judged:
        at = lake.months[o]
        forecasts = peers(Y_df[Y_df["ds"] <= at], max(series.HORIZONS))
        scale = judging.mase_scales(lake.wide, o).rename("scale")
        out.append(forecasts.assign(origin=at).merge(scale, left_on="unique_id", right_index=True))
    return pd.concat(out, ignore_index=True)


def train(settings: Settings, config: SpendingConfig | None = None, versions: dict[str, int | None] | None = None,
          oracle_dir: Path | None = None, register: bool = True) -> SpendingResult:
    """Train on the cube and the businesses at ``versions`` (default: their current
    versions), judge on rolling origins, log and register; the gate then sets the alias."""
    import mlflow

    config = config or SpendingConfig()
    started = time.perf_counter()
    cube, cube_version = read_cube(settings, (versions or {}).get(CUBE))
    businesses, businesses_version = read_businesses(settings, (versions or {}).get(BUSINESSES))
    cells = series.monthly_cells(cube)
    Y_df, S_df, tags = series.hierarchy(cells)
    months = sorted(Y_df["ds"].unique())
    if len(months) < months_needed(config):
        raise InsufficientHistory(
            f"{len(months)} month(s) of spending; the forecaster needs {config.min_training_months} to train and "
            f"{max(series.HORIZONS)} to judge: deliver more history")
    lake = forecaster.Lake(Y_df, S_df, businesses)
    origins = plan(len(months), config)
    design = lake.design(list(range(forecaster.FIRST_ORIGIN, len(months))))
    forecasts = backtest(lake, design, S_df, tags, origins.calibration + origins.judged, config)
    judged_at = [lake.months[o] for o in origins.judged]
    judged = (calibrate(forecasts, judged_at, config.interval)
              .merge(judge_peers(lake, Y_df, origins.judged), on=["unique_id", "origin", "ds"], how="left"))
    if oracle_dir is not None:
        judged = judged.merge(oracles(oracle_dir, lake, origins.judged), on=["unique_id", "origin", "ds"], how="left")
    cell_ids = set(lake.cell_ids)
    at_cells = judged[judged["unique_id"].isin(cell_ids)]
    figures = judging.headline(at_cells, config.replicates)
    models = ("forecast", "base", *judging.PEERS)
    levels = judging.by_level(judged, config.interval, models)
    everything = levels[levels["h"] == 0].set_index("level")

    final = forecaster.fit(design, config.estimator, config.validation_origins)
    registered_intervals = intervals.quantiles(forecasts, config.interval)
    latest = lake.design([len(months) - 1], with_target=False)
    coherence_gap = _coherence_gap(forecaster.reconcile(forecaster.base_forecasts(final, latest, "xgboost"),
                                                        S_df, tags, "xgboost"), tags)

    def cell_figure(model: str) -> float:
        return float(everything.loc["cell", f"wape_{model}"])

    with tracking.run(settings, EXPERIMENT, run_name=f"spending-pattern {lake.months[-1]:%Y-%m}") as active:
        run_id = active.info.run_id
        tracking.log_lake_input(settings, CUBE, cube_version, cube, "training", run_id)
        tracking.log_lake_input(settings, BUSINESSES, businesses_version, businesses, "training", run_id)
        mlflow.log_params({"origins": ", ".join(f"{m:%Y-%m}" for m in judged_at),
                           "trained_through": f"{lake.months[-1]:%Y-%m}",
                           "series": Y_df["unique_id"].nunique(), "cells": len(cell_ids),
                           "best_iteration": int(final.best_iteration), "reconciliation": "MinTrace(wls_struct)",
                           "oracle_dir": str(oracle_dir) if oracle_dir else "", "config": config.model_dump_json()})
        mlflow.log_metrics({"holdout_wape": cell_figure("forecast"), "holdout_mase": float(everything.loc["cell", "mase_forecast"]),
                            "holdout_base_wape": cell_figure("base"), "structural_wape": cell_figure("structural"),
                            "seasonal_naive_wape": cell_figure("SeasonalNaive"), "auto_ets_wape": cell_figure("AutoETS"),
                            "coverage": float(everything.loc["cell", "coverage"]),
                            "pinball": float(everything.loc["cell", "pinball"]), "coherence_gap": coherence_gap,
                            **({"oracle_wape": cell_figure("oracle"),
                                "oracle_at_target_wape": cell_figure("oracle_at_target")} if oracle_dir is not None else {}),
                            **{f"{k}_low": v.low for k, v in figures.items()},
                            **{f"{k}_high": v.high for k, v in figures.items()}})
        mlflow.log_dict({k: v.model_dump() for k, v in figures.items()}, "intervals.json")
        mlflow.log_dict(levels.to_dict(orient="records"), "levels.json")
        mlflow.log_dict(registered_intervals, "interval_log_ratio.json")
        with tempfile.TemporaryDirectory() as scratch:
            _log_artifacts(Path(scratch), lake, judged, series.pattern(cube))
        model_info = _log_model(final, latest, register)

    result = SpendingResult(
        run_id=run_id, version=None, alias=None, inputs={CUBE: cube_version, BUSINESSES: businesses_version},
        origins=[f"{m:%Y-%m}" for m in judged_at],
        holdout_months=sorted({f"{pd.Timestamp(m):%Y-%m}" for m in judged["ds"]}), cells=len(cell_ids),
        wape=cell_figure("forecast"), mase=float(everything.loc["cell", "mase_forecast"]),
        structural_wape=cell_figure("structural"), seasonal_naive_wape=cell_figure("SeasonalNaive"),
        auto_ets_wape=cell_figure("AutoETS"), oracle_wape=cell_figure("oracle") if oracle_dir is not None else None,
        oracle_at_target_wape=cell_figure("oracle_at_target") if oracle_dir is not None else None,
        base_wape=cell_figure("base"), coverage=float(everything.loc["cell", "coverage"]),
        coherence_gap=coherence_gap, intervals=figures, levels=levels.to_dict(orient="records"),
        interval_log_ratio=registered_intervals, best_iteration=int(final.best_iteration), seconds=0.0)
    if register:
        result = _register_and_gate(settings, result, model_info, at_cells, config)
    result.seconds = round(time.perf_counter() - started, 1)
    _log.info("spending_pattern.done", run_id=run_id, version=result.version, alias=result.alias, wape=result.wape,
              oracle_wape=result.oracle_wape, coverage=result.coverage, seconds=result.seconds)
    return result


def _coherence_gap(reconciled: pd.DataFrame, tags: dict) -> float:
    """The largest difference between a region's forecast and the sum of its cells'."""
    frame = reconciled.copy()
    frame["parent"] = frame["unique_id"].str.rsplit("/", n=1).str[0]
    cells = frame[frame["unique_id"].isin(tags["province/sigun_cd/industry_code"])]
    sums = cells.groupby(["parent", "ds"])["xgboost"].sum()
    regions = frame.set_index(["unique_id", "ds"])["xgboost"]
    gap = (regions.reindex(sums.index) - sums).abs().max()
    return round(float(gap), 2)


def _log_artifacts(folder: Path, lake: forecaster.Lake, judged: pd.DataFrame, pattern: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    pattern.to_parquet(folder / "spending_pattern_by_cell.parquet", index=False)
    judged[["unique_id", "origin", "ds", "h", "y", "forecast", "lower", "upper"]].to_parquet(folder / BACKTEST, index=False)
    largest = judged[judged["level"] == "cell"].groupby("unique_id")["y"].sum().sort_values(ascending=False).index[:3].tolist()
    shown = [series.PROVINCE, *largest]
    one_month = judged[judged["h"] == 1]
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 2.4 * len(shown)))
    for ax, uid in zip(axes, shown):
        ax.plot(lake.months, lake.wide.loc[uid].to_numpy() / 1e6, label="actual")
        mine = one_month[one_month["unique_id"] == uid].sort_values("ds")
        ax.plot(mine["ds"], mine["forecast"] / 1e6, "o--", label="forecast a month ahead")
        ax.fill_between(mine["ds"], mine["lower"] / 1e6, mine["upper"] / 1e6, alpha=0.2, label="80 % interval")
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

    sample = example[forecaster.FEATURES].head(5).copy()
    for c in ("level", "sigun_cd", "industry_code"):
        sample[c] = sample[c].astype(object)
    quiet = logging.getLogger("mlflow.models.model")  # see credit_risk.train._log_model
    level, _ = quiet.level, quiet.setLevel(logging.ERROR)
    try:
        return mlflow.xgboost.log_model(
            model, name="model", signature=infer_signature(sample, model.predict(example[forecaster.FEATURES].head(5))),
            input_example=sample, registered_model_name=MODEL_NAME if register else None, model_format="ubj",
            pip_requirements=[f"xgboost=={xgboost.__version__}", f"pandas=={pd.__version__}"],
            metadata={"target": "log(spending at the target month + 1) - log(structural forecast + 1)"})
    finally:
        quiet.setLevel(level)


def champion_comparison(settings: Settings, ours: pd.DataFrame) -> tuple[object, pd.DataFrame | None, str]:
    """The champion and the rows both runs forecast out of sample (same series, origin and
    month: ``y, forecast, champion``), with those origins in words; (champion, None, why) when
    there is nothing to compare on, (None, None, "") when there is no champion. The champion's
    registered model has since seen these months, so its forecasts of them now would flatter it."""
    from mlflow.exceptions import MlflowException

    champion = tracking.alias_version(settings, MODEL_NAME, tracking.CHAMPION)
    if champion is None:
        return None, None, ""
    try:
        with tempfile.TemporaryDirectory() as scratch:
            theirs = pd.read_parquet(tracking.client(settings).download_artifacts(champion.run_id, BACKTEST, scratch))
    except (MlflowException, OSError):  # a version trained before backtests were logged, or its artifact is gone
        return champion, None, (f"the champion (v{champion.version}) logged no backtest to compare with: "
                                "promote by hand (`lcdp models` shows both) or retrain it")
    key = ["unique_id", "origin", "ds"]
    common = ours[[*key, "y", "forecast"]].merge(
        theirs[[*key, "forecast"]].rename(columns={"forecast": "champion"}), on=key)
    if common.empty:
        return champion, None, "the champion's backtest and this one share no origin"
    where = (f"the {len(common):,} cell forecasts both made out of sample (origins {common['origin'].min():%Y-%m} "
             f"to {common['origin'].max():%Y-%m})")
    return champion, common, where


def _register_and_gate(settings: Settings, result: SpendingResult, model_info, at_cells: pd.DataFrame,
                       config: SpendingConfig) -> SpendingResult:
    version = int(model_info.registered_model_version)
    champion, compared, where = champion_comparison(settings, at_cells)
    champion_wape = stability = None
    if champion is not None and compared is None:
        rules = [Rule(name="comparable", passed=False, detail=where)]
    else:
        vs_champion = None
        if compared is not None:
            champion_wape = round(judging.wape(compared["y"].to_numpy(), compared["champion"].to_numpy()) or 0.0, 5)
            stability = psi(np.log1p(compared["champion"]), np.log1p(compared["forecast"]))
            vs_champion = wape_difference(compared, "forecast", "champion", config.replicates)
        rules = judge("WAPE", False, wape_difference(at_cells, "forecast", "SeasonalNaive", config.replicates),
                      vs_champion, stability, config.gate.wape_margin, config.gate.psi_max,
                      where or "the same origins")
    decision = tracking.apply_gate(settings, MODEL_NAME, version, rules, champion,
                                   {"holdout_wape": str(result.wape), "run_id": result.run_id,
                                    "interval_log_ratio": json.dumps(result.interval_log_ratio)})
    _log.info("spending_pattern.gate", version=version, promoted=decision.promoted, why=decision.why())
    return result.model_copy(update={"version": version, "champion_wape": champion_wape, "psi": stability,
                                     "gate": decision,
                                     "alias": tracking.CHAMPION if decision.promoted else tracking.CHALLENGER})


def wape_difference(frame: pd.DataFrame, ours: str, theirs: str, replicates: int = 1000) -> Interval:
    """WAPE of ``ours`` minus WAPE of ``theirs`` on the same rows, with its 90 % bootstrap
    interval over series (a series' months are alike: whole series are resampled)."""
    y = frame["y"].to_numpy(dtype=float)
    ours_forecast, theirs_forecast = frame[ours].to_numpy(dtype=float), frame[theirs].to_numpy(dtype=float)

    def statistics(w: np.ndarray | None) -> dict[str, float | None]:
        a, b = judging.wape(y, ours_forecast, w), judging.wape(y, theirs_forecast, w)
        return {"difference": None if a is None or b is None else a - b}

    return bootstrap(statistics, replicate_weights(frame["unique_id"].to_numpy(), replicates))["difference"]


def reproduce(settings: Settings, run_id: str) -> tracking.Reproduction:
    """Retrain ``run_id`` from the cube version and configuration it logged, without
    registering; compare the holdout metrics."""
    run = tracking.training_run(settings, run_id, EXPERIMENT)
    config = SpendingConfig.model_validate_json(run.data.params["config"])
    versions = tracking.lake_inputs(settings, run_id)
    result = train(settings, config, versions=versions, oracle_dir=tracking.logged_oracle(run), register=False)
    return tracking.reproduction(settings, run, result.run_id, versions,
                                 {"holdout_wape": result.wape, "holdout_mase": result.mase, "coverage": result.coverage})

"""Train the credit-risk model on the lake, judge it out of time, log it in MLflow, register
it and run the promotion gate.

The training step reads its inputs at pinned Delta versions (the current ones, or a logged
run's for ``--reproduce``) and labels every business-month point-in-time (``labels``) twice:
whether a credit event follows within 12 months (the figure the model predicts, and judges
on) and whether one follows in the next month (what it learns from: a discrete-time hazard,
``CreditRiskClassifier(periods=12)``). Then it splits by month:

    ... months before the block (what its model learns) | block | ... | censored
    <------------------------------ labelled months (12-month windows) ------------->

The holdout is the latest labelled months, judged in blocks of ``block_months``, each block by
a model and a baseline trained on the one-month labels known at the block's first month: no
block's event informs the model that judges it. The registered model learns from every month
whose next month is known.
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
from lcdp.errors import InsufficientData
from lcdp.lake import catalog
from lcdp.settings import Settings
from models import tracking
from models.credit_risk import baseline as transparent
from models.credit_risk import labels
from models.credit_risk.estimator import CreditRiskClassifier, as_frame
from models.credit_risk.metrics import CreditMetrics, credit_intervals, credit_metrics
from models.credit_risk.scorecard import ScorecardConfig, band_ranges, bands, master_scale
from models.gate import GateConfig, GateDecision, Rule, judge, psi
from models.uncertainty import Interval

_log = log.get(__name__)

DECLARED = declarations.model("credit-risk")
MODEL_NAME = DECLARED.registered
EXPERIMENT = DECLARED.name
FEATURES_TABLE = DECLARED.features
INPUTS = DECLARED.inputs  # the features, and the registry and guarantees its labels come from
#: columns of the features table that are keys or dates, not features
NOT_FEATURES = ("business_key", "month", "credit_month", "employment_month")


class CreditRiskConfig(BaseModel):
    horizon_months: int = 12
    #: months judged out of time, when the history allows (at least ``min_holdout_months``)
    holdout_months: int = 12
    min_holdout_months: int = 3
    #: the holdout is judged in blocks of this many months, each by a model trained on what was
    #: known at the block's first month (rolling origins)
    block_months: int = 3
    #: months left out before each block's first month. The model learns from one-month labels
    #: (an event in the month after the row, ``next_label``), each known the month after its
    #: row, so a block's model learns from every month before the block (0). A model of the
    #: 12-month label needs ``horizon_months - 1``: the months just before a block carry the
    #: labels of the very events the block is judged on, and on a 2000-business world such a
    #: model scored 0.019 AUC above the generator's own probabilities without that embargo.
    #: ``None`` is ``horizon_months - 1``, as the configurations of earlier runs say
    embargo_months: int | None = 0
    min_training_months: int = 3
    #: cluster-bootstrap replicates of the intervals (over businesses)
    replicates: int = 1000
    min_holdout_events: int = 20  # fewer cannot judge a model; the run refuses
    #: CreditRiskClassifier parameters (its ``periods`` is ``horizon_months``: a discrete-time
    #: hazard model, see the estimator). Every row weighs one: on a 1000 × 36 demo world (seed 7) the
    #: events weighed up to balance the classes came 0.006 of AUC further from the oracle
    estimator: dict = Field(default_factory=dict)
    #: the baseline's parameters (``baseline.logistic_one_hot``)
    baseline: dict = Field(default_factory=lambda: {"C": 0.1, "min_frequency": 50})
    exclude_features: list[str] = Field(default_factory=list)  # columns of the features table left out
    #: features whose effect has a known direction (+1: more means riskier)
    monotone: dict[str, int] = Field(default_factory=lambda: {
        "credit_grade": 1, "credit_grade_avg_12m": 1, "delinquency_count": 1, "delinquency_count_avg_12m": 1,
        "delinquency_days": 1, "separations_avg_12m": 1, "guarantee_defaults_to_date": 1})
    scorecard: ScorecardConfig = Field(default_factory=ScorecardConfig)
    gate: GateConfig = Field(default_factory=GateConfig)


def months_needed(config: CreditRiskConfig | None = None) -> int:
    """Months of data training needs: the label horizon, then labelled months for the first
    block's training, its embargo and the smallest holdout."""
    config = config or CreditRiskConfig()
    return config.horizon_months + embargo(config) + config.min_training_months + config.min_holdout_months


def embargo(config: CreditRiskConfig) -> int:
    return config.horizon_months - 1 if config.embargo_months is None else config.embargo_months


class Split(BaseModel):
    training_months: list[str]  # the registered model's: every month whose next month is known
    holdout_months: list[str]
    blocks: list[list[str]] = []  # the holdout's blocks, in order; each judged by its own model
    rows: dict[str, int]  # split → rows
    events: dict[str, int]  # business-months labelled 1 (training: an event the month after)
    event_businesses: dict[str, int]  # distinct businesses among them
    censored_rows: int
    after_event_rows: int


class CreditRiskResult(BaseModel):
    """What one training run did (``lcdp train credit-risk`` prints it)."""

    model: str = MODEL_NAME
    run_id: str
    version: int | None
    alias: str | None  # "champion" when promoted, else "challenger"
    inputs: dict[str, int]
    split: Split
    metrics: CreditMetrics
    baseline: CreditMetrics
    oracle_auc: float | None = None
    oracle_rows: int = 0
    unjudged_rows: int = 0  # holdout rows the oracle has no truth for: left out of every figure
    #: every headline figure and comparison with its 90 % interval over businesses
    intervals: dict[str, Interval] = {}
    bands: list["BandBacktest"] = []
    master_scale: dict[str, float] = {}
    champion_auc: float | None = None
    champion_difference: Interval | None = None  # challenger − champion AUC on months neither saw
    psi: float | None = None
    gate: GateDecision | None = None
    features: list[str]  # the features the model uses
    dropped_features: list[str] = []  # missing or constant in every training row: left out
    best_iteration: int
    seconds: float

    def summary(self) -> dict:
        """The demo's short form (``lcdp demo --json``, ``models``)."""
        return {"version": self.version, "alias": self.alias, "auc": self.metrics.auc, "ks": self.metrics.ks,
                "brier": self.metrics.brier, "oracle_auc": self.oracle_auc, "baseline_auc": self.baseline.auc,
                "holdout_rows": self.metrics.rows, "holdout_events": self.metrics.events,
                "holdout_event_businesses": self.split.event_businesses["holdout"],
                **{k: [v.value, v.low, v.high] for k, v in self.intervals.items() if "_minus_" in k},
                "bands": {b.band[:1]: {"share": b.share, "observed": b.observed} for b in self.bands},
                "run_id": self.run_id}


# --------------------------------------------------------------------------- data


def read_inputs(settings: Settings, versions: dict[str, int] | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The input tables as pandas frames, at ``versions`` (default: their current versions)."""
    frames, used = {}, {}
    for name in INPUTS:
        version = (versions or {}).get(name, catalog.version(name, settings))
        if version is None:
            raise InsufficientData(f"{name} has not been written yet: run `lcdp fuse` after the partners' deliveries")
        frames[name] = catalog.to_arrow(name, settings, version).to_pandas()
        used[name] = version
    return frames, used


def feature_columns(features: pd.DataFrame, exclude: list[str] = ()) -> list[str]:
    unknown = sorted(set(exclude) - set(features.columns))
    if unknown:
        raise InsufficientData(f"cannot leave out {', '.join(unknown)}: not columns of {FEATURES_TABLE}")
    return [c for c in features.columns if c not in NOT_FEATURES and c not in exclude]


def labelled_frame(frames: dict[str, pd.DataFrame], config: CreditRiskConfig) -> pd.DataFrame:
    """Every business-month of the features table with its label and label status over the
    horizon, and over the next month (``next_label``, ``next_status``: what the model learns
    from), in ``in_content_order``."""
    events = labels.credit_events(frames["silver.merchants"], frames["silver.guarantees"])
    features = frames[FEATURES_TABLE]
    frame = labels.label_rows(features, events, config.horizon_months)
    following = labels.label_rows(features[["business_key", "month"]], events, 1)
    frame["next_label"], frame["next_status"] = following["label"], following["label_status"]
    return in_content_order(frame)


def in_content_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows sorted by what they hold (month first, then every other column but the
    business key), index reset. The lake gives rows in data-file order and the business key is
    a pseudonym whose key differs per home, so neither orders the rows the same in two homes
    made from the same partner files; XGBoost's row sampling and the folds of whole
    businesses follow row order (two such homes: holdout AUC 0.8168 and 0.8149)."""
    by = ["month", *[c for c in frame.columns if c not in ("month", "business_key")]]
    return frame.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)


def business_groups(frame: pd.DataFrame) -> np.ndarray:
    """Each row's business as a number, numbered in row order: the groups of the early-stopping
    folds, the same in every home for rows in ``in_content_order``, whatever the pseudonyms."""
    return pd.factorize(frame["business_key"])[0]


def split(frame: pd.DataFrame, config: CreditRiskConfig) -> tuple[pd.Series, Split]:
    """``frame``'s split per row by month, and its account: the holdout (the latest labelled
    months, judged block by block) and the registered model's training rows (every month whose
    next month is known: a model put to work learns from every label known; a row can be in
    both). Training rows and events count one-month labels; the holdout's, 12-month ones."""
    month = pd.to_datetime(frame["month"])
    labelled = sorted(month[frame["label_status"] == labels.LABELLED].unique())
    needed = embargo(config) + config.min_training_months + config.min_holdout_months
    if len(labelled) < needed:
        raise InsufficientData(
            f"{len(labelled)} month(s) have complete {config.horizon_months}-month labels; training needs "
            f"{needed} ({config.min_training_months} to train on, {embargo(config)} embargo, "
            f"{config.min_holdout_months} to judge): deliver more history (at least {months_needed(config)} "
            "months of data)")
    size = min(config.holdout_months, len(labelled) - embargo(config) - config.min_training_months)
    holdout = labelled[-size:]
    blocks = [holdout[i:i + config.block_months] for i in range(0, len(holdout), config.block_months)]
    is_labelled = frame["label_status"] == labels.LABELLED
    part = pd.Series("none", index=frame.index)
    part[is_labelled & month.isin(holdout)] = "holdout"
    label = frame["label"].fillna(0).astype(int)
    every = (frame["next_status"] == labels.LABELLED).to_numpy()
    following = frame["next_label"].fillna(0).astype(int).to_numpy()
    rows = {"training": int(every.sum()), "holdout": int((part == "holdout").sum())}
    events = {"training": int(following[every].sum()), "holdout": int(label[part == "holdout"].sum())}
    info = Split(
        training_months=sorted({f"{m:%Y-%m}" for m in month[every]}), holdout_months=[f"{m:%Y-%m}" for m in holdout],
        blocks=[[f"{m:%Y-%m}" for m in b] for b in blocks], rows=rows, events=events,
        event_businesses={"training": int(frame.loc[every & (following == 1), "business_key"].nunique()),
                          "holdout": int(frame.loc[(part == "holdout") & (label == 1), "business_key"].nunique())},
        censored_rows=int((frame["label_status"] == labels.CENSORED).sum()),
        after_event_rows=int((frame["label_status"] == labels.AFTER_EVENT).sum()))
    if info.events["holdout"] < config.min_holdout_events:
        raise InsufficientData(f"the holdout ({info.holdout_months[0]} to {info.holdout_months[-1]}) holds "
                               f"{info.events['holdout']} credit event(s); judging a model needs "
                               f"{config.min_holdout_events}: deliver more businesses or more history")
    return part, info


def block_training(months: list, block: list, config: CreditRiskConfig) -> list:
    """The months a block's model trains on: every one of ``months`` (those whose next month
    is known) before the block, less the embargo (none by default: each of their one-month
    labels is known by the block's first month)."""
    before = [m for m in months if m < block[0]]
    return before[:len(before) - embargo(config)] if embargo(config) else before


# --------------------------------------------------------------------------- oracle


def oracle_pd(settings: Settings, oracle_dir: Path, rows: pd.DataFrame) -> pd.Series:
    """The generator's true 12-month event probability of each row (NaN where unknown),
    matched through the home's pseudonymization of the BRN."""
    from lcdp.ingest.pseudonym import Pseudonymizer

    truth_file = Path(oracle_dir) / "truth" / "business_month.parquet"
    if not truth_file.exists():
        raise FileNotFoundError(f"no oracle at {truth_file} (give the folder `lcdp generate` wrote)")
    truth = pd.read_parquet(truth_file, columns=["brn", "month", "true_pd_12m"])
    pseudonymizer = Pseudonymizer(settings.hmac_key)
    keys = {brn: pseudonymizer.one("business", brn) for brn in truth["brn"].unique()}
    truth["business_key"] = truth["brn"].map(keys)
    truth["month"] = pd.to_datetime(truth["month"])
    probe = rows[["business_key", "month"]].assign(month=pd.to_datetime(rows["month"]))
    return probe.merge(truth[["business_key", "month", "true_pd_12m"]], on=["business_key", "month"],
                       how="left")["true_pd_12m"].set_axis(rows.index)


# --------------------------------------------------------------------------- the run


def train(settings: Settings, config: CreditRiskConfig | None = None, versions: dict[str, int] | None = None,
          oracle_dir: Path | None = None, register: bool = True) -> CreditRiskResult:
    """Judge the model on the holdout with rolling origins, train the one to register on every
    labelled month and learn its master scale, log and register; the gate then sets the alias."""
    import mlflow

    config = config or CreditRiskConfig()
    started = time.perf_counter()
    frames, used = read_inputs(settings, versions)
    frame = labelled_frame(frames, config)
    part, split_info = split(frame, config)
    X = as_frame(frame[feature_columns(frames[FEATURES_TABLE], config.exclude_features)])
    y = frame["label"].fillna(0).astype(int).to_numpy()
    groups = business_groups(frame)
    _log.info("credit_risk.train", inputs=used, blocks=len(split_info.blocks), **split_info.rows)

    backtest = rolling_origins(frame, X, groups, split_info, config)
    estimator, train_rows = backtest.estimator, backtest.train_rows
    # what the registered model kept (a feature missing or constant in every training row is
    # dropped): the logged example and the features.json of the run use it
    features = estimator.features_
    config = config.model_copy(update={"scorecard": config.scorecard.model_copy(update={
        "bands": master_scale(estimator.predict_proba(X.loc[train_rows, features])[:, 1],
                              config.scorecard.band_shares)})})
    holdout_rows = (part == "holdout").to_numpy()
    judged, oracle = holdout_rows, None
    if oracle_dir is not None:
        # the oracle is judged on exactly the model's rows: a row the generator has no truth
        # for (there should be none) leaves the judgement, and the run says how many did
        truth = oracle_pd(settings, oracle_dir, frame).to_numpy()
        judged = holdout_rows & ~np.isnan(truth)
        oracle = truth[judged]
    probability, baseline_probability = backtest.probability[judged], backtest.baseline[judged]
    holdout_y, holdout_groups = y[judged], groups[judged]
    metrics = credit_metrics(holdout_y, probability)
    baseline_metrics = credit_metrics(holdout_y, baseline_probability)
    predictions = {"model": probability, "baseline": baseline_probability}
    oracle_auc = None
    if oracle is not None and len(np.unique(holdout_y)) == 2:
        oracle_auc = credit_metrics(holdout_y, oracle).auc
        predictions["oracle"] = oracle
    uncertainty = credit_intervals(holdout_y, holdout_groups, predictions, config.replicates)
    by_band = band_backtest(holdout_y, probability, frame.loc[judged, "business_key"].to_numpy(), config.scorecard)
    holdout_X = X.loc[judged, features]
    judged_rows = frame.loc[judged, ["business_key", "month"]].reset_index(drop=True)

    with tracking.run(settings, EXPERIMENT, run_name=f"credit-risk {split_info.holdout_months[-1]}") as active:
        run_id = active.info.run_id
        for name, version in used.items():
            tracking.log_lake_input(settings, name, version, frames[name], "training", run_id)
        mlflow.log_params({"horizon_months": config.horizon_months, "holdout_months": len(split_info.holdout_months),
                           "blocks": len(split_info.blocks), "embargo_months": config.embargo_months,
                           "trained_through": split_info.training_months[-1],
                           "n_features": len(features), "best_iteration": estimator.best_iteration_,
                           "dropped_features": ",".join(estimator.dropped_features_),
                           "class_weight": round(estimator.class_weight_, 4),
                           **{f"xgb_{k}": v for k, v in estimator.get_params().items() if k != "monotone"},
                           "oracle_dir": str(oracle_dir) if oracle_dir else "",
                           "config": config.model_dump_json()})
        mlflow.log_metrics({**{f"holdout_{k}": v for k, v in metrics.headline().items()},
                            **{f"baseline_{k}": v for k, v in baseline_metrics.headline().items()},
                            **({"oracle_auc": oracle_auc} if oracle_auc is not None else {}),
                            **interval_metrics(uncertainty),
                            "holdout_rows": metrics.rows, "holdout_events": metrics.events,
                            "holdout_event_businesses": int(len(np.unique(holdout_groups[holdout_y == 1]))),
                            "unjudged_rows": int(holdout_rows.sum() - judged.sum()),
                            "training_rows": split_info.rows["training"], "censored_rows": split_info.censored_rows})
        mlflow.set_tags({"censoring": f"{split_info.censored_rows} business-months whose {config.horizon_months}-month "
                                      "window is not complete were not labelled",
                         "holdout_months": ",".join(split_info.holdout_months)})
        with tempfile.TemporaryDirectory() as scratch:
            _log_artifacts(Path(scratch), estimator, metrics, baseline_metrics, split_info, features)
            mlflow.log_dict({k: v.model_dump() for k, v in uncertainty.items()}, "intervals.json")
            mlflow.log_dict([b.model_dump() for b in by_band], "band_backtest.json")
            judged_rows.assign(probability=probability).to_parquet(Path(scratch) / BACKTEST, index=False)
            mlflow.log_artifact(str(Path(scratch) / BACKTEST))
        model_info = _log_model(estimator, holdout_X, register)

    result = CreditRiskResult(run_id=run_id, version=None, alias=None, inputs=used, split=split_info,
                              metrics=metrics, baseline=baseline_metrics, oracle_auc=oracle_auc,
                              oracle_rows=int(judged.sum()) if oracle is not None else 0,
                              unjudged_rows=int(holdout_rows.sum() - judged.sum()), intervals=uncertainty,
                              bands=by_band, master_scale=config.scorecard.bands, features=features,
                              dropped_features=estimator.dropped_features_, best_iteration=estimator.best_iteration_,
                              seconds=0.0)
    if register:
        result = _register_and_gate(settings, result, model_info, probability, judged_rows, holdout_y,
                                    holdout_groups, config)
    result.seconds = round(time.perf_counter() - started, 1)
    _log.info("credit_risk.done", run_id=run_id, version=result.version, alias=result.alias, auc=metrics.auc,
              oracle_auc=oracle_auc, baseline_auc=baseline_metrics.auc, seconds=result.seconds)
    return result


class Backtest(BaseModel, arbitrary_types_allowed=True):
    """The rolling-origin predictions of the holdout (NaN elsewhere) and the registered model."""

    probability: np.ndarray
    baseline: np.ndarray
    estimator: CreditRiskClassifier
    train_rows: np.ndarray


def rolling_origins(frame: pd.DataFrame, X: pd.DataFrame, groups: np.ndarray, split_info: Split,
                    config: CreditRiskConfig) -> Backtest:
    """Each block of the holdout predicted (over the horizon) by the model and the baseline
    trained on the one-month labels known at its first month (``block_training``), and the
    model to register, trained on every month whose next month is known."""
    month = frame["month"].map(lambda m: f"{pd.Timestamp(m):%Y-%m}").to_numpy()
    labelled = (frame["label_status"] == labels.LABELLED).to_numpy()
    learnable = (frame["next_status"] == labels.LABELLED).to_numpy()
    following = frame["next_label"].fillna(0).astype(int).to_numpy()
    learnable_months = sorted(set(month[learnable]))
    probability, baseline = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    for block in split_info.blocks:
        rows = learnable & np.isin(month, block_training(learnable_months, block, config))
        target = labelled & np.isin(month, block)
        estimator = _estimator(config)
        estimator.fit(X[rows], following[rows], groups=groups[rows])
        kept = estimator.features_
        probability[target] = estimator.predict_proba(X.loc[target, kept])[:, 1]
        pipeline = transparent.logistic_one_hot(X.loc[rows, kept], following[rows], **config.baseline)
        baseline[target] = transparent.probability(pipeline, X.loc[target, kept], config.horizon_months)
        _log.info("credit_risk.block", block=f"{block[0]}..{block[-1]}", training_rows=int(rows.sum()),
                  holdout_rows=int(target.sum()))
    estimator = _estimator(config)
    estimator.fit(X[learnable], following[learnable], groups=groups[learnable])
    return Backtest(probability=probability, baseline=baseline, estimator=estimator, train_rows=learnable)


def _estimator(config: CreditRiskConfig) -> CreditRiskClassifier:
    return CreditRiskClassifier(**{"monotone": config.monotone, **config.estimator, "periods": config.horizon_months})


def interval_metrics(uncertainty: dict[str, Interval]) -> dict[str, float]:
    """The intervals as MLflow metrics: ``model_auc_low``, ``model_auc_high``…"""
    return {f"{k}_{end}": getattr(v, end) for k, v in uncertainty.items() for end in ("low", "high")}


class BandBacktest(BaseModel):
    band: str
    low: float  # the band's probability range [low, high)
    high: float
    businesses: int
    business_months: int
    share: float  # of the judged business-months
    events: int
    observed: float  # event rate of its business-months
    predicted: float  # mean predicted probability


def band_backtest(y: np.ndarray, probability: np.ndarray, business: np.ndarray,
                  scorecard: ScorecardConfig) -> list[BandBacktest]:
    """The master scale on the holdout: per band, who is in it, how many had an event, the
    observed against the predicted rate."""
    band = bands(probability, scorecard)
    out = []
    for name, (low, high) in band_ranges(scorecard).items():
        inside = band == name
        out.append(BandBacktest(
            band=name, low=low, high=high, businesses=int(len(np.unique(business[inside]))),
            business_months=int(inside.sum()), share=round(float(inside.mean()), 4), events=int(y[inside].sum()),
            observed=round(float(y[inside].mean()), 5) if inside.any() else 0.0,
            predicted=round(float(probability[inside].mean()), 5) if inside.any() else 0.0))
    return out


CreditRiskResult.model_rebuild()


def _log_artifacts(folder: Path, estimator: CreditRiskClassifier, metrics: CreditMetrics, baseline: CreditMetrics,
                   split_info: Split, features: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    (folder / "features.json").write_text(json.dumps(features, indent=1))
    (folder / "split.json").write_text(split_info.model_dump_json(indent=1))
    (folder / "holdout_metrics.json").write_text(json.dumps(
        {"model": metrics.model_dump(), "baseline": baseline.model_dump()}, indent=1))
    importance = estimator.feature_importance().head(20)[::-1]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(importance.index, importance.to_numpy())
    ax.set_xlabel("total gain")
    ax.set_title("feature importance")
    fig.tight_layout()
    fig.savefig(folder / "feature_importance.png", dpi=90)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, m in (("XGBoost", metrics), ("baseline", baseline)):
        ax.plot([b.predicted for b in m.calibration], [b.observed for b in m.calibration], "o-", label=name)
    top = max(b.observed for b in metrics.calibration + baseline.calibration) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set_xlabel("predicted 12-month event probability (decile mean)")
    ax.set_ylabel("observed event rate")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "calibration_by_decile.png", dpi=90)
    plt.close("all")
    mlflow.log_artifacts(str(folder))


def _signature_frame(X: pd.DataFrame) -> pd.DataFrame:
    """MLflow's signatures know no categoricals: their columns go in as text."""
    out = X.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object)
    return out


def _log_model(estimator: CreditRiskClassifier, sample: pd.DataFrame, register: bool):
    from mlflow.models import infer_signature

    example = _signature_frame(sample.head(5))
    signature = infer_signature(example, estimator.predict_proba(sample.head(5))[:, 1])
    # MLflow checks the example through the pyfunc flavour, which hands XGBoost text columns
    # it refuses without the category dtype; the platform scores through
    # mlflow.xgboost.load_model and ``as_frame`` instead, so that check's warning is noise
    quiet = logging.getLogger("mlflow.models.model")
    level, _ = quiet.level, quiet.setLevel(logging.ERROR)
    try:
        return _log_xgboost(estimator, signature, example, register)
    finally:
        quiet.setLevel(level)


def _log_xgboost(estimator: CreditRiskClassifier, signature, example: pd.DataFrame, register: bool):
    import mlflow
    import xgboost

    return mlflow.xgboost.log_model(
        estimator.booster_model_, name="model",
        # stated, so MLflow need not run the model on the example to find them out
        pip_requirements=[f"xgboost=={xgboost.__version__}", f"pandas=={pd.__version__}"], signature=signature, input_example=example,
        registered_model_name=MODEL_NAME if register else None, model_format="ubj",
        # ``periods``: the booster predicts one month; ``CreditRiskClassifier.from_booster(model,
        # periods)`` predicts the horizon
        metadata={"categorical_features": estimator.categorical_features_, "periods": estimator.periods,
                  "class_weight": estimator.class_weight_, "prior_corrected": True})


BACKTEST = "backtest.parquet"  # the run's out-of-time predictions: business_key, month, probability


def champion_comparison(settings: Settings, rows: pd.DataFrame, holdout_y: np.ndarray, groups: np.ndarray,
                        probability: np.ndarray) -> tuple[object, dict | None, float | None, str]:
    """The current champion, the intervals of both models' AUC and of challenger − champion
    over businesses (``credit_intervals``) and the PSI of the challenger's scores against the
    champion's, on the rows both runs judged out of time (``rows``: business_key and month of
    the challenger's), and those months in words; (champion, None, None, why) when there is
    nothing to compare on, (None, None, None, "") when there is no champion.

    Both sides are backtest predictions, each made from what was known at its block's origin:
    the champion's registered model was trained on every label of its day, which covers these
    months, so its scores of them now would flatter it."""
    from mlflow.exceptions import MlflowException

    champion = tracking.alias_version(settings, MODEL_NAME, tracking.CHAMPION)
    if champion is None:
        return None, None, None, ""
    try:
        with tempfile.TemporaryDirectory() as scratch:
            theirs = pd.read_parquet(tracking.client(settings).download_artifacts(champion.run_id, BACKTEST, scratch))
    except (MlflowException, OSError):  # a version trained before backtests were logged, or its artifact is gone
        return champion, None, None, (f"the champion (v{champion.version}) logged no backtest to compare with: "
                                      "promote by hand (`lcdp models` shows both) or retrain it")
    probe = rows.assign(row=np.arange(len(rows)), month=pd.to_datetime(rows["month"]))
    common = probe.merge(theirs.assign(month=pd.to_datetime(theirs["month"])), on=["business_key", "month"])
    at = common["row"].to_numpy()
    if len(np.unique(holdout_y[at])) < 2:
        return champion, None, None, "the champion's backtest and this one share no months with both outcomes"
    compared = credit_intervals(holdout_y[at], groups[at], {"challenger": probability[at],
                                                           "champion": common["probability"].to_numpy()})
    where = f"the {len(at):,} business-months both judged out of time ({common['month'].min():%Y-%m} to " \
            f"{common['month'].max():%Y-%m})"
    return champion, compared, psi(common["probability"].to_numpy(), probability[at]), where


def _register_and_gate(settings: Settings, result: CreditRiskResult, model_info, probability: np.ndarray,
                       rows: pd.DataFrame, holdout_y: np.ndarray, groups: np.ndarray,
                       config: CreditRiskConfig) -> CreditRiskResult:
    version = int(model_info.registered_model_version)
    champion, compared, stability, where = champion_comparison(settings, rows, holdout_y, groups, probability)
    difference = compared["challenger_minus_champion_auc"] if compared else None
    if champion is not None and difference is None:
        rules = [Rule(name="comparable", passed=False, detail=where)]
    else:
        rules = judge("AUC", True, result.intervals["model_minus_baseline_auc"], difference, stability,
                      config.gate.auc_margin, config.gate.psi_max, where)
    decision = tracking.apply_gate(settings, MODEL_NAME, version, rules, champion,
                                   {"holdout_auc": str(result.metrics.auc), "run_id": result.run_id})
    _log.info("credit_risk.gate", version=version, promoted=decision.promoted, why=decision.why())
    return result.model_copy(update={"version": version, "champion_auc": compared["champion_auc"].value if compared else None,
                                     "psi": stability,
                                     "champion_difference": difference, "gate": decision,
                                     "alias": tracking.CHAMPION if decision.promoted else tracking.CHALLENGER})


def reproduce(settings: Settings, run_id: str) -> tracking.Reproduction:
    """Retrain ``run_id`` from its logged inputs (Delta time travel) and configuration, without
    registering; compare the holdout metrics."""
    run = tracking.training_run(settings, run_id, EXPERIMENT)
    config = CreditRiskConfig.model_validate_json(run.data.params["config"])
    versions = tracking.lake_inputs(settings, run_id)
    result = train(settings, config, versions=versions, oracle_dir=tracking.logged_oracle(run), register=False)
    return tracking.reproduction(settings, run, result.run_id, versions,
                                 {f"holdout_{k}": v for k, v in result.metrics.headline().items()})

"""Train the credit-risk model on the lake, judge it out of time, log it in MLflow, register
it and run the promotion gate.

The training step reads its inputs at pinned Delta versions (the current ones, or a logged
run's for ``--reproduce``), labels every business-month point-in-time (``labels``), and
splits by month:

    ... training months (a fifth of the businesses: early stopping) | holdout | censored
    <---------------------------- labelled months --------------------------->

No holdout business-month informs training or early stopping. The label windows of the last
training months overlap the holdout's months, as in any out-of-time split that uses all the
history it has; ``embargo_months`` drops that many training months before the holdout for a
stricter split.
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
from models.credit_risk import labels
from models.credit_risk.estimator import CreditRiskClassifier, as_frame
from models.credit_risk.metrics import CreditMetrics, credit_metrics
from models.credit_risk.scorecard import ScorecardConfig
from models.gate import GateConfig, GateDecision, Rule, judge, psi

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
    holdout_months: int = 6
    embargo_months: int = 0
    min_holdout_events: int = 20  # fewer cannot judge a model; the run refuses
    estimator: dict = Field(default_factory=dict)  # CreditRiskClassifier parameters
    exclude_features: list[str] = Field(default_factory=list)  # columns of the features table left out
    #: features whose effect has a known direction (+1: more means riskier)
    monotone: dict[str, int] = Field(default_factory=lambda: {
        "credit_grade": 1, "credit_grade_avg_12m": 1, "delinquency_count": 1, "delinquency_count_avg_12m": 1,
        "delinquency_days": 1, "separations_avg_12m": 1, "guarantee_defaults_to_date": 1})
    scorecard: ScorecardConfig = Field(default_factory=ScorecardConfig)
    gate: GateConfig = Field(default_factory=GateConfig)


def months_needed(config: CreditRiskConfig | None = None) -> int:
    """Months of data training needs: complete labels for the holdout, the embargo and three
    months to train on."""
    config = config or CreditRiskConfig()
    return config.horizon_months + config.holdout_months + config.embargo_months + 3


class Split(BaseModel):
    training_months: list[str]
    holdout_months: list[str]
    rows: dict[str, int]  # split → rows
    events: dict[str, int]  # business-months labelled 1
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
    champion_auc: float | None = None
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
                "holdout_event_businesses": self.split.event_businesses["holdout"], "run_id": self.run_id}


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
    """Every business-month of the features table with its label and label status, in
    ``in_content_order``."""
    events = labels.credit_events(frames["silver.merchants"], frames["silver.guarantees"])
    features = frames[FEATURES_TABLE]
    return in_content_order(labels.label_rows(features, events, config.horizon_months))


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
    """``frame``'s split per row (training, holdout or none) by month, and its account."""
    month = pd.to_datetime(frame["month"])
    labelled = sorted(month[frame["label_status"] == labels.LABELLED].unique())
    needed = config.holdout_months + config.embargo_months + 3
    if len(labelled) < needed:
        raise InsufficientData(
            f"{len(labelled)} month(s) have complete {config.horizon_months}-month labels; training needs "
            f"{needed} ({config.holdout_months} holdout, {config.embargo_months} embargo, 3 or more to "
            "train): deliver more history "
            f"(at least {needed + config.horizon_months} months of data)")
    holdout = labelled[-config.holdout_months:]
    rest = labelled[:-config.holdout_months]
    rest = rest[:len(rest) - config.embargo_months] if config.embargo_months else rest
    training = rest
    part = pd.Series("none", index=frame.index)
    is_labelled = frame["label_status"] == labels.LABELLED
    for name, months in (("training", training), ("holdout", holdout)):
        part[is_labelled & month.isin(months)] = name
    label = frame["label"].fillna(0).astype(int)
    info = Split(
        training_months=[f"{m:%Y-%m}" for m in training], holdout_months=[f"{m:%Y-%m}" for m in holdout],
        rows={p: int((part == p).sum()) for p in ("training", "holdout")},
        events={p: int(label[part == p].sum()) for p in ("training", "holdout")},
        event_businesses={p: int(frame.loc[(part == p) & (label == 1), "business_key"].nunique())
                          for p in ("training", "holdout")},
        censored_rows=int((frame["label_status"] == labels.CENSORED).sum()),
        after_event_rows=int((frame["label_status"] == labels.AFTER_EVENT).sum()))
    if info.events["holdout"] < config.min_holdout_events:
        raise InsufficientData(f"the holdout ({', '.join(info.holdout_months)}) holds {info.events['holdout']} "
                               f"credit event(s); judging a model needs {config.min_holdout_events}: "
                               "deliver more businesses or more history")
    return part, info


# --------------------------------------------------------------------------- baseline and oracle


def baseline_model(X: pd.DataFrame, y: np.ndarray):
    """The transparent baseline: optimal WoE binning of every feature (optbinning), then a
    logistic regression on the WoE values; a pipeline with ``predict_proba``."""
    from optbinning import BinningProcess
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    frame = X.copy()
    for c in categorical:  # optbinning bins text categories
        frame[c] = frame[c].astype(object).where(frame[c].notna(), "missing")
    binning = BinningProcess(list(frame.columns), categorical_variables=categorical)
    pipeline = make_pipeline(binning, LogisticRegression(max_iter=2000))
    pipeline.fit(frame, y)
    pipeline.categorical_ = categorical
    return pipeline


def baseline_proba(pipeline, X: pd.DataFrame) -> np.ndarray:
    frame = X.copy()
    for c in pipeline.categorical_:
        frame[c] = frame[c].astype(object).where(frame[c].notna(), "missing")
    return pipeline.predict_proba(frame)[:, 1]


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
    """Train, judge on the holdout, log and register; the gate then sets the alias."""
    import mlflow

    config = config or CreditRiskConfig()
    started = time.perf_counter()
    frames, used = read_inputs(settings, versions)
    frame = labelled_frame(frames, config)
    part, split_info = split(frame, config)
    features = feature_columns(frames[FEATURES_TABLE], config.exclude_features)
    X = as_frame(frame[features])
    y = frame["label"].fillna(0).astype(int).to_numpy()
    train_rows, holdout_rows = (part == "training").to_numpy(), (part == "holdout").to_numpy()
    _log.info("credit_risk.train", inputs=used, **split_info.rows)

    estimator = CreditRiskClassifier(**{"monotone": config.monotone, **config.estimator})
    estimator.fit(X[train_rows], y[train_rows], groups=business_groups(frame)[train_rows])
    # what the model kept (a feature missing or constant in every training row is dropped):
    # the baseline, the holdout, the logged example and the features.json of the run all use it
    features = estimator.features_
    X = X[features]
    holdout_X, holdout_y = X[holdout_rows], y[holdout_rows]
    probability = estimator.predict_proba(holdout_X)[:, 1]
    metrics = credit_metrics(holdout_y, probability)
    baseline = baseline_model(X[train_rows], y[train_rows])
    baseline_metrics = credit_metrics(holdout_y, baseline_proba(baseline, holdout_X))
    oracle_auc, oracle_rows = None, 0
    if oracle_dir is not None:
        truth = oracle_pd(settings, oracle_dir, frame[holdout_rows])
        known = truth.notna().to_numpy()
        oracle_rows = int(known.sum())
        if oracle_rows and len(np.unique(holdout_y[known])) == 2:
            oracle_auc = credit_metrics(holdout_y[known], truth[known].to_numpy()).auc

    with tracking.run(settings, EXPERIMENT, run_name=f"credit-risk {split_info.holdout_months[-1]}") as active:
        run_id = active.info.run_id
        for name, version in used.items():
            tracking.log_lake_input(settings, name, version, frames[name], "training", run_id)
        mlflow.log_params({"horizon_months": config.horizon_months, "holdout_months": config.holdout_months,
                           "embargo_months": config.embargo_months,
                           "n_features": len(features), "best_iteration": estimator.best_iteration_,
                           "dropped_features": ",".join(estimator.dropped_features_),
                           "class_weight": round(estimator.class_weight_, 4),
                           **{f"xgb_{k}": v for k, v in estimator.get_params().items() if k != "monotone"},
                           "oracle_dir": str(oracle_dir) if oracle_dir else "",
                           "config": config.model_dump_json()})
        mlflow.log_metrics({**{f"holdout_{k}": v for k, v in metrics.headline().items()},
                            **{f"baseline_{k}": v for k, v in baseline_metrics.headline().items()},
                            **({"oracle_auc": oracle_auc} if oracle_auc is not None else {}),
                            "holdout_rows": metrics.rows, "holdout_events": metrics.events,
                            "holdout_event_businesses": split_info.event_businesses["holdout"],
                            "training_rows": split_info.rows["training"], "censored_rows": split_info.censored_rows})
        mlflow.set_tags({"censoring": f"{split_info.censored_rows} business-months whose {config.horizon_months}-month "
                                      "window is not complete were not labelled",
                         "holdout_months": ",".join(split_info.holdout_months)})
        with tempfile.TemporaryDirectory() as scratch:
            _log_artifacts(Path(scratch), estimator, metrics, baseline_metrics, split_info, features)
        model_info = _log_model(estimator, holdout_X, register)
        _evaluate(model_info.model_uri, holdout_X, holdout_y)

    result = CreditRiskResult(run_id=run_id, version=None, alias=None, inputs=used, split=split_info,
                              metrics=metrics, baseline=baseline_metrics, oracle_auc=oracle_auc,
                              oracle_rows=oracle_rows, features=features,
                              dropped_features=estimator.dropped_features_, best_iteration=estimator.best_iteration_,
                              seconds=0.0)
    if register:
        # the champion is judged on the same holdout rows with the features it was trained on
        every_feature = as_frame(frame.loc[holdout_rows, feature_columns(frames[FEATURES_TABLE])])
        result = _register_and_gate(settings, result, model_info, probability, every_feature, holdout_y, config)
    result.seconds = round(time.perf_counter() - started, 1)
    _log.info("credit_risk.done", run_id=run_id, version=result.version, alias=result.alias, auc=metrics.auc,
              oracle_auc=oracle_auc, baseline_auc=baseline_metrics.auc, seconds=result.seconds)
    return result


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
        metadata={"categorical_features": estimator.categorical_features_,
                  "class_weight": estimator.class_weight_, "prior_corrected": True})


def _evaluate(model_uri: str, X: pd.DataFrame, y: np.ndarray) -> None:
    """MLflow's standard classifier evaluation (ROC, PR, calibration and lift plots) of the
    logged model on the holdout, beside our KS and Brier."""
    import mlflow

    data = X.copy()
    data["label"] = y
    mlflow.models.evaluate(model_uri, data, targets="label", model_type="classifier",
                           evaluators=["default"], evaluator_config={"default": {"log_model_explainability": False}})


def champion_auc_and_psi(settings: Settings, holdout_X: pd.DataFrame, holdout_y: np.ndarray,
                         probability: np.ndarray) -> tuple[object, float | None, float | None, str | None]:
    """The current champion, its AUC on this holdout, and the PSI of ``probability`` against
    its scores; (None, …) when there is no champion."""
    import mlflow

    champion = tracking.alias_version(settings, MODEL_NAME, tracking.CHAMPION)
    if champion is None:
        return None, None, None, None
    theirs_model = CreditRiskClassifier.from_booster(mlflow.xgboost.load_model(f"models:/{MODEL_NAME}/{champion.version}"))
    missing = [n for n in theirs_model.features_ if n not in holdout_X.columns]
    if missing:
        return champion, None, None, f"the champion uses feature(s) this lake lacks: {', '.join(missing)}"
    theirs = theirs_model.predict_proba(holdout_X)[:, 1]
    return champion, credit_metrics(holdout_y, theirs).auc, psi(theirs, probability), None


def _register_and_gate(settings: Settings, result: CreditRiskResult, model_info, probability: np.ndarray,
                       holdout_X: pd.DataFrame, holdout_y: np.ndarray, config: CreditRiskConfig) -> CreditRiskResult:
    version = int(model_info.registered_model_version)
    champion, champion_auc, stability, problem = champion_auc_and_psi(settings, holdout_X, holdout_y, probability)
    if problem is not None:
        rules = [Rule(name="comparable", passed=False, detail=problem)]
    else:
        rules = judge("AUC", True, result.metrics.auc, result.baseline.auc, champion_auc, stability,
                      config.gate.auc_margin, config.gate.psi_max)
    decision = tracking.apply_gate(settings, MODEL_NAME, version, rules, champion,
                                   {"holdout_auc": str(result.metrics.auc), "run_id": result.run_id})
    _log.info("credit_risk.gate", version=version, promoted=decision.promoted, why=decision.why())
    return result.model_copy(update={"version": version, "champion_auc": champion_auc, "psi": stability,
                                     "gate": decision,
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

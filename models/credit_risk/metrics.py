"""How good a probability of default is: discrimination (AUC, KS) and accuracy of the
probabilities (Brier, log loss, a calibration table by decile). Stability (PSI) is the
gate's rule, in ``models.gate``.

MLflow's evaluator gives AUC and its plots but no KS or Brier: these are the few
lines no library we depend on gives in the form a credit team reads them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

from models.uncertainty import Interval, Ranking, intervals, replicate_weights, weighted_mean


class CalibrationBin(BaseModel):
    decile: int  # 1 = the lowest predicted probabilities
    rows: int
    predicted: float  # mean predicted probability
    observed: float  # share of rows with the event


class CreditMetrics(BaseModel):
    rows: int
    events: int
    auc: float
    ks: float
    brier: float
    log_loss: float
    calibration: list[CalibrationBin]

    def headline(self) -> dict[str, float]:
        return {"auc": self.auc, "ks": self.ks, "brier": self.brier, "log_loss": self.log_loss}


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """The largest gap between the events' and the non-events' cumulative score distributions."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[CalibrationBin]:
    frame = pd.DataFrame({"y": y, "p": p})
    # ranks break ties, so equal probabilities never make a decile vanish
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False) + 1
    grouped = frame.groupby("decile").agg(rows=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    return [CalibrationBin(decile=int(d), rows=int(r.rows), predicted=round(float(r.predicted), 5),
                           observed=round(float(r.observed), 5)) for d, r in grouped.iterrows()]


def credit_metrics(y: np.ndarray, p: np.ndarray) -> CreditMetrics:
    """Every metric of one set of predictions against outcomes (both classes needed)."""
    y, p = np.asarray(y, dtype=int), np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    if len(np.unique(y)) < 2:
        raise ValueError(f"the outcomes hold one class only ({len(y)} rows): AUC and KS need both")
    return CreditMetrics(rows=len(y), events=int(y.sum()), auc=round(float(roc_auc_score(y, p)), 5),
                         ks=round(ks_statistic(y, p), 5), brier=round(float(brier_score_loss(y, p)), 6),
                         log_loss=round(float(log_loss(y, p, labels=[0, 1])), 6), calibration=calibration_table(y, p))


def credit_intervals(y: np.ndarray, groups: np.ndarray, predictions: dict[str, np.ndarray],
                     replicates: int = 1000, seed: int = 0) -> dict[str, Interval]:
    """AUC, KS and Brier of each of ``predictions`` (name → probabilities, all on the rows of
    ``y``) and the AUC difference of every pair, each with its 90 % cluster-bootstrap interval
    over ``groups`` (the businesses): ``model_auc``, ``model_minus_oracle_auc``…"""
    y = np.asarray(y, dtype=int)
    rankings = {name: Ranking(y, p) for name, p in predictions.items()}
    squared = {name: (np.clip(np.asarray(p, dtype=float), 0, 1) - y) ** 2 for name, p in predictions.items()}
    names = list(predictions)

    def statistics(w: np.ndarray | None) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name in names:
            out[f"{name}_auc"] = rankings[name].auc(w)
            out[f"{name}_ks"] = rankings[name].ks(w)
            out[f"{name}_brier"] = weighted_mean(squared[name], w)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if out[f"{a}_auc"] is not None and out[f"{b}_auc"] is not None:
                    out[f"{a}_minus_{b}_auc"] = out[f"{a}_auc"] - out[f"{b}_auc"]
        return out

    return intervals(statistics, replicate_weights(groups, replicates, seed))

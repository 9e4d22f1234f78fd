"""How good a probability of default is: discrimination (AUC, KS), accuracy of the
probabilities (Brier, log loss, a calibration table by decile) and stability (PSI).

MLflow's evaluator gives AUC and its plots but no KS, Brier or PSI (BRIEF §6): these are the
few lines no library we depend on gives in the form a credit team reads them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve


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


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` over ``expected``'s
    deciles (0.1: a shift worth a look; 0.25: the population has moved)."""
    expected, actual = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return round(float(np.sum((a - e) * np.log(a / e))), 5)

"""Watching the models after promotion: how far each month's population has moved from the
one the credit champion trained on, and how both champions did on the months whose outcomes
are now known. Functions of frames; ``lcdp.pipeline.monitoring`` reads the lake and MLflow,
calls them and writes ``gold.model_monitoring``.

- **Drift (PSI).** For every month of ``gold.merchant_month_features``, the population
  stability index of each feature the champion uses, and of its score, against its training
  window: the business-months it was fitted on (months up to its ``trained_through``, labelled
  as at its training). A month's population is its business-months not already past their
  credit event, the population the model is trained on and meant for. Numbers are binned at
  the training window's deciles, as the promotion gate bins scores (``models.gate.psi``), with
  a missing value as a bin of its own; text columns are compared over their categories. 0.1 is
  worth a look (*watch*), above 0.25 the population has moved (*flagged*). Beside each PSI
  is the largest its feature had in a month of the training window itself: a feature that
  follows the calendar or the businesses' age (``months_active``, the quarterly policy-fund
  payouts in ``policy_fund_share``) is flagged in the months the model learned from too (on
  the 2000-business demo world, ``months_active`` between 3.2 and 9.3), so a flag beyond that
  spread is the one that says something the model has not seen.
- **Realized credit performance.** For every month whose 12-month outcome window is complete
  in the lake: the AUC of the champion's probability against what happened, and the mean
  predicted probability beside the observed event rate (calibration). Months inside the
  training window are marked: there the model is judged on rows it learned from.
- **Realized forecast error.** Each version of ``gold.spending_forecasts`` holds one origin's
  three months; the table's history is the history of what was published. Monitoring reads
  every version its lineage names (Delta time travel, pinned as it reads them so vacuum keeps
  them) and judges each published cell forecast whose month has arrived in the cube: the
  forecasts as they were published, by the version that was champion then, never made again
  with hindsight. Until a month forecast has arrived, there is nothing to judge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from lcdp.lake.dictionary import Columns
from models.credit_risk import labels

#: PSI worth a look, and PSI at which the population has moved
PSI_WATCH, PSI_FLAG = 0.1, 0.25
#: the gate's floor for an empty bin's share (``models.gate.psi``)
EMPTY_SHARE = 1e-4
#: the ``feature`` of the score's own PSI
SCORE = "score"


class Flag(StrEnum):
    OK = "ok"
    WATCH = "watch"
    FLAGGED = "flagged"


class Measure(StrEnum):
    PSI = "psi"
    AUC = "auc"
    PREDICTED_RATE = "predicted_rate"
    OBSERVED_RATE = "observed_rate"
    WAPE = "wape"


OUTPUT_DDL = ("model string, model_version int, measure string, feature string, month date, value double, "
              "rows bigint, reference double, watch double, threshold double, flag string, in_training boolean")
COLUMN_NAMES = [part.split()[0] for part in OUTPUT_DDL.split(", ")]


# --------------------------------------------------------------------------- PSI


def _shares(counts: np.ndarray, total: int) -> np.ndarray:
    return np.clip(counts / max(total, 1), EMPTY_SHARE, None)


def _index(expected: np.ndarray, actual: np.ndarray) -> float:
    return round(float(np.sum((actual - expected) * np.log(actual / expected))), 5)


def is_categorical(values: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def binner(expected: pd.Series, bins: int = 10) -> Callable[[pd.Series], np.ndarray]:
    """The bins of ``expected`` as a function from a column to its shares per bin: numbers
    at ``expected``'s deciles (edges that coincide merge, as in ``models.gate.psi``) plus one
    bin for missing values; text over ``expected``'s categories plus one for the others
    (missing included)."""
    if is_categorical(expected):
        known = pd.Index(expected.dropna().astype(str).unique())

        def categories(column: pd.Series) -> np.ndarray:
            text = column.astype("string")
            counts = text[text.isin(known)].value_counts().reindex(known, fill_value=0).to_numpy()
            return _shares(np.append(counts, (~text.isin(known) | text.isna()).sum()), len(column))
        return categories

    present = pd.to_numeric(expected, errors="coerce").dropna().to_numpy(dtype=float)
    edges = (np.unique(np.quantile(present, np.linspace(0, 1, bins + 1))) if len(present)
             else np.array([0.0, 0.0]))
    edges[0], edges[-1] = -np.inf, np.inf

    def numbers(column: pd.Series) -> np.ndarray:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(values)
        counts = np.histogram(values[~missing], edges)[0]
        return _shares(np.append(counts, missing.sum()), len(values))
    return numbers


def feature_psi(expected: pd.Series, actual: pd.Series, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (see ``binner``); on
    numbers without missing values, ``models.gate.psi``'s figure."""
    shares = binner(expected, bins)
    return _index(shares(expected), shares(actual))


def flag(psi: float) -> Flag:
    return Flag.FLAGGED if psi > PSI_FLAG else Flag.WATCH if psi > PSI_WATCH else Flag.OK


def drift(reference: pd.DataFrame, rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``month, feature, value, rows``: each month's PSI of each of ``columns`` in ``rows``
    against ``reference``."""
    out = []
    binners = {c: binner(reference[c]) for c in columns}
    expected = {c: binners[c](reference[c]) for c in columns}
    for month, part in rows.groupby("month", sort=True):
        for column in columns:
            out.append({"month": month, "feature": column, "value": _index(expected[column], binners[column](part[column])),
                        "rows": len(part)})
    return pd.DataFrame(out, columns=["month", "feature", "value", "rows"])


@dataclass(frozen=True)
class Drifted:
    """A feature whose PSI is above the watch level in a month."""

    feature: str
    psi: float
    flag: Flag
    training_max: float | None  # the largest PSI it had in a month of the training window

    @property
    def beyond_training(self) -> bool:
        """Further from the training window than any month the model learned from."""
        return self.training_max is None or np.isnan(self.training_max) or self.psi > self.training_max


@dataclass(frozen=True)
class LatestDrift:
    month: dt.date
    flagged: list[Drifted]  # above the threshold, highest first
    watch: list[Drifted]  # above the watch level, not flagged


def latest_drift(table: pd.DataFrame) -> LatestDrift | None:
    """The features flagged and watched in the latest month a ``table`` of this module's rows
    measured for drift; None when it measured none."""
    psi = table[table["measure"] == Measure.PSI]
    if psi.empty:
        return None
    month = psi["month"].max()
    latest = psi[psi["month"] == month].sort_values("value", ascending=False)
    drifted = [Drifted(r.feature, float(r.value), Flag(r.flag), None if pd.isna(r.reference) else float(r.reference))
               for r in latest.itertuples() if r.flag in (Flag.FLAGGED, Flag.WATCH)]
    return LatestDrift(pd.Timestamp(month).date(), [d for d in drifted if d.flag == Flag.FLAGGED],
                       [d for d in drifted if d.flag == Flag.WATCH])


# --------------------------------------------------------------------------- the credit model


def _months(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.to_period("M").dt.to_timestamp()


def population(features: pd.DataFrame, events: pd.DataFrame, horizon_months: int = 12) -> pd.DataFrame:
    """The business-months of ``features`` not already past their credit event (the
    population the model is trained on and meant for), with ``label`` and ``label_status``:
    labelled where the outcome window is complete in ``features``' months."""
    rows = labels.label_rows(features, events, horizon_months)
    rows = rows[rows["label_status"] != labels.AFTER_EVENT].copy()
    rows["month"] = _months(rows["month"])
    return rows.reset_index(drop=True)


def training_rows(features: pd.DataFrame, events: pd.DataFrame, trained_through: str,
                  horizon_months: int = 12) -> pd.DataFrame:
    """The business-months a champion trained through ``trained_through`` (YYYY-MM) was fitted
    on, from the features and events it read: labelled, up to that month."""
    rows = population(features, events, horizon_months)
    return rows[(rows["label_status"] == labels.LABELLED)
                & (rows["month"] <= pd.Timestamp(f"{trained_through}-01"))].reset_index(drop=True)


def realized(rows: pd.DataFrame) -> pd.DataFrame:
    """``month, measure, value, rows``: per month of labelled ``rows`` (``label``,
    ``probability``), the AUC (when the month holds both outcomes) and the mean predicted
    probability beside the observed event rate."""
    from sklearn.metrics import roc_auc_score

    out = []
    for month, part in rows.groupby("month", sort=True):
        y, p = part["label"].astype(int).to_numpy(), part["probability"].to_numpy(dtype=float)
        if len(np.unique(y)) == 2:
            out.append({"month": month, "measure": Measure.AUC, "value": round(float(roc_auc_score(y, p)), 5),
                        "rows": len(part)})
        out.append({"month": month, "measure": Measure.PREDICTED_RATE, "value": round(float(p.mean()), 5),
                    "rows": len(part)})
        out.append({"month": month, "measure": Measure.OBSERVED_RATE, "value": round(float(y.mean()), 5),
                    "rows": len(part)})
    return pd.DataFrame(out, columns=["month", "measure", "value", "rows"])


def credit_monitoring(rows: pd.DataFrame, reference: pd.DataFrame, scores: pd.DataFrame, features: list[str],
                      trained_through: str, model: str, model_version: int,
                      holdout_auc: float | None = None) -> pd.DataFrame:
    """The table's rows for the credit champion: ``rows`` is the current ``population``,
    ``reference`` its ``training_rows``, ``scores`` the champion's ``probability`` per
    ``business_key`` and ``month``; ``features`` the features it uses."""
    probability = scores[["business_key", "month", "probability"]].assign(month=_months(scores["month"]))
    rows = rows.merge(probability, on=["business_key", "month"], how="left")
    reference = reference.merge(probability, on=["business_key", "month"], how="left")
    rows[SCORE], reference[SCORE] = rows["probability"], reference["probability"]
    psi = drift(reference, rows, [*features, SCORE]).assign(measure=Measure.PSI)
    complete = rows[(rows["label_status"] == labels.LABELLED) & rows["probability"].notna()]
    table = pd.concat([psi, realized(complete)], ignore_index=True)
    is_psi = table["measure"] == Measure.PSI
    through = pd.Timestamp(f"{trained_through}-01")
    # a PSI's reference: the largest its feature had in a month of the training window itself
    spread = psi[pd.to_datetime(psi["month"]) <= through].groupby("feature")["value"].max()
    table["reference"] = np.where(table["measure"] == Measure.AUC, holdout_auc,
                                  np.where(is_psi, table["feature"].map(spread), np.nan))
    table["watch"], table["threshold"] = np.where(is_psi, PSI_WATCH, np.nan), np.where(is_psi, PSI_FLAG, np.nan)
    table["flag"] = [str(flag(v)) if p else None for v, p in zip(table["value"], is_psi)]
    return _table(table, model, model_version, lambda month: month <= through)


# --------------------------------------------------------------------------- the spending model


def published_cells(versions: list[pd.DataFrame]) -> pd.DataFrame:
    """``sigun_cd, industry_code, month, h, forecast, model_version``: the cells' forecasts of
    every origin in ``versions`` (versions of ``gold.spending_forecasts``, newest first; an
    origin forecast twice counts as its newest version published it), ``h`` months after
    their origin."""
    seen: set = set()
    out = []
    for rows in versions:
        cells = rows[rows["level"] == "cell"]
        fresh = cells[~cells["origin"].isin(seen)]
        seen |= set(cells["origin"])
        out.append(fresh)
    cells = pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["sigun_cd", "industry_code", "month", "origin", "forecast", "model_version"])
    month, origin = pd.to_datetime(cells["month"]), pd.to_datetime(cells["origin"])
    return cells.assign(month=month, h=(month.dt.year - origin.dt.year) * 12 + month.dt.month - origin.dt.month)[
        ["sigun_cd", "industry_code", "month", "h", "forecast", "model_version"]]


def cell_actuals(cube: pd.DataFrame) -> pd.DataFrame:
    """``sigun_cd, industry_code, month, y``: each 시군 × industry's spending per month of the
    cube (payments at unknown merchants belong to no cell)."""
    placed = cube[cube["sigun_cd"].notna() & cube["industry_code"].notna()]
    out = placed.groupby(["sigun_cd", "industry_code", "month"], as_index=False)["spending"].sum()
    return out.assign(month=pd.to_datetime(out["month"])).rename(columns={"spending": "y"})


def realized_wape(forecasts: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """``month, feature, value, rows, model_version``: for each month forecast whose actuals
    have arrived (a month of ``actuals``) and each horizon (``feature``: ``h1``, ``h2``,
    ``h3``), the WAPE of the cells' ``forecasts`` (``published_cells``) against ``actuals``
    (``cell_actuals``; a cell without spending that month spent 0)."""
    arrived = set(actuals["month"])
    judged = forecasts[forecasts["month"].isin(arrived)].merge(
        actuals, on=["sigun_cd", "industry_code", "month"], how="left").fillna({"y": 0.0})
    out = []
    for (month, h), part in judged.groupby(["month", "h"], sort=True):
        total = part["y"].abs().sum()
        if total > 0:
            out.append({"month": month, "feature": f"h{int(h)}", "rows": len(part),
                        "value": round(float((part["y"] - part["forecast"]).abs().sum() / total), 5),
                        "model_version": int(part["model_version"].iloc[0])})
    return pd.DataFrame(out, columns=["month", "feature", "value", "rows", "model_version"])


def spending_monitoring(wape: pd.DataFrame, model: str, holdout_wape: dict[int, float]) -> pd.DataFrame:
    """The table's rows for the spending forecaster from ``realized_wape``, each beside the
    holdout WAPE of the version that published the forecasts (``holdout_wape``: version →
    WAPE). Published forecasts start after the data they were made from: never in-sample."""
    rows = wape.assign(measure=Measure.WAPE, reference=wape["model_version"].map(holdout_wape), watch=np.nan,
                       threshold=np.nan, flag=None)
    return _table(rows, model, rows["model_version"], lambda month: pd.Series(False, index=month.index))


def _table(rows: pd.DataFrame, model: str, model_version: int | pd.Series, in_training: Callable) -> pd.DataFrame:
    month = pd.to_datetime(rows["month"])
    out = rows.assign(model=model, model_version=model_version, month=month.dt.date,
                      in_training=in_training(month).astype(bool))
    out["measure"] = out["measure"].astype(str)
    for column in ("value", "reference", "watch", "threshold"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out["rows"] = out["rows"].astype("int64")
    out["model_version"] = out["model_version"].astype("int32")
    return out[COLUMN_NAMES].reset_index(drop=True)


COLUMNS = Columns(OUTPUT_DDL, {
    "model": "registered model (lcdp-credit-risk, lcdp-spending-pattern)",
    "model_version": "the version measured: the champion that scored the lake (psi and the credit measures), the "
                     "version that published the forecasts (wape)",
    "measure": "psi: population stability index against the training window; auc: realized AUC; "
               "predicted_rate / observed_rate: mean predicted 12-month event probability and the observed "
               "event rate (calibration); wape: realized WAPE of the forecasts over the cells",
    "feature": "psi: the feature, or 'score' for the model's probability; wape: the horizon (h1, h2, h3 months "
               "ahead); null for auc and the rates",
    "month": "psi and the credit measures: the month the features describe (T, outcome window T+1..T+12); "
             "wape: the month forecast",
    "value": "the measure's value",
    "rows": "business-months (credit) or 시군 × industry cells (wape) it is computed over",
    "reference": "auc: the champion's holdout AUC at training; wape: the holdout WAPE of the version that "
                 "published the forecasts; psi: the largest PSI the feature "
                 "had in a month of the training window itself (how far one month it learned from already was); "
                 "null otherwise",
    "watch": "psi worth a look above this (0.1)", "threshold": "psi above this is flagged: the population has moved (0.25)",
    "flag": "psi: ok, watch or flagged; null for the other measures",
    "in_training": "the month is in the champion's training window (its realized figures are in-sample)"})

"""How the spending forecaster is judged: on rolling origins, per level and horizon, beside
the structural forecast alone, statsforecast's seasonal naive and AutoETS, and the generator's
oracle, with 90 % bootstrap intervals over series.

- WAPE: Σ|actual − forecast| / Σ|actual| over the level's forecasts.
- MASE: per series, the mean absolute error over the in-sample error of the seasonal naive
  forecast (a year before) up to the origin, averaged over series.
- Coverage of the prediction interval, and the pinball (quantile) loss of its two ends,
  relative to the mean actual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.uncertainty import Interval, intervals, replicate_weights

#: the forecasts judged beside ours, in the order reports show them
PEERS = ("structural", "SeasonalNaive", "AutoETS", "oracle", "oracle_at_target")
#: their names in the run's figures (``auto_ets_wape``, ``model_minus_seasonal_naive_wape`` …)
FIGURE_NAMES = {"structural": "structural", "SeasonalNaive": "seasonal_naive", "AutoETS": "auto_ets", "oracle": "oracle",
                "oracle_at_target": "oracle_at_target"}


def wape(y: np.ndarray, forecast: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    w = np.ones_like(y) if weights is None else weights
    total = float(np.sum(w * np.abs(y)))
    return float(np.sum(w * np.abs(y - forecast))) / total if total else None


def mase_scales(wide: pd.DataFrame, origin: int, season: int = 12) -> pd.Series:
    """Per series (rows of ``wide``, months as columns): the mean absolute error of the
    seasonal naive forecast in the months up to position ``origin`` (of last month's value
    when there is less than a season and one month of history)."""
    history = wide.iloc[:, :origin + 1].to_numpy(dtype=float)
    lag = season if history.shape[1] > season else 1
    scale = np.abs(history[:, lag:] - history[:, :-lag]).mean(axis=1)
    return pd.Series(scale, index=wide.index)


def pinball(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, share: float) -> float:
    """Mean quantile loss of the interval's two ends (quantiles (1 − share)/2 and
    (1 + share)/2), over the mean actual."""
    q_low, q_high = (1 - share) / 2, (1 + share) / 2

    def loss(q: float, at: np.ndarray) -> np.ndarray:
        return np.maximum(q * (y - at), (q - 1) * (y - at))

    mean_y = float(np.mean(np.abs(y)))
    return float(np.mean((loss(q_low, lower) + loss(q_high, upper)) / 2) / mean_y) if mean_y else float("nan")


def by_level(judged: pd.DataFrame, share: float, models: tuple[str, ...]) -> pd.DataFrame:
    """One row per level and horizon (``h`` 0: all horizons): series, forecasts, WAPE and
    MASE of ``models``, coverage and pinball loss of our intervals. ``judged`` holds
    ``level, h, unique_id, y, scale, lower, upper`` and a column per model."""
    rows = []
    level_of = judged["level"].astype(str)
    parts = [*judged.groupby([level_of, "h"]), *(((name, 0), part) for name, part in judged.groupby(level_of))]
    for (level, h), part in parts:
        y = part["y"].to_numpy(dtype=float)
        row = {"level": level, "h": int(h), "series": int(part["unique_id"].nunique()), "forecasts": len(part)}
        scaled = part["scale"].to_numpy(dtype=float)
        usable = scaled > 0
        for model in models:
            if model not in part or part[model].isna().any():
                continue
            f = part[model].to_numpy(dtype=float)
            row[f"wape_{model}"] = round(wape(y, f) or float("nan"), 5)
            per_series = pd.Series(np.abs(y - f)[usable] / scaled[usable]).groupby(part["unique_id"].to_numpy()[usable]).mean()
            row[f"mase_{model}"] = round(float(per_series.mean()), 5) if len(per_series) else None
        inside = (y >= part["lower"].to_numpy()) & (y <= part["upper"].to_numpy())
        row["coverage"] = round(float(inside.mean()), 4)
        row["pinball"] = round(pinball(y, part["lower"].to_numpy(), part["upper"].to_numpy(), share), 5)
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["level", "h"]).reset_index(drop=True)


def headline(cells: pd.DataFrame, replicates: int = 1000, seed: int = 0) -> dict[str, Interval]:
    """The cells' figures with 90 % intervals over series (a series' months are alike: whole
    series are resampled): WAPE of ours and of each peer present, ours over the oracle's, ours
    minus each peer's, and the coverage of our intervals."""
    y = cells["y"].to_numpy(dtype=float)
    forecasts = {"model": cells["forecast"].to_numpy(dtype=float),
                 **{FIGURE_NAMES[p]: cells[p].to_numpy(dtype=float) for p in PEERS if p in cells and cells[p].notna().all()}}
    inside = ((y >= cells["lower"].to_numpy()) & (y <= cells["upper"].to_numpy())).astype(float)

    def statistics(w: np.ndarray | None) -> dict[str, float | None]:
        out = {f"{name}_wape": wape(y, f, w) for name, f in forecasts.items()}
        for peer in forecasts:
            if peer != "model" and out["model_wape"] is not None and out[f"{peer}_wape"] is not None:
                out[f"model_minus_{peer}_wape"] = out["model_wape"] - out[f"{peer}_wape"]
        for limit in ("oracle", "oracle_at_target"):
            if out.get(f"{limit}_wape"):
                out[f"model_over_{limit}_wape"] = out["model_wape"] / out[f"{limit}_wape"]
        out["coverage"] = float(np.average(inside, weights=w)) if w is None or w.sum() else None
        return out

    return intervals(statistics, replicate_weights(cells["unique_id"].to_numpy(), replicates, seed))

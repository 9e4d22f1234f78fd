"""The forecaster: the structural forecast (``knowledge``) corrected by one XGBoost model over
every series of every level, then reconciled across the hierarchy.

A row of the design is (series, origin, horizon h). The target is the log ratio of the target
month's spending to the structural forecast; the features are what was known at the origin:
the series' level and place, the structural forecast itself, how far the series stood from
its structural nowcast in the last months and a year before the target (the seasonality the
calendar does not explain), the share of its level from businesses that just opened or just
stopped, and the target month's calendar. Trees then learn corrections that apply to a small
county's bakeries and to the province alike.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from models.spending_pattern import knowledge, series

HORIZONS = series.HORIZONS
FEATURES = ["level", "sigun_cd", "industry_code", "h", "log_structural", "gap0", "gap1", "gap2", "last_year_gap",
            "log_merchants", "closed_share", "new_share", "month_of_year", *knowledge.CALENDAR_TERMS]
#: the first origin (position in the months) a design row starts from: three months behind it
FIRST_ORIGIN = 2


class Lake:
    """Every series wide (series × months), the summing matrix from cells to every series, and
    the businesses' book: what designs are built from, once per training run."""

    def __init__(self, Y_df: pd.DataFrame, S_df: pd.DataFrame, merchants: pd.DataFrame):
        self.wide = Y_df.pivot(index="unique_id", columns="ds", values="y").sort_index(axis=1)
        self.months = [pd.Timestamp(m) for m in self.wide.columns]
        S = S_df.set_index("unique_id") if "unique_id" in S_df.columns else S_df
        self.S = S.reindex(self.wide.index)
        self.cell_ids = list(self.S.columns)
        self.book = knowledge.Book.of(merchants, Y_df, self.cell_ids)
        self.meta = pd.DataFrame([series.parts(u) for u in self.wide.index], columns=["level", "sigun_cd", "industry_code"],
                                 index=self.wide.index)
        self.logs = np.log1p(self.wide.clip(lower=0).to_numpy())
        self._structures: dict[int, knowledge.Structure] = {}

    def structure(self, origin: int) -> knowledge.Structure:
        if origin not in self._structures:
            self._structures[origin] = knowledge.structure(self.book, origin)
        return self._structures[origin]

    def up(self, by_cell: pd.Series) -> np.ndarray:
        """A per-cell quantity summed to every series (rows of ``wide``)."""
        return series.summed(self.S, by_cell)

    def structural(self, origin: int, target: pd.Timestamp, h: int) -> np.ndarray:
        return self.up(self.structure(origin).forecast(target, h))

    def design(self, origins: list[int], with_target: bool = True) -> pd.DataFrame:
        """One row per series × origin × horizon; ``with_target`` keeps only rows whose target
        month is in the data."""
        rows = []
        for o in origins:
            if o < FIRST_ORIGIN:
                continue
            st = self.structure(o)
            level = self.up(st.level)
            weight = np.where(level > 0, level, np.nan)

            def nowcast_gap(m: int) -> np.ndarray:
                fitted = level * np.exp(st.calendar.log_index(self.months[m]))
                return self.logs[:, m] - np.log1p(fitted)

            gaps = [nowcast_gap(o - k) for k in range(3)]
            shares = {name: np.nan_to_num(self.up(st.level * getattr(st, name)) / weight)
                      for name in ("closed_share", "new_share")}
            for h in HORIZONS:
                target = self.months[o] + pd.DateOffset(months=h)
                t = o + h if o + h < len(self.months) else None
                if with_target and t is None:
                    continue
                structural = self.structural(o, target, h)
                year_before = o + h - 12
                frame = self.meta.copy()
                frame["unique_id"], frame["origin"], frame["ds"], frame["h"] = self.wide.index, self.months[o], target, h
                frame["structural"] = structural
                frame["log_structural"] = np.log1p(structural)
                frame["gap0"], frame["gap1"], frame["gap2"] = gaps
                frame["last_year_gap"] = nowcast_gap(year_before) if year_before >= 0 else np.nan
                frame["log_merchants"] = np.log1p(self.up(st.merchants.astype(float)))
                frame["closed_share"], frame["new_share"] = shares["closed_share"], shares["new_share"]
                frame["month_of_year"] = target.month
                for name, value in zip(knowledge.CALENDAR_TERMS, knowledge.calendar_terms(target)):
                    frame[name] = value
                if t is not None:
                    frame["y"] = self.wide.iloc[:, t].to_numpy()
                    frame["target"] = self.logs[:, t] - frame["log_structural"].to_numpy()
                rows.append(frame.reset_index(drop=True))
        out = pd.concat(rows, ignore_index=True)
        for column in ("level", "sigun_cd", "industry_code"):
            out[column] = out[column].astype("category")
        return out


def fit(design: pd.DataFrame, estimator: dict, validation_origins: int):
    """The correction on every row of ``design``; its last ``validation_origins`` origins
    stop the boosting. The loss is the absolute error of the log ratio weighted by the
    structural forecast, from no correction: what WAPE weighs, so a small cell's closure does
    not pull every cell's forecast down."""
    import xgboost as xgb

    origins = sorted(design["origin"].unique())
    valid = design["origin"].isin(origins[-validation_origins:])
    weight = design["structural"].clip(lower=1.0).to_numpy()
    model = xgb.XGBRegressor(**estimator, enable_categorical=True, tree_method="hist", random_state=0, n_jobs=2)
    model.fit(design.loc[~valid, FEATURES], design.loc[~valid, "target"], sample_weight=weight[~valid.to_numpy()],
              eval_set=[(design.loc[valid, FEATURES], design.loc[valid, "target"])],
              sample_weight_eval_set=[weight[valid.to_numpy()]], verbose=False)
    return model


def base_forecasts(model, rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """``unique_id, ds, <column>``: the corrected forecasts of ``rows`` (one origin's design)."""
    corrected = rows["log_structural"].to_numpy() + model.predict(rows[FEATURES])
    return rows[["unique_id", "ds"]].assign(**{column: np.clip(np.expm1(corrected), 0, None)})


def reconcile(forecasts: pd.DataFrame, S_df: pd.DataFrame, tags: dict, column: str) -> pd.DataFrame:
    """Coherent, non-negative forecasts (MinTrace, structural weights: a series weighs by the
    cells under it) in ``<column>`` itself."""
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import MinTrace

    reconciler = HierarchicalReconciliation(reconcilers=[MinTrace(method="wls_struct")])
    quiet = logging.getLogger("hierarchicalforecast")
    level, _ = quiet.level, quiet.setLevel(logging.ERROR)
    try:
        out = reconciler.reconcile(Y_hat_df=forecasts, S_df=S_df, tags=tags)
    finally:
        quiet.setLevel(level)
    reconciled = [c for c in out.columns if c.startswith(f"{column}/")][0]
    # a cell MinTrace took below zero spends nothing; every series is then the sum of its cells
    # again, so the forecasts stay coherent
    S = S_df.set_index("unique_id") if "unique_id" in S_df.columns else S_df
    cells = (out.pivot(index="unique_id", columns="ds", values=reconciled).reindex(S.columns).clip(lower=0).fillna(0.0))
    every = pd.DataFrame(S.to_numpy() @ cells.to_numpy(), index=S.index, columns=cells.columns)
    every.index.name, every.columns.name = "unique_id", "ds"
    coherent = every.stack().rename(column).reset_index()
    return out[["unique_id", "ds"]].merge(coherent, on=["unique_id", "ds"], how="left")

"""Monthly spending series from ``gold.spending_cube``, their hierarchy (province → 시군 →
시군 × industry) and the direct multi-horizon design the forecaster learns from.

A row of the design is (series, origin month, horizon h): what was known at the origin — the
last three months' spending, the same month a year before the target, the series' level and
place — and the calendar of the target month (days, Fridays to Sundays, the days before and
of 설날/추석, policy-fund payout months). The target is the log ratio of the target month's
spending to the mean of the last three: trees then learn calendar and trend effects that
apply to a small county's bakeries and to the province alike.
"""

from __future__ import annotations

import calendar as pycal
import datetime as dt

import numpy as np
import pandas as pd

from lcdp.calendar import POLICY_FUND_MONTHS, holiday_days

PROVINCE = "41"  # 경기도
HORIZONS = (1, 2, 3)
SPEC = [["province"], ["province", "sigun_cd"], ["province", "sigun_cd", "industry_code"]]
LEVEL_NAMES = {1: "province", 2: "region", 3: "cell"}


def monthly_cells(cube: pd.DataFrame) -> pd.DataFrame:
    """Spending per 시군 × industry × month, every month from a cell's first to the last
    month of data (0 where nothing was spent). Payments at unknown merchants (no region)
    are left out of the hierarchy: they belong to no cell."""
    placed = cube[cube["sigun_cd"].notna() & cube["industry_code"].notna()]
    cells = (placed.groupby(["sigun_cd", "industry_code", "month"], as_index=False)["spending"].sum())
    cells["month"] = pd.to_datetime(cells["month"])
    months = pd.date_range(cells["month"].min(), cells["month"].max(), freq="MS")
    first = cells.groupby(["sigun_cd", "industry_code"])["month"].min().rename("first").reset_index()
    grid = first.merge(pd.DataFrame({"month": months}), how="cross")
    grid = grid[grid["month"] >= grid["first"]].drop(columns="first")
    full = grid.merge(cells, on=["sigun_cd", "industry_code", "month"], how="left").fillna({"spending": 0})
    return full.sort_values(["sigun_cd", "industry_code", "month"]).reset_index(drop=True)


def hierarchy(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``(Y_df, S_df, tags)`` of hierarchicalforecast: every series of every level."""
    from hierarchicalforecast.utils import aggregate

    bottom = cells.assign(province=PROVINCE).rename(columns={"month": "ds", "spending": "y"})
    # the hierarchy needs every cell in every month: a cell opened later is 0 before
    months = pd.DataFrame({"ds": sorted(bottom["ds"].unique())})
    keys = bottom[["province", "sigun_cd", "industry_code"]].drop_duplicates()
    bottom = (keys.merge(months, how="cross").merge(bottom, on=["province", "sigun_cd", "industry_code", "ds"],
                                                    how="left").fillna({"y": 0.0}))
    Y_df, S_df, tags = aggregate(bottom[["province", "sigun_cd", "industry_code", "ds", "y"]], SPEC)
    return Y_df.reset_index(drop=True) if "unique_id" in Y_df.columns else Y_df.reset_index(), S_df, tags


def parts(unique_id: str) -> tuple[str, str | None, str | None]:
    """``41/41110/5202`` → (level, region, industry)."""
    pieces = unique_id.split("/")
    return LEVEL_NAMES[len(pieces)], (pieces[1] if len(pieces) > 1 else None), (pieces[2] if len(pieces) > 2 else None)


def calendar_features(month: pd.Timestamp) -> dict[str, float]:
    days = pycal.monthrange(month.year, month.month)[1]
    weekdays = [dt.date(month.year, month.month, d).weekday() for d in range(1, days + 1)]
    before, during = holiday_days(month.year, month.month)
    return {"month_of_year": month.month, "days": days, "fridays": weekdays.count(4),
            "saturdays": weekdays.count(5), "sundays": weekdays.count(6), "pre_holiday_days": before,
            "holiday_days": during, "policy_month": float(month.month in POLICY_FUND_MONTHS)}


def design(Y_df: pd.DataFrame, origins: list[pd.Timestamp], horizons: tuple[int, ...] = HORIZONS,
           with_target: bool = True) -> pd.DataFrame:
    """One row per series × origin × horizon (see the module's docstring); ``with_target``
    keeps only rows whose target month is in ``Y_df``."""
    wide = Y_df.pivot(index="unique_id", columns="ds", values="y").sort_index(axis=1)
    months = list(wide.columns)
    position = {m: i for i, m in enumerate(months)}
    logs = np.log1p(wide.clip(lower=0).to_numpy())
    ids = wide.index.to_numpy()
    meta = pd.DataFrame([parts(u) for u in ids], columns=["level", "sigun_cd", "industry_code"])
    rows = []
    for origin in origins:
        o = position.get(pd.Timestamp(origin))
        if o is None or o < 2:
            continue
        recent = logs[:, o - 2:o + 1]
        base = recent.mean(axis=1)
        for h in horizons:
            target = pd.Timestamp(origin) + pd.DateOffset(months=h)
            t = position.get(target)
            if with_target and t is None:
                continue
            last_year = position.get(target - pd.DateOffset(months=12))
            frame = meta.copy()
            frame["unique_id"], frame["origin"], frame["ds"], frame["h"] = ids, pd.Timestamp(origin), target, h
            frame["base"] = base
            frame["lag0"], frame["lag1"], frame["lag2"] = recent[:, 2] - base, recent[:, 1] - base, recent[:, 0] - base
            frame["last_year"] = (logs[:, last_year] - base) if last_year is not None else np.nan
            frame["level_log"] = base
            for key, value in calendar_features(target).items():
                frame[key] = value
            if t is not None:
                frame["y"] = wide.iloc[:, t].to_numpy()
                frame["target"] = logs[:, t] - base
            rows.append(frame)
    out = pd.concat(rows, ignore_index=True)
    for column in ("level", "sigun_cd", "industry_code"):
        out[column] = out[column].astype("category")
    return out


FEATURES = ["level", "sigun_cd", "industry_code", "h", "lag0", "lag1", "lag2", "last_year", "level_log",
            "month_of_year", "days", "fridays", "saturdays", "sundays", "pre_holiday_days", "holiday_days",
            "policy_month"]


def pattern(cube: pd.DataFrame) -> pd.DataFrame:
    """Per 시군 × industry: who spends (age band × gender shares), when (hour band and
    weekday/weekend shares) and the seasonal index by month of year (its spending that month
    over its average month)."""
    placed = cube[cube["sigun_cd"].notna() & cube["industry_code"].notna()].copy()
    cell = ["sigun_cd", "industry_code"]
    total = placed.groupby(cell)["spending"].sum().rename("total")

    def shares(by: list[str], prefix: str) -> pd.DataFrame:
        part = placed.groupby(cell + by)["spending"].sum().reset_index()
        part["key"] = prefix + part[by].astype(str).agg("·".join, axis=1)
        wide = part.pivot_table(index=cell, columns="key", values="spending", aggfunc="sum", fill_value=0)
        return wide.div(total, axis=0).round(4)

    placed["month_of_year"] = pd.to_datetime(placed["month"]).dt.month
    monthly = placed.groupby(cell + ["month", "month_of_year"])["spending"].sum().reset_index()
    seasonal = monthly.groupby(cell + ["month_of_year"])["spending"].mean().unstack("month_of_year")
    seasonal = seasonal.div(seasonal.mean(axis=1), axis=0).round(3).add_prefix("season_m")
    return pd.concat([total, shares(["age_band", "gender"], "who_"), shares(["hour_band"], "hour_"),
                      shares(["day_type"], "day_"), seasonal], axis=1).reset_index()

"""Monthly spending series from ``gold.spending_cube``, their hierarchy (province → 시군 →
시군 × industry), and each cell's spending pattern (who spends, when, which months)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def summed(S: pd.DataFrame, by_cell: pd.Series) -> np.ndarray:
    """A per-cell quantity summed to every series of the summing matrix ``S`` (its rows); a
    cell ``by_cell`` lacks counts 0."""
    return S.to_numpy() @ by_cell.reindex(S.columns).fillna(0.0).to_numpy()


def parts(unique_id: str) -> tuple[str, str | None, str | None]:
    """``41/41110/5202`` → (level, region, industry)."""
    pieces = unique_id.split("/")
    return LEVEL_NAMES[len(pieces)], (pieces[1] if len(pieces) > 1 else None), (pieces[2] if len(pieces) > 2 else None)


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

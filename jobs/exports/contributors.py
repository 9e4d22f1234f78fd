"""Spending cells with the contributor counts disclosure control needs, margins included.

From ``silver.transactions`` (payments, net of their refunds; orphan refunds wait for their
payment and are left out): for every month, the main table region × industry and one table
per breakdown (age band, gender, hour band, day type) by region and by industry, each with
its margins, and per cell the spending, payments, distinct cardholders, distinct merchants
and the largest single merchant's amount (for the dominance rule).

Distinct counts cannot be added up from finer cells, so every margin is counted from the
payments themselves, with ``GROUPING SETS``; a margin's dimension holds ``ALL``. As in
``gold_spending_cube``, distinct counts are counts of distinct (cell, card) and (cell,
merchant) pairs, which the engine can spill, not ``countDistinct`` accumulators.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold_spending_cube import hour_band
from lcdp.exports.disclosure import ALL

BREAKDOWNS = ("age_band", "gender", "hour_band", "day_type", "fund")
KEY = ["month", "breakdown", "category", "sigun_cd", "industry_code"]


def payments(transactions: DataFrame) -> DataFrame:
    """The payments the products count, with their breakdown values."""
    return transactions.where(F.col("kind") == "payment").select(
        F.col("tx_month").alias("month"), "sigun_cd", "industry_code", "card_key", "merchant_key",
        F.greatest(F.col("net_amount"), F.lit(0)).cast("bigint").alias("amount"),
        "age_band", "gender", hour_band(F.col("tx_hour")).alias("hour_band"),
        F.when(F.col("is_weekend"), "weekend").otherwise("weekday").alias("day_type"),
        F.coalesce(F.col("policy_fund"), F.lit("none")).alias("fund"))


def _cells_of(payments: DataFrame, breakdown: str, dims: list[str]) -> pd.DataFrame:
    """One grouping (a table's cells, or one of its margins) as a small pandas frame."""
    category = F.lit(ALL) if breakdown == "total" else F.col(breakdown).cast("string")
    rows = payments.select(*dims, category.alias("category"), "month", "card_key", "merchant_key", "amount")
    by = ["month", "category", *dims]
    merchants = (rows.groupBy(*by, "merchant_key").agg(F.sum("amount").alias("amount"), F.count(F.lit(1)).alias("n"))
                 .groupBy(*by).agg(F.sum("amount").cast("bigint").alias("spending"),
                                   F.sum("n").cast("bigint").alias("transactions"),
                                   F.count("merchant_key").cast("bigint").alias("merchants"),
                                   F.max("amount").cast("bigint").alias("top_amount"))).toPandas()
    cards = (rows.where(F.col("card_key").isNotNull()).select(*by, "card_key").distinct()
             .groupBy(*by).agg(F.count(F.lit(1)).cast("bigint").alias("cardholders"))).toPandas()
    out = merchants.merge(cards, on=by, how="left").fillna({"cardholders": 0})
    for dim in ("sigun_cd", "industry_code"):
        if dim not in dims:
            out[dim] = ALL
    return out.assign(breakdown=breakdown)


def spending_cells(payments: DataFrame, stage=lambda df: df) -> pd.DataFrame:
    """One row per cell: ``KEY``, spending, transactions, cardholders, merchants, and
    ``top_share``: the largest single merchant's share of the cell's spending (0 when none).

    Each table and margin is its own small query (a few hash tables each), not one plan of
    grouping sets, whose many aggregations share one memory pool: at 400 merchants × 30
    months, grouping sets over the payments ran the 2.9 GB pool dry."""
    fixed = stage(payments)
    frames = []
    for breakdown in ("total", *BREAKDOWNS):
        groupings = [["sigun_cd"], ["industry_code"], []]
        if breakdown == "total":
            groupings.insert(0, ["sigun_cd", "industry_code"])
        frames += [_cells_of(fixed, breakdown, dims) for dims in groupings]
    return _with_top_share(frames)


def _with_top_share(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The groupings as one frame with ``top_share`` (0 where nothing was spent)."""
    cells = pd.concat(frames, ignore_index=True)
    cells["cardholders"] = cells["cardholders"].astype("int64")
    spending = cells["spending"].where(cells["spending"] > 0)
    cells["top_share"] = (cells["top_amount"] / spending).fillna(0.0)
    return cells[[*KEY, "spending", "transactions", "cardholders", "merchants", "top_share"]]


def total_cells(payments: DataFrame, stage=lambda df: df) -> pd.DataFrame:
    """The main table's cells alone (region × industry, each region, each industry, the
    province) for every month, with their contributors, as ``spending_cells`` counts them."""
    fixed = stage(payments)
    return _with_top_share([_cells_of(fixed, "total", dims)
                            for dims in (["sigun_cd", "industry_code"], ["sigun_cd"], ["industry_code"], [])])

"""``gold.spending_cube``: local-currency spending by region × industry × month × age band ×
gender × hour-of-day band × weekday/weekend (Korean time), with transactions, distinct
cardholders and distinct merchants per cell.

Spending is net of refunds, in the month of the payment (as in ``silver.transactions``), so
the cube's total per region and month equals silver's to the won. Payments at merchants the
registry does not list fall in the cells whose region and industry are null.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.schema import conform
from lcdp.lake.dictionary import Columns

#: Hour-of-day bands: (label, first hour, last hour), Korean time.
HOUR_BANDS = [("00-05", 0, 5), ("06-10", 6, 10), ("11-13", 11, 13), ("14-16", 14, 16),
              ("17-20", 17, 20), ("21-23", 21, 23)]
DIMENSIONS = ["sigun_cd", "industry_code", "age_band", "gender", "hour_band", "day_type"]

OUTPUT_DDL = (
    "sigun_cd string, industry_code string, age_band string, gender string, hour_band string, "
    "day_type string, spending bigint, transactions bigint, cardholders bigint, merchants bigint, "
    "month date"
)


def hour_band(hour):
    band = None
    for label, first, last in HOUR_BANDS:
        band = (F.when(hour.between(first, last), label) if band is None
                else band.when(hour.between(first, last), label))
    return band


def spending_cube(transactions: DataFrame) -> DataFrame:
    """silver.transactions rows → cube cells.

    Two aggregates of the payments, each an ordinary group-by that can spill (no
    ``countDistinct``: with two distinct columns the engine kept each group's values in one
    accumulator that asked 114 MB at once at 300 merchants × 24 months): per (cell, card) the
    spending and payments, rolled up to the cell with its cards counted; per cell the
    distinct merchants. The edge runs it month by month (cells never span months): one
    query over 24 months at 20,000 merchants took 154 s, the 24 month queries 31 s.
    """
    cells = transactions.select(
        "sigun_cd", "industry_code", "age_band", "gender",
        hour_band(F.col("tx_hour")).alias("hour_band"),
        F.when(F.col("is_weekend"), "weekend").otherwise("weekday").alias("day_type"),
        F.col("tx_month").alias("month"), "net_amount", "card_key", "merchant_key",
        (F.col("kind") == "payment").cast("int").alias("is_payment"))
    cell = [*DIMENSIONS, "month"]
    zero = F.lit(0).cast("bigint")
    per_card = cells.groupBy(*cell, "card_key").agg(F.sum("net_amount").alias("spending"),
                                                   F.sum("is_payment").alias("payments"))
    by_cards = per_card.groupBy(*cell).agg(
        F.sum("spending").cast("bigint").alias("spending"), F.sum("payments").cast("bigint").alias("transactions"),
        # a card counts once it paid in the cell (a refund alone is no cardholder)
        F.count(F.when((F.col("payments") > 0) & F.col("card_key").isNotNull(), 1)).cast("bigint").alias("cardholders"),
    ).select(*cell, "spending", "transactions", "cardholders", zero.alias("merchants"))
    by_merchants = (cells.where((F.col("is_payment") == 1) & F.col("merchant_key").isNotNull())
                    .select(*cell, "merchant_key").distinct()
                    .groupBy(*cell).agg(F.count(F.lit(1)).cast("bigint").alias("merchants"))
                    .select(*cell, zero.alias("spending"), zero.alias("transactions"), zero.alias("cardholders"),
                            "merchants"))
    return by_cards.unionByName(by_merchants).groupBy(*cell).agg(
        *(F.sum(c).cast("bigint").alias(c) for c in ("spending", "transactions", "cardholders", "merchants"))
    ).transform(lambda cells: conform(cells, OUTPUT_DDL))


COLUMNS = Columns(OUTPUT_DDL, {
    "sigun_cd": "city/county (null: merchants the registry does not list)", "industry_code": "industry (null: idem)",
    "age_band": "cardholders' age band", "gender": "cardholders' gender",
    "hour_band": "hour of day band, Korean time (00-05, 06-10, 11-13, 14-16, 17-20, 21-23)",
    "day_type": "weekday or weekend", "spending": "net spending (KRW, refunds netted)",
    "transactions": "payments", "cardholders": "distinct cards that paid", "merchants": "distinct merchants paid",
    "month": "first day of the month"})

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
from lcdp.lake.dictionary import TableDoc

PARTITION = "month"
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

    The two distinct counts are computed as distinct (cell, card) and (cell, merchant) pairs
    counted per cell, then summed with the cell totals over a union: no join on the cell's
    nullable dimensions, and no ``countDistinct``. With two distinct columns the engine keeps
    each group's distinct values as a list in one accumulator, whose first batch alone asked
    for 114 MB at 300 merchants × 24 months and could not spill; grouping by the pairs can.
    """
    cells = transactions.select(
        "sigun_cd", "industry_code", "age_band", "gender",
        hour_band(F.col("tx_hour")).alias("hour_band"),
        F.when(F.col("is_weekend"), "weekend").otherwise("weekday").alias("day_type"),
        F.col("tx_month").alias("month"), "net_amount", "card_key", "merchant_key", "kind")
    cell = [*DIMENSIONS, "month"]
    zero = F.lit(0).cast("bigint")
    totals = cells.groupBy(*cell).agg(
        F.sum("net_amount").cast("bigint").alias("spending"),
        F.sum(F.when(F.col("kind") == "payment", 1).otherwise(0)).cast("bigint").alias("transactions"),
    ).select(*cell, "spending", "transactions", zero.alias("cardholders"), zero.alias("merchants"))
    payments = cells.where(F.col("kind") == "payment")

    def distinct_count(column: str, name: str) -> DataFrame:
        counted = (payments.where(F.col(column).isNotNull()).select(*cell, column).distinct()
                   .groupBy(*cell).agg(F.count(F.lit(1)).cast("bigint").alias(name)))
        others = [c for c in ("cardholders", "merchants") if c != name]
        return counted.select(*cell, zero.alias("spending"), zero.alias("transactions"), name,
                              *(zero.alias(c) for c in others))

    parts = totals.unionByName(distinct_count("card_key", "cardholders")) \
        .unionByName(distinct_count("merchant_key", "merchants"))
    return parts.groupBy(*cell).agg(
        *(F.sum(c).cast("bigint").alias(c) for c in ("spending", "transactions", "cardholders", "merchants"))
    ).transform(lambda cells: conform(cells, OUTPUT_DDL))


DOC = TableDoc(
    table="gold.spending_cube", grain="region × industry × month × age band × gender × hour band × day type",
    key=[*DIMENSIONS, "month"], ddl=OUTPUT_DDL, partition=PARTITION, written_by="jobs.gold_spending_cube.spending_cube",
    meanings={
        "sigun_cd": "city/county (null: merchants the registry does not list)", "industry_code": "industry (null: idem)",
        "age_band": "cardholders' age band", "gender": "cardholders' gender",
        "hour_band": "hour of day band, Korean time (00-05, 06-10, 11-13, 14-16, 17-20, 21-23)",
        "day_type": "weekday or weekend", "spending": "net spending (KRW, refunds netted)",
        "transactions": "payments", "cardholders": "distinct cards that paid", "merchants": "distinct merchants paid",
        "month": "first day of the month"})

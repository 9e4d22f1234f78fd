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
    """silver.transactions rows → cube cells."""
    payment = F.col("kind") == "payment"
    cells = transactions.select(
        "sigun_cd", "industry_code", "age_band", "gender",
        hour_band(F.col("tx_hour")).alias("hour_band"),
        F.when(F.col("is_weekend"), "weekend").otherwise("weekday").alias("day_type"),
        F.col("tx_month").alias("month"), "net_amount", "card_key", "merchant_key", "kind")
    return cells.groupBy(*DIMENSIONS, "month").agg(
        F.sum("net_amount").cast("bigint").alias("spending"),
        F.sum(F.when(payment, 1).otherwise(0)).cast("bigint").alias("transactions"),
        F.countDistinct(F.when(payment, F.col("card_key"))).cast("bigint").alias("cardholders"),
        F.countDistinct(F.when(payment, F.col("merchant_key"))).cast("bigint").alias("merchants"),
    ).transform(lambda cells: conform(cells, OUTPUT_DDL))

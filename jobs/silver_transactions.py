"""``silver.transactions``: every payment once, refunds netted against it, placed at its
merchant.

- A transaction id delivered twice is one payment: the first delivery wins.
- A refund is a negative row naming its original (``orig_tx_id``). It is netted into the
  original's row (``refunded_amount``, ``net_amount``), so spending counts in the month of
  the payment. A refund whose original never arrived stays a row of its own
  (``kind = 'orphan_refund'``) until the original comes; then it is folded in.
- Every row carries ``payment_id`` (its own id for a payment, the original's for an orphan
  refund): recomputing one payment id from bronze rebuilds every silver row it owns.
- The merchant's business key, region and industry come from ``silver.merchants``; a
  payment at a merchant the registry does not (yet) list is kept with ``merchant_known``
  false and null attributes, and counted.
- Times are stored in UTC; month, day, hour and weekend are the cardholder's Korean time.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.deduplicate import first_per_key
from jobs.schema import conform
from lcdp.lake.dictionary import Columns

#: a payment or refund is one event per transaction id, however often it is delivered
EVENT_KEY = ["tx_id"]
LOCAL_TZ = "Asia/Seoul"

OUTPUT_DDL = (
    "tx_id string, payment_id string, kind string, tx_ts timestamp, tx_month date, tx_hour int, "
    "is_weekend boolean, merchant_key string, card_key string, channel string, age_band string, "
    "gender string, policy_fund string, amount bigint, refunded_amount bigint, net_amount bigint, "
    "refund_count int, business_key string, sigun_cd string, industry_code string, "
    "merchant_known boolean, _upload_id string, tx_date date"
)


def _original() -> Column:
    return F.nullif(F.trim(F.col("orig_tx_id")), F.lit(""))


def payment_id() -> Column:
    """The payment a bronze row belongs to: its own id, or the original's for a refund."""
    return F.coalesce(_original(), F.col("tx_id"))


def event_rows(bronze: DataFrame) -> DataFrame:
    """Bronze payments and refunds with their ``payment_id``, as delivered (see ``events``)."""
    return bronze.select(
        "tx_id", payment_id().alias("payment_id"), _original().isNotNull().alias("is_refund"),
        "tx_ts", "merchant_key", "card_key", "channel", "age_band", "gender",
        F.nullif(F.trim(F.col("policy_fund")), F.lit("")).alias("policy_fund"),
        F.col("amount").cast("bigint").alias("amount"),
        "_upload_id", "_ingested_at", "_row_number",
    )


def events(bronze: DataFrame) -> DataFrame:
    """Bronze payments and refunds with their ``payment_id``, one row per transaction id.

    Bronze already holds each id once (ingest quarantines a later copy as
    ``tx_id:duplicate_across_deliveries``, under the dataset's lock), so over the whole table
    ``event_rows`` is the same and spares a hash aggregate of every id (half the step's time
    at 5.4M payments); this keeps the rule where it is cheap, on the rows a delivery touches."""
    return first_per_key(event_rows(bronze), EVENT_KEY)


def local_date(ts: Column) -> Column:
    """The Korean date of a UTC timestamp (``tx_date``)."""
    return F.to_date(F.from_utc_timestamp(ts, LOCAL_TZ))


def local_month(ts: Column) -> Column:
    """The first day of the Korean month of a UTC timestamp (``tx_month``)."""
    return F.trunc(local_date(ts), "month")


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def paid_in(month: dt.date) -> Column:
    """Rows whose ``tx_ts`` falls in a Korean month, as a range of the UTC column itself (so
    a reader skips the files outside it by their statistics, as it could not by
    ``local_month``)."""
    zone = ZoneInfo(LOCAL_TZ)
    start = dt.datetime(month.year, month.month, 1, tzinfo=zone)
    end = dt.datetime.combine(_next_month(month), dt.time(), tzinfo=zone)
    return ((F.col("tx_ts") >= F.lit(start.astimezone(dt.timezone.utc)))
            & (F.col("tx_ts") < F.lit(end.astimezone(dt.timezone.utc))))


def dates_of(events: DataFrame) -> set:
    """The ``tx_date`` values (partitions) the silver rows of these events can have (a small frame)."""
    return {r[0] for r in events.select(local_date(F.col("tx_ts"))).distinct().collect()}


def in_month(month: dt.date) -> Column:
    """silver.transactions rows of a month, by their partition column (the engine reads only
    that month's partitions)."""
    return (F.col("tx_date") >= F.lit(month)) & (F.col("tx_date") < F.lit(_next_month(month)))


def refund_totals(events: DataFrame) -> DataFrame:
    """Per payment id, the amount its refund events take back and their number."""
    return events.where(F.col("is_refund")).groupBy("payment_id").agg(
        (-F.sum("amount")).alias("refunded_amount"), F.count("*").cast("int").alias("refund_count"))


def netted_payments(events: DataFrame, totals: DataFrame) -> DataFrame:
    """The payment events among ``events``, with their refunds folded in (``totals`` from
    ``refund_totals`` of every refund, whatever month it came in)."""
    payments = events.where(~F.col("is_refund"))
    # the totals on the left: Sail builds hash tables from the left input, which cannot spill
    return (totals.join(payments, on="payment_id", how="right")
            .withColumn("kind", F.lit("payment"))
            .withColumn("refunded_amount", F.coalesce("refunded_amount", F.lit(0)).cast("bigint"))
            .withColumn("refund_count", F.coalesce("refund_count", F.lit(0)).cast("int"))
            .withColumn("net_amount", (F.col("amount") - F.col("refunded_amount")).cast("bigint")))


def orphan_refunds(refunds: DataFrame, totals: DataFrame, payment_ids: DataFrame) -> DataFrame:
    """The refund events whose payment is not among ``payment_ids`` (every payment's id)."""
    refunded_payments = totals.select("payment_id").join(payment_ids, on="payment_id")  # small side left
    return (refunds.where(F.col("is_refund")).join(refunded_payments, on="payment_id", how="left_anti")
            .withColumn("kind", F.lit("orphan_refund"))
            .withColumn("refunded_amount", F.lit(0).cast("bigint"))
            .withColumn("refund_count", F.lit(0).cast("int"))
            .withColumn("net_amount", F.col("amount")))


def net_refunds(events: DataFrame) -> DataFrame:
    """Payments with their refunds folded in, plus the refunds whose payment is unknown."""
    totals = refund_totals(events)
    payment_ids = events.where(~F.col("is_refund")).select("payment_id")
    return netted_payments(events, totals).unionByName(orphan_refunds(events, totals, payment_ids))


def place(netted: DataFrame, merchants: DataFrame) -> DataFrame:
    """Attach the merchant's business, region and industry (current registry row) and the
    Korean calendar; the silver.transactions shape."""
    current = merchants.where(F.col("is_current")).select("merchant_key", "business_key", "sigun_cd", "industry_code")
    local = F.from_utc_timestamp(F.col("tx_ts"), LOCAL_TZ)
    return (current.join(netted, on="merchant_key", how="right")
            .withColumn("merchant_known", F.col("business_key").isNotNull())
            .withColumn("tx_date", local_date(F.col("tx_ts")))
            .withColumn("tx_month", local_month(F.col("tx_ts")))
            .withColumn("tx_hour", F.hour(local).cast("int"))
            .withColumn("is_weekend", F.dayofweek(local).isin(1, 7))
            .transform(lambda rows: conform(rows, OUTPUT_DDL)))


def silver_transactions(bronze: DataFrame, merchants: DataFrame) -> DataFrame:
    """Bronze kona rows → silver.transactions rows (the whole job, for one set of payments)."""
    return place(net_refunds(events(bronze)), merchants)


COLUMNS = Columns(OUTPUT_DDL, {
    "tx_id": "the card operator's transaction id", "payment_id": "the payment this row belongs to (its own id, or an orphan refund's original)",
    "kind": "payment, or orphan_refund (a refund whose payment has not arrived)",
    "tx_ts": "when it was paid (UTC)", "tx_date": "payment date, Korean time", "tx_hour": "hour of day, Korean time (0-23)",
    "is_weekend": "Saturday or Sunday, Korean time", "merchant_key": "pseudonym of the merchant number",
    "card_key": "pseudonym of the card (cardholder)", "channel": "카드, 모바일 or QR",
    "age_band": "cardholder's age band (10대 … 70대이상)", "gender": "cardholder's gender (남, 여)",
    "policy_fund": "policy fund paid with (e.g. 청년기본소득), null for own money",
    "amount": "amount paid (KRW)", "refunded_amount": "amount refunded later (KRW, positive)",
    "net_amount": "amount - refunded_amount: what counts as spending (KRW)",
    "refund_count": "refunds netted into this payment",
    "business_key": "pseudonym of the merchant's BRN (null when the registry does not list the merchant)",
    "sigun_cd": "merchant's city/county", "industry_code": "merchant's industry",
    "merchant_known": "the registry lists the merchant", "tx_month": "first day of the payment's month (Korean time)"})

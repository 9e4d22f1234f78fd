"""Pick one row per natural key from rows delivered more than once.

Two rules, because partners mean two different things by sending a key again:

- an *event* (a payment) happens once: the first delivery of its id is the row, later copies
  are duplicates (``first_per_key``);
- a *snapshot* (a bureau month, a guarantee, an employment month) is restated: the latest
  delivery carries the current values (``latest_per_key``). Its lineage points at the first
  delivery that carried exactly those values, so re-sending a file changes nothing.

Delivery order is ``(_ingested_at, _upload_id, _row_number)``. Both rules find the repeated
keys with a hash aggregate and rank only those rows: a window over every row costs several
times more on Sail. Joins keep the small side on the left: Sail builds the hash table from
the left input and a join's build side cannot spill.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

DELIVERY_ORDER = ["_ingested_at", "_upload_id", "_row_number"]


def _ranked(rows: DataFrame, key: list[str], order: list) -> DataFrame:
    repeated = (rows.groupBy(*key).count().where(F.col("count") > 1)
                .select(*key, F.lit(True).alias("_repeated")))
    # the few repeated keys on the build (left) side: Sail's hash joins build on the left
    # and cannot spill, so the big side must be the one that streams
    flagged = repeated.join(rows, on=key, how="right")
    candidates = flagged.where(F.col("_repeated").isNotNull()).drop("_repeated")
    singles = flagged.where(F.col("_repeated").isNull()).drop("_repeated")
    ranked = (candidates.withColumn("_rank", F.row_number().over(Window.partitionBy(*key).orderBy(*order)))
              .where(F.col("_rank") == 1).drop("_rank"))
    return singles.unionByName(ranked)


def first_per_key(rows: DataFrame, key: list[str]) -> DataFrame:
    """The first delivered row of every key."""
    return _ranked(rows, key, [F.col(c).asc() for c in DELIVERY_ORDER])


def last_per_key(rows: DataFrame, key: list[str]) -> DataFrame:
    """The last delivered row of every key."""
    return _ranked(rows, key, [F.col(c).desc() for c in DELIVERY_ORDER])


def latest_per_key(rows: DataFrame, key: list[str], values: list[str]) -> DataFrame:
    """The latest delivered values of every key, with ``_upload_id``/``_ingested_at`` of the
    first delivery that carried those same values."""
    hashed = rows.withColumn("_values", F.xxhash64(*[F.col(c) for c in values]))
    latest = last_per_key(hashed, key).drop("_upload_id", "_ingested_at", "_row_number")
    # (not min(struct(...)) per group: Sail keeps such aggregates row by row, ~2 KB a group)
    first_seen = first_per_key(hashed, [*key, "_values"]).select(*key, "_values", "_upload_id", "_ingested_at")
    return latest.join(first_seen, on=[*key, "_values"], how="inner").drop("_values")

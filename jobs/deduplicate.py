"""Pick one row per natural key from rows delivered more than once.

Two rules, because partners mean two different things by sending a key again:

- an *event* (a payment) happens once: the first delivery of its id is the row, later copies
  are duplicates (``first_per_key``);
- a *snapshot* (a bureau month, a guarantee, an employment month) is restated: the latest
  delivery carries the current values (``latest_per_key``). Its lineage points at the first
  delivery that carried exactly those values, so re-sending a file changes nothing.

Delivery order is ``(_ingested_at, _upload_id, _row_number)``. Both rules find the repeated
keys with a hash aggregate and rank only those rows: a window over every row costs several
times more on Sail.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

DELIVERY_ORDER = ["_ingested_at", "_upload_id", "_row_number"]


def _ranked(rows: DataFrame, key: list[str], order: list) -> DataFrame:
    repeated = rows.groupBy(*key).count().where(F.col("count") > 1).drop("count")
    candidates = rows.join(repeated, on=key, how="left_semi")
    singles = rows.join(repeated, on=key, how="left_anti")
    ranked = (candidates.withColumn("_rank", F.row_number().over(Window.partitionBy(*key).orderBy(*order)))
              .where(F.col("_rank") == 1).drop("_rank"))
    return singles.unionByName(ranked)


def first_per_key(rows: DataFrame, key: list[str]) -> DataFrame:
    """The first delivered row of every key."""
    return _ranked(rows, key, [F.col(c).asc() for c in DELIVERY_ORDER])


def latest_per_key(rows: DataFrame, key: list[str], values: list[str]) -> DataFrame:
    """The latest delivered values of every key, with ``_upload_id``/``_ingested_at`` of the
    first delivery that carried those same values."""
    hashed = rows.withColumn("_values", F.xxhash64(*[F.col(c) for c in values]))
    latest = _ranked(hashed, key, [F.col(c).desc() for c in DELIVERY_ORDER]).drop("_upload_id", "_ingested_at")
    first_seen = (hashed.groupBy(*key, "_values")
                  .agg(F.min(F.struct("_ingested_at", "_upload_id")).alias("_first"))
                  .select(*key, "_values", F.col("_first._upload_id").alias("_upload_id"),
                          F.col("_first._ingested_at").alias("_ingested_at")))
    return latest.join(first_seen, on=[*key, "_values"], how="inner").drop("_values")

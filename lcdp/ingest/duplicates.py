"""Find the duplicates among the staged rows of a batch of deliveries: the ingest's one Spark
step, run before the batch is committed to bronze.

A key seen twice in one file is a duplicate (the later record is quarantined). For datasets
whose key is unique across deliveries (transactions), a key already in bronze, or sent by an
earlier file of the same batch, is a duplicate too. Other datasets are snapshots: a later
delivery of the same key is an update and goes to bronze for the silver MERGE to resolve.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

ORDER = ["_upload_seq", "_row_number"]


def find_duplicates(
    staged: DataFrame,
    key: list[str],
    unique_across_deliveries: bool,
    existing_keys: DataFrame | None,
    key_label: str | None = None,
    candidates: DataFrame | None = None,
) -> DataFrame:
    """The staged rows that are duplicates: ``_upload_id``, ``_row_number`` and ``reason``.

    ``staged`` holds bronze-typed columns, lineage and ``_upload_seq`` (delivery order within
    the batch); ``existing_keys`` is the bronze table's key columns, or None when bronze is
    empty. ``key_label`` names the key in reasons (the contract's column names, e.g.
    ``tx_id``), default the bronze column names. ``candidates``, when given, are the staged
    rows whose key may repeat within the batch (every row of each such key, and perhaps others;
    the ingest picks them by key hash): only they are ranked.
    """
    key_name = key_label or "+".join(key)
    scope = key if unique_across_deliveries else [*key, "_upload_id"]
    row_id = ["_upload_id", "_row_number"]
    # Duplicates are rare: find the repeated keys with a hash aggregate, and rank only the
    # rows that carry them (a window over every staged row costs several times more).
    pool = staged if candidates is None else candidates
    repeated = pool.groupBy(*scope).count().where(F.col("count") > 1).drop("count")
    candidates = pool.join(repeated, on=scope, how="left_semi")
    ordered = Window.partitionBy(*scope).orderBy(*ORDER)
    first_upload = F.first("_upload_id").over(ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing))
    in_batch = (
        candidates.withColumn("_rank", F.row_number().over(ordered))
        .withColumn("_first_upload", first_upload)
        .where(F.col("_rank") > 1)
        .select(*row_id, F.when(F.col("_upload_id") == F.col("_first_upload"), F.lit(f"{key_name}:duplicate_in_file"))
                .otherwise(F.lit(f"{key_name}:duplicate_across_deliveries")).alias("reason"))
    )
    if not (unique_across_deliveries and existing_keys is not None):
        return in_batch
    # a semi-join needs no distinct keys: an aggregate over all of bronze would cost memory
    # in proportion to the lake, not to the delivery
    in_bronze = staged.join(existing_keys.select(*key), on=key, how="left_semi").select(
        *row_id, F.lit(f"{key_name}:duplicate_across_deliveries").alias("reason"))
    # a row both repeated in the batch and already in bronze is reported once
    return in_bronze.unionByName(in_batch.join(in_bronze.select(*row_id), on=row_id, how="left_anti"))

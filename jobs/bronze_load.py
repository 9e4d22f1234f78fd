"""Bronze load: separate the staged rows of a batch of deliveries into new rows and duplicates.

A key seen twice in one file is a duplicate (the later record is quarantined). For datasets
whose key is unique across deliveries (transactions), a key already in bronze, or sent by an
earlier file of the same batch, is a duplicate too. Other datasets are snapshots: a later
delivery of the same key is an update and goes to bronze for the silver MERGE to resolve.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

ORDER = ["_upload_seq", "_row_number"]
LINEAGE = ["_upload_id", "_source_file", "_row_number", "_ingested_at"]


def split_duplicates(
    staged: DataFrame,
    key: list[str],
    unique_across_deliveries: bool,
    existing_keys: DataFrame | None,
    key_label: str | None = None,
) -> tuple[DataFrame, DataFrame]:
    """Return ``(accepted, duplicates)``; ``duplicates`` carries a ``reason`` column.

    ``staged`` holds bronze-typed columns, lineage, ``_upload_seq`` (delivery order within the
    batch) and ``_raw`` (the delivered strings); ``existing_keys`` is the bronze table's key
    columns, or None when bronze is empty. ``key_label`` names the key in reasons (the
    contract's column names, e.g. ``tx_id``), default the bronze column names.
    """
    key_name = key_label or "+".join(key)
    scope = key if unique_across_deliveries else [*key, "_upload_id"]
    ordered = Window.partitionBy(*scope).orderBy(*ORDER)
    ranked = (
        staged.withColumn("_rank", F.row_number().over(ordered))
        .withColumn("_first_upload", F.first("_upload_id").over(ordered))
    )
    if unique_across_deliveries and existing_keys is not None:
        seen = existing_keys.select(*key).distinct().withColumn("_in_bronze", F.lit(True))
        ranked = ranked.join(seen, on=key, how="left")
    else:
        ranked = ranked.withColumn("_in_bronze", F.lit(False))
    ranked = ranked.withColumn(
        "reason",
        F.when(F.col("_in_bronze") == F.lit(True), F.lit(f"{key_name}:duplicate_across_deliveries"))
        .when((F.col("_rank") > 1) & (F.col("_upload_id") == F.col("_first_upload")),
              F.lit(f"{key_name}:duplicate_in_file"))
        .when(F.col("_rank") > 1, F.lit(f"{key_name}:duplicate_across_deliveries")),
    )
    helpers = ["_rank", "_first_upload", "_in_bronze"]
    accepted = ranked.where(F.col("reason").isNull()).drop(*helpers, "reason", "_raw", "_upload_seq")
    duplicates = ranked.where(F.col("reason").isNotNull()).drop(*helpers)
    return accepted, duplicates


def duplicates_as_quarantine(duplicates: DataFrame) -> DataFrame:
    """Duplicate rows in the quarantine shape, with the values as delivered."""
    return duplicates.select(
        *LINEAGE,
        F.to_json(F.col("_raw")).alias("raw_record"),
        F.array(F.col("reason")).alias("reasons"),
    )

"""What the engine does for a table by name: read it (at a version), append, merge, replace
rows in a scope, overwrite, create it empty; and staging, which splits a long plan into
queries that fit the engine's memory.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lcdp.lake.catalog.delta import delta, ensure, version
from lcdp.lake.catalog.tables import table
from lcdp.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def read(spark: SparkSession, name: str, settings: Settings, version: int | None = None) -> DataFrame:
    """A lake table as a DataFrame, optionally as of a Delta version (time travel)."""
    uri = table(name).uri(settings)
    if version is not None and _checkpointed_after(uri, version):
        return _read_through_delta_rs(spark, uri, version)
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(uri)


def _checkpointed_after(uri: str, version: int) -> bool:
    """Whether the table has a checkpoint newer than ``version``. Sail (0.7.2) cannot time-travel
    behind a checkpoint: on a table overwritten 12 times (checkpoint at 10), reading version 3
    fails with "Missing commit file: expected version 0, found 2" when the plan runs, while
    versions 0, 10 and 11, and delta-rs at any version, read fine. Writes make a checkpoint
    every 10 commits, so fusion comparing a snapshot's old and new versions met it."""
    log = Path(uri) / "_delta_log"
    return any(int(p.name.split(".", 1)[0]) > version for p in log.glob("*.checkpoint*.parquet"))


def _read_through_delta_rs(spark: SparkSession, uri: str, version: int) -> DataFrame:
    """An old version read by delta-rs and handed to the engine as Arrow (the tables read at
    old versions are the small snapshots fusion compares, and pinned model inputs)."""
    from deltalake import DeltaTable

    return spark.createDataFrame(DeltaTable(uri, version=version).to_pyarrow_table())


def append(df: DataFrame, name: str, settings: Settings) -> int:
    """Append a DataFrame as one Delta commit; returns the new table version."""
    ensure(name, settings)
    df.write.format("delta").mode("append").save(table(name).uri(settings))
    return version(name, settings)  # type: ignore[return-value]


def merge(spark: SparkSession, source: DataFrame, name: str, settings: Settings, keys: list[str]) -> int:
    """Upsert ``source`` into the table on ``keys`` (update matched, insert new); new version."""
    return replace_rows(spark, source, name, settings, keys, scope=keys)


def _write_new(df: DataFrame, name: str, settings: Settings, partition_by: str | None) -> int:
    """Create the table from ``df`` (the first write); returns its version."""
    writer = df.write.format("delta").mode("append")
    if partition_by:
        writer = writer.partitionBy(partition_by)
    writer.save(table(name).uri(settings))
    return version(name, settings)  # type: ignore[return-value]


def create_empty(spark: SparkSession, name: str, settings: Settings, ddl: str, partition_by: str | None = None) -> None:
    """Create the table with a Spark DDL schema and no rows, if it does not exist yet."""
    if delta(name, settings) is None:
        _write_new(spark.createDataFrame([], ddl), name, settings, partition_by)


def stage(spark: SparkSession, df: DataFrame, settings: Settings, label: str) -> tuple[DataFrame, Path]:
    """Materialize ``df`` as Parquet in the staging area and return it read back, with its
    folder (the caller removes it). Splitting a long plan this way keeps each of Sail's
    queries small enough for its memory pool: a join's build side cannot spill."""
    folder = settings.staging_root / "fusion" / f"{label}-{uuid.uuid4().hex}"
    try:
        df.write.mode("overwrite").parquet(str(folder))
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if not any(folder.glob("*.parquet")):
        return spark.createDataFrame([], df.schema), folder
    return spark.read.parquet(str(folder)), folder


@contextmanager
def staging(spark: SparkSession, settings: Settings, label: str) -> Iterator[Callable[[DataFrame], DataFrame]]:
    """A ``stage`` function for a job (``stage(df)`` → ``df`` materialized, see ``stage``);
    every folder it made is removed when the block ends, whatever happened."""
    folders: list[Path] = []

    def stage_one(df: DataFrame) -> DataFrame:
        fixed, folder = stage(spark, df, settings, label)
        folders.append(folder)
        return fixed

    try:
        yield stage_one
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def replace_rows(spark: SparkSession, source: DataFrame, name: str, settings: Settings, key: list[str],
                 scope: list[str] | None, partition_by: str | None = None,
                 partitions: Collection[Any] | None = None) -> int:
    """Make the table's rows in ``source``'s scope exactly ``source``; one atomic commit.

    ``scope`` names the columns whose values ``source`` covers whole (``merchant_key``: all of
    a merchant's history rows); target rows in scope that ``source`` lacks are deleted, rows
    outside the scope are untouched. Matched rows are rewritten only when a value differs, so
    a replayed batch leaves the table as it was. Returns the table's version afterwards.

    ``partitions``, when the caller knows them, are the values of ``partition_by`` that the
    scope's rows can have, in the table and in ``source``: the search for stale rows and the
    MERGE then read those partitions only, not the whole table (a day of payments touches
    one or two months of silver.transactions: with the upload pruning in fusion, 23 s became
    4.6 s for a day at 21.8M payments).

    ``scope=None`` means the whole table: that is an overwrite, not a MERGE, because finding
    the stale rows would anti-join the whole table against the whole source, and the engine
    cannot spill a join's build side (``lcdp fuse --full`` at 300 × 60 ran its pool dry).
    ``source`` must then not read the table itself (no caller's does: they read bronze).
    """
    target = table(name)
    if delta(name, settings) is None:
        return _write_new(source, name, settings, partition_by)
    if scope is None:
        return overwrite_where(source, name, settings, partition_by, None)
    columns = source.columns
    existing = read(spark, name, settings)
    within = ""
    if partitions is not None:
        if not partition_by:
            raise ValueError("partitions need the table's partition column")
        values = ", ".join(_sql_literal(v) for v in sorted(partitions))
        within = f" AND t.`{partition_by}` IN ({values})" if values else " AND FALSE"
        existing = existing.where(f"`{partition_by}` IN ({values})" if values else "FALSE")
    in_scope = source.select(*scope).distinct().join(existing, on=scope)
    stale = in_scope.join(source.select(*key), on=key, how="left_anti").select(*columns)
    from pyspark.sql import functions as F

    merged = (source.withColumn("_delete", F.lit(False))
              .unionByName(stale.withColumn("_delete", F.lit(True))))
    # The MERGE reads a materialized source: Sail plans a MERGE whose source is itself a
    # join over the target table into a memory pool exhaustion on the smallest inputs, and
    # a fixed source is also what a MERGE needs to be repeatable.
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in key)
    values = [c for c in columns if c not in key]
    differs = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in values) or "FALSE"
    fixed, staged = stage(spark, merged, settings, f"merge-{name}")
    try:
        if not any(staged.glob("*.parquet")):  # nothing to insert, update or delete
            return version(name, settings)  # type: ignore[return-value]
        view = f"_replace_source_{uuid.uuid4().hex}"
        fixed.createOrReplaceTempView(view)
        spark.sql(
            f"MERGE INTO delta.`{target.uri(settings)}` AS t USING {view} AS s ON {on}{within} "
            "WHEN MATCHED AND s._delete THEN DELETE "
            f"WHEN MATCHED AND ({differs}) THEN UPDATE SET {', '.join(f't.`{c}` = s.`{c}`' for c in values)} "
            f"WHEN NOT MATCHED AND NOT s._delete THEN INSERT ({', '.join(f'`{c}`' for c in columns)}) "
            f"VALUES ({', '.join(f's.`{c}`' for c in columns)})"
        )
        spark.catalog.dropTempView(view)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return version(name, settings)  # type: ignore[return-value]


def _sql_literal(value: Any) -> str:
    """A partition value as a SQL literal (dates, numbers and text are what tables here use)."""
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def overwrite_where(df: DataFrame, name: str, settings: Settings, partition_by: str | None,
                    predicate: str | None) -> int:
    """Replace the rows matching ``predicate`` (all rows when None) with ``df``; one commit."""
    if delta(name, settings) is None:
        return _write_new(df, name, settings, partition_by)
    writer = df.write.format("delta")
    if partition_by:
        writer = writer.partitionBy(partition_by)
    if predicate is None:
        writer.mode("overwrite").save(table(name).uri(settings))
    else:
        writer.mode("overwrite").option("replaceWhere", predicate).save(table(name).uri(settings))
    return version(name, settings)  # type: ignore[return-value]

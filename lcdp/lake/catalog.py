"""The lake catalog: every table's one name and one place, and the helpers to use them.

Names are ``<layer>.<table>``: ``bronze.kona_transactions``, ``quarantine.kona_transactions``,
``silver.merchants``, ``gold.spending_cube``. Nobody else builds a lake path: ask ``path()``.
Reads, appends and merges go through Spark; history, row counts and maintenance through
delta-rs, which Sail's SQL lacks (no DESCRIBE HISTORY, no OPTIMIZE).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from lcdp.contracts import QUARANTINE_SCHEMA, Contract, load_contracts
from lcdp.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LAYERS = ("bronze", "quarantine", "silver", "gold")

#: Conformed and product tables (BRIEF §7), written by the fusion and model jobs.
SILVER_TABLES = ("merchants", "transactions", "credit_monthly", "guarantees", "employment_monthly")
GOLD_TABLES = ("merchant_month_features", "spending_cube")
#: Gold tables the models' scoring writes (``models/``), from the champion of each model.
SCORE_TABLES = ("credit_risk_scores", "spending_forecasts")
#: Disclosure-controlled data products (``lcdp.exports``), one per module of ``jobs/exports``.
EXPORT_TABLES = ("export_spending", "export_risk", "export_forecasts")


class UnknownTable(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Table:
    layer: str
    name: str
    schema: pa.Schema | None = None  # known up front for bronze/quarantine (from contracts)

    @property
    def qualified(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, settings: Settings) -> Path:
        return settings.lake_root / self.layer / self.name

    def uri(self, settings: Settings) -> str:
        return str(self.path(settings))


def bronze(contract: Contract) -> Table:
    return Table("bronze", contract.name, contract.bronze_schema())


def quarantine(contract: Contract) -> Table:
    return Table("quarantine", contract.name, QUARANTINE_SCHEMA)


def tables() -> dict[str, Table]:
    """Every table of the lake, by qualified name."""
    out: dict[str, Table] = {}
    for contract in load_contracts().values():
        for table in (bronze(contract), quarantine(contract)):
            out[table.qualified] = table
    out.update({f"silver.{n}": Table("silver", n) for n in SILVER_TABLES})
    out.update({f"gold.{n}": Table("gold", n) for n in (*GOLD_TABLES, *SCORE_TABLES, *EXPORT_TABLES)})
    return out


def table(name: str) -> Table:
    found = tables().get(name)
    if found is None:
        layer = name.split(".")[0]
        near = [t for t in tables() if t.startswith(layer + ".")] or list(tables())
        raise UnknownTable(f"no table {name!r} (known: {', '.join(near)})")
    return found


# --------------------------------------------------------------------------- delta-rs side


def delta(name: str, settings: Settings) -> DeltaTable | None:
    """The table's delta-rs handle, or None when it was never written."""
    try:
        return DeltaTable(table(name).uri(settings))
    except TableNotFoundError:
        return None


def ensure(name: str, settings: Settings) -> None:
    """Create the table empty with its declared schema, if it does not exist yet.

    Safe to call from several threads or processes at once (an ingest's workers each ask for
    the table they write into; two deliveries of a dataset may start together): whoever
    commits version 0 first creates it, and the others' failed commit finds it made."""
    t = table(name)
    if t.schema is None or delta(name, settings) is not None:
        return
    t.path(settings).parent.mkdir(parents=True, exist_ok=True)
    try:
        write_deltalake(t.uri(settings), t.schema.empty_table(), mode="append")
    except CommitFailedError:
        if delta(name, settings) is None:
            raise


def version(name: str, settings: Settings) -> int | None:
    dt_ = delta(name, settings)
    return None if dt_ is None else dt_.version()


def row_count(name: str, settings: Settings, version: int | None = None) -> int | None:
    """Rows in the table (at a version), counted by delta-rs from the files it references."""
    handle = delta(name, settings)
    if handle is None:
        return None
    if version is not None:
        handle.load_as_version(version)
    # from the commits' statistics when every file has them (opening each file's footer
    # cost 3 s at 760 files); exact, since a file's numRecords is its rows
    records = pa.table(handle.get_add_actions()).column("num_records")
    if records.null_count == 0:
        return int(pa.compute.sum(records).as_py() or 0)
    return handle.to_pyarrow_dataset().count_rows()


def to_arrow(name: str, settings: Settings, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
    """A lake table (at a version) as an Arrow table, read by delta-rs: no engine needed."""
    try:
        handle = DeltaTable(table(name).uri(settings), version=version)
    except TableNotFoundError:
        raise UnknownTable(f"table {name} has not been written yet (run `lcdp fuse`)") from None
    return handle.to_pyarrow_table(columns=columns)


def new_data_file(name: str, settings: Settings, label: str) -> Path:
    """A path for a data file that ``commit_files`` will add to the table (created empty
    first, if it does not exist). Until the commit, no version references the file; if the
    writer dies first, vacuum removes it as it removes any unreferenced file."""
    ensure(name, settings)
    return table(name).path(settings) / f"part-{label}-{uuid.uuid4().hex}.parquet"


def write_data_file(path: Path, rows: pa.Table) -> Path:
    """Write rows as one of a table's data files (the compression and encoding the lake keeps)."""
    import pyarrow.parquet as pq

    pq.write_table(rows, path, compression="zstd", compression_level=1)
    return path


def commit_files(name: str, settings: Settings, paths: list[Path]) -> int:
    """Add data files written by ``write_data_file`` to the table in one commit (an append);
    returns the new version. Their statistics (rows, min, max, nulls per column) come from
    the files' own footers, so readers skip files as they would the engine's.

    Ingest writes bronze and quarantine this way: its parsed rows go once to their final
    files, where handing them to the engine to append rewrote every row a second time
    (1M kona rows: 1.3 s of a 4.3 s ingest)."""
    from deltalake.transaction import AddAction

    handle = delta(name, settings)
    if handle is None:
        raise UnknownTable(f"table {name} does not exist")
    root = table(name).path(settings)
    actions = []
    for path in paths:
        info = path.stat()
        actions.append(AddAction(path=str(path.relative_to(root)), size=info.st_size, partition_values={},
                                 modification_time=int(info.st_mtime * 1000), data_change=True,
                                 stats=_file_stats(path)))
    handle.create_write_transaction(actions, mode="append", schema=handle.schema())
    return version(name, settings)  # type: ignore[return-value]


def _file_stats(path: Path) -> str:
    """Delta statistics of a Parquet data file from its footer: ``numRecords`` and, per
    top-level column with statistics, ``minValues``/``maxValues``/``nullCount``. Timestamps
    are written to the millisecond as Delta has them, the minimum rounded down and the
    maximum up, so no reader skips a file that holds a match; a column without statistics in
    any row group (nested, or values too long) has none."""
    import math

    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    lows: dict[str, Any] = {}
    highs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    unusable: set[str] = set()
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            column = chunk.path_in_schema
            stats = chunk.statistics
            if "." in column or stats is None or not stats.has_min_max or not stats.has_null_count:
                unusable.add(column)
                continue
            low, high = stats.min, stats.max
            if isinstance(low, float) and (math.isnan(low) or math.isnan(high)):
                unusable.add(column)
                continue
            lows[column] = low if column not in lows else min(lows[column], low)
            highs[column] = high if column not in highs else max(highs[column], high)
            nulls[column] = nulls.get(column, 0) + stats.null_count

    def as_json(value: Any, up: bool) -> Any:
        if isinstance(value, dt.datetime):
            value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            micros = value.microsecond
            value = value.replace(microsecond=micros - micros % 1000)
            if up and micros % 1000:
                value += dt.timedelta(milliseconds=1)
            return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    usable = [c for c in lows if c not in unusable]
    return json.dumps({"numRecords": meta.num_rows,
                       "minValues": {c: as_json(lows[c], up=False) for c in usable},
                       "maxValues": {c: as_json(highs[c], up=True) for c in usable},
                       "nullCount": {c: nulls[c] for c in usable}}, ensure_ascii=False)


def history(name: str, settings: Settings, limit: int | None = None) -> list[dict]:
    handle = delta(name, settings)
    return [] if handle is None else handle.history(limit)


def compact(name: str, settings: Settings) -> dict:
    handle = delta(name, settings)
    return {} if handle is None else handle.optimize.compact()


def vacuum(name: str, settings: Settings, retention_hours: int = 24 * 30, dry_run: bool = False,
           keep_versions: list[int] | None = None) -> list[str]:
    """Delete files no version within the retention (nor a kept version) references, and
    files no version references at all; returns the files removed."""
    handle = delta(name, settings)
    if handle is None:
        return []
    options = dict(retention_hours=retention_hours, enforce_retention_duration=False, full=True,
                   keep_versions=keep_versions or None)
    # delta-rs lists a file removed by an earlier vacuum again while its tombstone lasts:
    # report the files that are really there
    root = table(name).path(settings)
    present = [f for f in handle.vacuum(dry_run=True, **options) if (root / f).exists()]
    if not dry_run and present:
        handle.vacuum(dry_run=False, **options)
    return present


def delete_upload(name: str, settings: Settings, upload_id: str) -> int:
    """Remove one upload's rows (undoing a half-finished ingest); returns rows deleted."""
    handle = delta(name, settings)
    if handle is None:
        return 0
    metrics = handle.delete(f"_upload_id = '{upload_id.replace(chr(39), '')}'")
    return int(metrics.get("num_deleted_rows", 0))


# --------------------------------------------------------------------------- Spark side


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


class VersionWrite:
    """A new version of a table, written chunk by chunk and committed once (``new_version``)."""

    def __init__(self, name: str, settings: Settings) -> None:
        handle = delta(name, settings)
        if handle is None:
            raise UnknownTable(f"table {name} does not exist: create it before writing a version")
        columns = handle.metadata().partition_columns
        if len(columns) > 1:
            raise ValueError(f"table {name} is partitioned by {columns}: one column at most is supported")
        self.name, self.settings = name, settings
        self.partition_by: str | None = columns[0] if columns else None  # the table's own
        self.root = table(name).path(settings)
        self.folder = self.root / f"write-{uuid.uuid4().hex}"
        self.chunks = 0
        self.committed = False

    def write(self, df: DataFrame) -> None:
        """Add a chunk's rows: the engine writes them as Parquet files inside the table's folder,
        which no version references until ``commit``."""
        writer = df.write.mode("overwrite")
        if self.partition_by:
            writer = writer.partitionBy(self.partition_by)
        writer.parquet(str(self.folder / f"{self.chunks:05d}"))
        self.chunks += 1

    def commit(self, replace: Collection[Any] | None = None) -> int:
        """Make every chunk written so far one version of the table, replacing its whole
        content (``replace`` None) or the partitions whose values ``replace`` lists; returns
        the version."""
        from deltalake.transaction import AddAction

        handle = delta(self.name, self.settings)
        actions = []
        for path in sorted(self.folder.rglob("*.parquet")):
            info = path.stat()
            actions.append(AddAction(
                path=path.relative_to(self.root).as_posix(), size=info.st_size,
                partition_values=self._partition_values(path), modification_time=int(info.st_mtime * 1000),
                data_change=True, stats=_file_stats(path)))
        filters = None
        if replace is not None:
            if not self.partition_by:
                raise ValueError("replacing partitions needs the table's partition column")
            values = sorted(_partition_text(v) for v in replace)
            if not values and not actions:
                self.committed = True
                return handle.version()
            filters = [(self.partition_by, "in", values)] if values else None
        handle.create_write_transaction(actions, mode="overwrite" if filters or replace is None else "append",
                                        schema=handle.schema(),
                                        partition_by=[self.partition_by] if self.partition_by else None,
                                        partition_filters=filters)
        self.committed = True
        return version(self.name, self.settings)  # type: ignore[return-value]

    def _partition_values(self, path: Path) -> dict[str, str | None]:
        if not self.partition_by:
            return {}
        for part in path.relative_to(self.folder).parts:
            key, _, value = part.partition("=")
            if key == self.partition_by:
                text = unquote(value)
                return {key: None if text == "__HIVE_DEFAULT_PARTITION__" else text}
        raise ValueError(f"{path} lies in no {self.partition_by}= folder")


def _partition_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@contextmanager
def new_version(name: str, settings: Settings) -> Iterator[VersionWrite]:
    """Write one new version of a table in chunks (``write(df)`` per chunk, then ``commit``).

    Each chunk is its own query, so a step over the whole history can run as many small
    queries, each within the engine's memory, instead of one that spills, and the table
    still moves from one version to the next in one commit, with every row written once:
    the commit adds the files the engine wrote (statistics from their footers), where the
    engine's own Delta writer would have needed the chunks in one query. The files are
    partitioned as the table is (which must exist). Leaving the block without a commit
    removes the chunks; a process that dies leaves files no version references, which
    vacuum removes.
    """
    write = VersionWrite(name, settings)
    try:
        yield write
    finally:
        if not write.committed:
            shutil.rmtree(write.folder, ignore_errors=True)


def files(name: str, settings: Settings, at_version: int) -> dict[str, dict]:
    """The data files of a table version: relative path → partition values."""
    handle = DeltaTable(table(name).uri(settings), version=at_version)
    actions = pa.table(handle.get_add_actions(flatten=True))
    parts = [c for c in actions.column_names if c.startswith("partition.")]
    rows = actions.select(["path", *parts]).to_pylist()
    return {r.pop("path"): {k.removeprefix("partition."): v for k, v in r.items()} for r in rows}


def changed_files(name: str, settings: Settings, since: int, until: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(added, removed)`` data files between two versions, with their partition values.

    Raises ``DeltaError`` when ``since`` can no longer be loaded (its log was cleaned up)."""
    before, after = files(name, settings, since), files(name, settings, until)
    return ({p: v for p, v in after.items() if p not in before},
            {p: v for p, v in before.items() if p not in after})


def data_changed(name: str, settings: Settings, since: int, until: int) -> bool:
    """Whether any commit after version ``since``, up to ``until``, changed the table's data.

    A compaction rewrites files with ``dataChange: false`` and a lineage commit adds no file:
    neither is new data, so neither should make a downstream step run again. Read from the
    commits' own log entries; a version whose entry is gone counts as a change (the safe side).
    """
    log_dir = table(name).path(settings) / "_delta_log"
    for version in range(since + 1, until + 1):
        entry = log_dir / f"{version:020d}.json"
        if not entry.exists():
            return True
        with open(entry, encoding="utf-8") as fh:
            for line in fh:
                action = json.loads(line)
                for kind in ("add", "remove"):
                    if kind in action and action[kind].get("dataChange", True):
                        return True
                if "metaData" in action:  # a schema or property change
                    return True
    return False


def uploads_between(name: str, settings: Settings, since: int, until: int) -> set[str]:
    """Upload ids whose rows entered the table after version ``since``, up to ``until``.

    Read from the files that changed, not from every row: ids in files added minus ids in
    files removed, so a compaction (which rewrites old uploads' rows) or the deletion of a
    half-ingested upload brings up nothing new, while an upload re-ingested after such a
    deletion counts as new again.
    """
    import pyarrow.parquet as pq

    added, removed = changed_files(name, settings, since, until)
    root = table(name).path(settings)

    def ids(paths: dict[str, dict]) -> set[str]:
        out: set[str] = set()
        for rel in paths:
            column = pq.read_table(root / rel, columns=["_upload_id"]).column(0)
            out.update(column.unique().to_pylist())
        return out

    return ids(added) - ids(removed)

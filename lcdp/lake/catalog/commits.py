"""Table versions made of data files the platform wrote itself and committed with delta-rs:
an ingest's blocks (``commit_files``), and a step's chunks written by the engine
(``new_version``). Each file's statistics come from its own footer, so readers skip files as
they would the engine's.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa

from lcdp.errors import UnknownTable
from lcdp.lake.catalog.delta import delta, ensure, version
from lcdp.lake.catalog.tables import table
from lcdp.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


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

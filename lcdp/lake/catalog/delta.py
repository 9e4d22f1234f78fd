"""What delta-rs does for a table by name: its handle, version, rows and history, reading it
without an engine, and its maintenance (compaction, vacuum, deleting an upload's rows).
Sail's SQL has no DESCRIBE HISTORY, OPTIMIZE or VACUUM: these go through delta-rs.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from lcdp.errors import UnknownTable, UnknownVersion
from lcdp.lake.catalog.tables import table
from lcdp.settings import Settings


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
    """The table's current version, or None when it was never written."""
    dt_ = delta(name, settings)
    return None if dt_ is None else dt_.version()


def checked_version(name: str, settings: Settings, version: int | None = None) -> int:
    """``version`` of the table (default: its current one) once it is known to exist;
    ``UnknownTable`` for a table never written, ``UnknownVersion`` naming the versions there are.
    The command line and the notebook API both ask here, so both say it in the same words."""
    handle = delta(name, settings)
    if handle is None:
        raise UnknownTable(f"{name} has not been written yet (see 'lcdp status')")
    current = handle.version()
    if version is None:
        return current
    if not 0 <= version <= current:
        raise UnknownVersion(f"{name} has no version {version} (versions 0 to {current})")
    return version


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
    except (TableNotFoundError, DeltaError, OverflowError):
        # delta-kernel's words for a version past the last ("LogSegment end version 2 not the
        # same as the specified end version 3") or below 0 ("can't convert negative int"):
        # asked only on failure, so a good read opens the log once
        try:
            checked_version(name, settings, version)
        except UnknownTable as problem:
            raise problem from None
        raise
    return handle.to_pyarrow_table(columns=columns)


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


def files(name: str, settings: Settings, at_version: int) -> dict[str, dict]:
    """The data files of a table version: relative path → partition values."""
    handle = DeltaTable(table(name).uri(settings), version=at_version)
    actions = pa.table(handle.get_add_actions(flatten=True))
    parts = [c for c in actions.column_names if c.startswith("partition.")]
    rows = actions.select(["path", *parts]).to_pylist()
    return {r.pop("path"): {k.removeprefix("partition."): v for k, v in r.items()} for r in rows}

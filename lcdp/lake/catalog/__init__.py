"""The lake catalog: every table's one name and one place, and what can be done to a table by
its name. One concern a module, all of them used as ``catalog.<name>``:

- ``tables``: the names, layers and paths (from the contracts and ``lcdp.declarations``);
- ``delta``: delta-rs by name: handle, version (and the check that one exists), rows, history, reads without an engine,
  compaction, vacuum, an upload's rows deleted;
- ``spark``: the engine by name: reads at a version, appends, merges, replaces, overwrites,
  and staging for plans too long for the engine's memory;
- ``commits``: versions made of data files the platform wrote itself (an ingest's blocks, a
  step's chunks), committed by delta-rs;
- ``changes``: what changed between two versions (files, data or not, uploads).
"""

from lcdp.errors import UnknownTable, UnknownVersion
from lcdp.lake.catalog.changes import changed_files, data_changed, same_data, uploads_between
from lcdp.lake.catalog.commits import VersionWrite, commit_files, new_data_file, new_version, write_data_file
from lcdp.lake.catalog.delta import (
    checked_version, compact, delete_upload, delta, ensure, files, history, row_count, to_arrow, vacuum, version,
)
from lcdp.lake.catalog.spark import _checkpointed_after as _checkpointed_after  # the engine's gap, tested directly
from lcdp.lake.catalog.spark import (
    append, create_empty, merge, overwrite_where, read, replace_rows, stage, staging,
)
from lcdp.lake.catalog.tables import (
    EXPORT_TABLES, GOLD_TABLES, LAYERS, SCORE_TABLES, SILVER_TABLES, Table, bronze, quarantine, table, tables,
)

__all__ = [
    "EXPORT_TABLES", "GOLD_TABLES", "LAYERS", "SCORE_TABLES", "SILVER_TABLES", "Table", "UnknownTable", "UnknownVersion", "VersionWrite",
    "append", "bronze", "changed_files", "checked_version", "commit_files", "compact", "create_empty", "data_changed", "delete_upload",
    "delta", "ensure", "files", "history", "merge", "new_data_file", "new_version", "overwrite_where", "quarantine",
    "read", "replace_rows", "row_count", "same_data", "stage", "staging", "table", "tables", "to_arrow", "uploads_between",
    "vacuum", "version", "write_data_file",
]

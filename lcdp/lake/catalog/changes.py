"""What changed in a table between two versions: the data files added and removed, whether
any commit changed data (a compaction or a lineage commit does not), and the uploads whose
rows arrived. Fusion reads these to do only the work new deliveries call for.
"""

from __future__ import annotations

import json

from lcdp.lake.catalog.delta import files
from lcdp.lake.catalog.tables import table
from lcdp.settings import Settings


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


def same_data(settings: Settings, before: dict[str, int | None], now: dict[str, int | None]) -> bool:
    """Whether tables read at the versions ``now`` hold the data they held at ``before``: the
    same tables, and none changed data in between (a compaction or a lineage commit does not).
    What a product or a model was made from is then still what it would be made from."""
    if before.keys() != now.keys():
        return False
    for name, version in now.items():
        was = before[name]
        if version == was:
            continue
        if version is None or was is None or version < was or data_changed(name, settings, was, version):
            return False
    return True


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

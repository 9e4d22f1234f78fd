"""Lake maintenance: compact small files and vacuum old ones with delta-rs (Sail's SQL has no
OPTIMIZE or VACUUM), under a retention policy that keeps time travel working.

- Compaction rewrites many small files (one per daily delivery, one per MERGE) into few; the
  old files stay referenced by the old versions, so nothing is lost.
- Vacuum deletes files that no version younger than ``retention_hours`` references, and
  files no version references at all (a writer killed mid-write leaves those behind).
- A version *pinned* (by a trained model, for reproducibility) keeps its files however old
  (delta-rs ``keep_versions``).
"""

from __future__ import annotations

import time

from pydantic import BaseModel
from sqlalchemy import delete, select

from lcdp import log, metadata
from lcdp.lake import catalog
from lcdp.settings import Settings

_log = log.get(__name__)


class MaintenanceResult(BaseModel):
    table: str
    version_before: int | None
    version_after: int | None
    files_compacted: int = 0
    files_added: int = 0
    files_vacuumed: int = 0
    retention_hours: int = 0
    pinned_versions: list[int] = []
    seconds: float = 0.0


def pin(settings: Settings, name: str, version: int, pinned_by: str) -> None:
    """Keep ``name`` at ``version`` readable by time travel until unpinned."""
    catalog.table(name)  # unknown names fail here, loudly
    with metadata.session(settings.metadata_db_url) as db:
        if db.get(metadata.VersionPin, (name, version, pinned_by)) is None:
            db.add(metadata.VersionPin(table_name=name, version=version, pinned_by=pinned_by))
            db.commit()


def unpin(settings: Settings, name: str, version: int, pinned_by: str) -> None:
    with metadata.session(settings.metadata_db_url) as db:
        db.execute(delete(metadata.VersionPin).where(
            metadata.VersionPin.table_name == name, metadata.VersionPin.version == version,
            metadata.VersionPin.pinned_by == pinned_by))
        db.commit()


def pinned_versions(settings: Settings, name: str) -> list[int]:
    with metadata.session(settings.metadata_db_url) as db:
        rows = db.scalars(select(metadata.VersionPin.version).where(metadata.VersionPin.table_name == name))
        return sorted(set(rows))


def maintain(settings: Settings, name: str, compact: bool = True, vacuum: bool = True) -> MaintenanceResult:
    """Compact then vacuum one table."""
    started = time.perf_counter()
    result = MaintenanceResult(table=name, version_before=catalog.version(name, settings), version_after=None)
    if result.version_before is None:
        return result
    if compact:
        metrics = catalog.compact(name, settings)
        result.files_compacted, result.files_added = metrics.get("numFilesRemoved", 0), metrics.get("numFilesAdded", 0)
    if vacuum:
        result.retention_hours = settings.retention_hours
        result.pinned_versions = pinned_versions(settings, name)
        result.files_vacuumed = len(catalog.vacuum(name, settings, retention_hours=result.retention_hours,
                                                   keep_versions=result.pinned_versions))
    result.version_after = catalog.version(name, settings)
    result.seconds = round(time.perf_counter() - started, 2)
    _log.info("maintenance.done", table=name, version=result.version_after, compacted=result.files_compacted,
              vacuumed=result.files_vacuumed, retention_hours=result.retention_hours)
    return result

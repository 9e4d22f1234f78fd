"""Pick up a partner's files from a drop folder: new files only, and only once complete.

A file is new when no upload of the feed has its name and sha256 (a changed file under an
old name is new; the same bytes under a new name are ingested as a duplicate, which changes
nothing). A file is complete when it has not been modified for ``settle_seconds`` and does
not carry a temporary suffix: partners write large files for minutes, and half a file must
never be taken for a whole one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from lcdp import log, metadata
from lcdp.ingest import ingest_files
from lcdp.ingest.landing import sha256_of
from lcdp.metadata import Receipt
from lcdp.settings import Settings

_log = log.get(__name__)
TEMPORARY_SUFFIXES = (".partial", ".tmp", ".part", ".filepart", ".crdownload")


@dataclass
class DropScan:
    ready: list[Path]
    not_settled: list[Path]  # still being written, or written too recently
    already_ingested: list[Path]


def scan(settings: Settings, partner: str, dataset: str, folder: Path, settle_seconds: float = 30.0,
         now: float | None = None) -> DropScan:
    """Sort the folder's files into ready, still settling, and already ingested."""
    now = time.time() if now is None else now
    with metadata.session(settings.metadata_db_url) as db:
        seen = {(u.file_name, u.sha256) for u in db.scalars(
            select(metadata.Upload).where(metadata.Upload.partner == partner, metadata.Upload.dataset == dataset))}
    seen_names = {name for name, _ in seen}
    result = DropScan([], [], [])
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.name.endswith(TEMPORARY_SUFFIXES) or now - path.stat().st_mtime < settle_seconds:
            result.not_settled.append(path)
        elif path.name in seen_names and (path.name, sha256_of(path)) in seen:
            result.already_ingested.append(path)
        else:
            result.ready.append(path)
    return result


def pull_drop(settings: Settings, partner: str, dataset: str, folder: Path,
              settle_seconds: float = 30.0) -> tuple[DropScan, list[Receipt]]:
    """Ingest the ready files of a drop folder as one batch; returns the scan and receipts."""
    found = scan(settings, partner, dataset, folder, settle_seconds)
    receipts = ingest_files(settings, partner, dataset, found.ready) if found.ready else []
    _log.info("drop.pulled", partner=partner, dataset=dataset, ingested=len(found.ready),
              settling=len(found.not_settled), skipped=len(found.already_ingested))
    return found, receipts

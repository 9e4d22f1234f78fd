"""The operator's view: every lake table and every upload, in one object."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pydantic import BaseModel

from lcdp import metadata
from lcdp.lake import catalog
from lcdp.settings import Settings


class TableState(BaseModel):
    name: str
    rows: int | None  # None: not written yet
    version: int | None
    last_write: str | None


class UploadState(BaseModel):
    partner: str
    dataset: str
    uploads: int
    by_status: dict[str, int]
    rows_valid: int
    rows_quarantined: int
    last_upload: str | None


class PlatformStatus(BaseModel):
    home: str
    tables: list[TableState]
    uploads: list[UploadState]


def _iso(ms: int | None) -> str | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="seconds")


def table_states(settings: Settings) -> list[TableState]:
    """Every lake table's rows, version and last write (``lcdp status``, the dashboard's data
    health)."""
    tables = []
    for name in catalog.tables():
        handle = catalog.delta(name, settings)
        if handle is None:
            tables.append(TableState(name=name, rows=None, version=None, last_write=None))
            continue
        last = handle.history(1)
        tables.append(TableState(
            name=name, rows=catalog.row_count(name, settings), version=handle.version(),
            last_write=_iso(last[0].get("timestamp")) if last else None,
        ))
    return tables


def collect(settings: Settings) -> PlatformStatus:
    tables = table_states(settings)
    grouped: dict[tuple[str, str], list[metadata.Upload]] = defaultdict(list)
    for upload in metadata.list_uploads(settings.metadata_db_url):
        grouped[(upload.partner, upload.dataset)].append(upload)
    uploads = []
    for (partner, dataset), items in sorted(grouped.items()):
        by_status: dict[str, int] = defaultdict(int)
        for u in items:
            by_status["duplicate" if u.duplicate_of else u.status] += 1
        originals = [u for u in items if not u.duplicate_of]
        uploads.append(UploadState(
            partner=partner, dataset=dataset, uploads=len(items), by_status=dict(by_status),
            rows_valid=sum(u.rows_valid for u in originals),
            rows_quarantined=sum(u.rows_quarantined for u in originals),
            last_upload=max(u.created_at for u in items).isoformat(timespec="seconds"),
        ))
    return PlatformStatus(home=str(settings.home_dir), tables=tables, uploads=uploads)

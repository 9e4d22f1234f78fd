"""Feeds: the files of one partner dataset waiting in a drop folder, and their ingestion."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, Field

from lcdp import log
from lcdp.contracts import partners
from lcdp.ingest import ingest_files
from lcdp.metadata import Receipt
from lcdp.settings import Settings

_log = log.get(__name__)


class Feed(BaseModel):
    partner: str
    dataset: str
    paths: list[str]


class FeedResult(BaseModel):
    """The receipts of one feed's batch, summed (the receipts themselves are in the metadata DB)."""

    partner: str
    dataset: str
    files: int
    duplicates: int
    refused: int
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    reasons: dict[str, int] = Field(default_factory=dict)
    upload_ids: list[str] = Field(default_factory=list)


def discover(drop: str | Path) -> list[Feed]:
    """Feeds under ``drop/<partner>/<dataset>/`` for every known contract; files in name order."""
    root = Path(drop)
    if not root.is_dir():
        raise FileNotFoundError(f"drop folder {root} does not exist")
    feeds = []
    for partner, datasets in sorted(partners().items()):
        for dataset in datasets:
            folder = root / partner / dataset
            files = sorted(str(p) for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
            if files:
                feeds.append(Feed(partner=partner, dataset=dataset, paths=files))
    return feeds


def summarize(partner: str, dataset: str, receipts: list[Receipt]) -> FeedResult:
    """One feed run's receipts, summed (duplicates count as files, not rows)."""
    fresh = [r for r in receipts if r.duplicate_of is None and r.status == "done"]
    reasons: Counter = Counter()
    for r in fresh:
        reasons.update(r.reasons)
    return FeedResult(
        partner=partner, dataset=dataset, files=len(receipts),
        duplicates=sum(r.duplicate_of is not None for r in receipts),
        refused=sum(r.status == "refused" for r in receipts),
        rows_in=sum(r.rows_in for r in fresh), rows_valid=sum(r.rows_valid for r in fresh),
        rows_quarantined=sum(r.rows_quarantined for r in fresh), reasons=dict(reasons),
        upload_ids=[r.upload_id for r in receipts],
    )


def ingest_feed(feed: Feed, settings: Settings | None = None) -> FeedResult:
    settings = settings or Settings()
    receipts = ingest_files(settings, feed.partner, feed.dataset, [Path(p) for p in feed.paths])
    result = summarize(feed.partner, feed.dataset, receipts)
    _log.info("feed.ingested", partner=feed.partner, dataset=feed.dataset, files=result.files,
              rows_valid=result.rows_valid, rows_quarantined=result.rows_quarantined)
    return result

"""Feed results: what one run of a partner feed delivered, summed from its receipts."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

from lcdp.metadata import Receipt, UploadStatus


class FeedResult(BaseModel):
    """The receipts of one feed run, summed (the receipts themselves are in the metadata DB)."""

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


def summarize(partner: str, dataset: str, receipts: list[Receipt]) -> FeedResult:
    """One feed run's receipts, summed (duplicates count as files, not rows)."""
    fresh = [r for r in receipts if r.duplicate_of is None and r.status == UploadStatus.DONE]
    reasons: Counter = Counter()
    for r in fresh:
        reasons.update(r.reasons)
    return FeedResult(
        partner=partner, dataset=dataset, files=len(receipts),
        duplicates=sum(r.duplicate_of is not None for r in receipts),
        refused=sum(r.status == UploadStatus.REFUSED for r in receipts),
        rows_in=sum(r.rows_in for r in fresh), rows_valid=sum(r.rows_valid for r in fresh),
        rows_quarantined=sum(r.rows_quarantined for r in fresh), reasons=dict(reasons),
        upload_ids=[r.upload_id for r in receipts],
    )

"""Run one feed (what a feed DAG's task calls): pull it, or publish what partners pushed."""

from __future__ import annotations

import os
from pathlib import Path

from lcdp.errors import FeedConfigError, NothingNew
from lcdp.feeds import summarize
from lcdp.metadata import UploadStatus
from lcdp.settings import Settings


def publish_uploads(settings: Settings, partner: str, dataset: str) -> dict:
    """Uploads of a push feed that finished since the last publication, summed.

    Partners push through the service, which ingests at once; this is what tells Airflow
    (by the feed DAG's Asset) that the feed's bronze table has new data.
    """
    import datetime as dt

    from sqlalchemy import select

    from lcdp import metadata

    run_key = f"upload:{partner}.{dataset}"
    with metadata.session(settings.metadata_db_url) as db:
        cp = db.get(metadata.PullCheckpoint, run_key)
        since = cp.updated_at if cp else None
        query = select(metadata.Upload).where(
            metadata.Upload.partner == partner, metadata.Upload.dataset == dataset,
            metadata.Upload.status == metadata.UploadStatus.DONE, metadata.Upload.duplicate_of.is_(None))
        uploads = list(db.scalars(query.order_by(metadata.Upload.finished_at)))
        if since is not None:
            since = since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
            uploads = [u for u in uploads if (u.finished_at if u.finished_at.tzinfo
                                              else u.finished_at.replace(tzinfo=dt.timezone.utc)) > since]
        if not uploads:
            raise NothingNew(f"{partner}.{dataset}: no upload finished since {since or 'the beginning'}")
        newest = max(u.finished_at for u in uploads)
        db.merge(metadata.PullCheckpoint(run_key=run_key, last_page=0, upload_ids="", updated_at=newest))
        db.commit()
    from lcdp.metadata import Receipt

    return summarize(partner, dataset, [Receipt.of(u) for u in uploads]).model_dump(mode="json")


def _published(partner: str, dataset: str, receipts: list) -> dict:
    """The run's summary, if anything new reached bronze; else NothingNew (the DAG skips and
    publishes no Asset event, so fusion is not started for nothing)."""
    landed = [r for r in receipts if not r.duplicate_of and r.status == UploadStatus.DONE and r.rows_valid > 0]
    if not landed:
        raise NothingNew(f"{partner}.{dataset}: nothing new reached bronze ({len(receipts)} delivery(ies) seen: "
                         "duplicates, refused, or without valid rows)")
    return summarize(partner, dataset, receipts).model_dump(mode="json")


def run_feed(partner: str, dataset: str, channel: str, params: dict, run_key: str,
             url_env: str | None = None, key_env: str | None = None, settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    if channel == "http_pull":
        from lcdp.pull.ggdata import pull_merchants

        base_url = params.get("source") or (os.environ.get(url_env, "") if url_env else "")
        key = params.get("key") or (os.environ.get(key_env, "") if key_env else "")
        if not base_url or not key:
            raise FeedConfigError(f"{partner}.{dataset}: set {url_env} and {key_env} (or the DAG params source/key)")
        safe_run = "".join(ch if ch.isalnum() else "-" for ch in run_key)[:100]
        result = pull_merchants(settings, base_url, key, run_key=safe_run)
        return _published(partner, dataset, result.receipts)
    if channel == "file_drop":
        from lcdp.pull.filedrop import pull_drop

        folder = Path(params.get("source") or settings.drop_root / partner / dataset)
        if not folder.is_dir():
            raise FeedConfigError(f"{partner}.{dataset}: drop folder {folder} does not exist")
        _, receipts = pull_drop(settings, partner, dataset, folder, float(params.get("settle_seconds", 60)))
        return _published(partner, dataset, receipts)
    if channel == "upload":
        return publish_uploads(settings, partner, dataset)
    raise FeedConfigError(f"{partner}.{dataset}: unknown channel {channel!r}")

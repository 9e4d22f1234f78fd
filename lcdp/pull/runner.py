"""Run one pull feed (what a feed DAG's task calls): resolve its source, pull, summarize."""

from __future__ import annotations

import os
from pathlib import Path

from lcdp.feeds import summarize
from lcdp.settings import Settings


class FeedConfigError(ValueError):
    """A feed cannot run: its source or credentials are not configured."""


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
        return summarize(partner, dataset, result.receipts).model_dump(mode="json")
    if channel == "file_drop":
        from lcdp.pull.filedrop import pull_drop

        folder = Path(params.get("source") or settings.drop_root / partner / dataset)
        if not folder.is_dir():
            raise FeedConfigError(f"{partner}.{dataset}: drop folder {folder} does not exist")
        _, receipts = pull_drop(settings, partner, dataset, folder, float(params.get("settle_seconds", 60)))
        return summarize(partner, dataset, receipts).model_dump(mode="json")
    raise FeedConfigError(f"{partner}.{dataset}: channel {channel!r} is not pulled by the platform")

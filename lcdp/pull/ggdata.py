"""Pull the merchant registry from the open-data portal's paged API, resumably.

Each page is fetched, checked, and delivered to the ingestion path as its own file (landing,
bronze, receipt), and only then is the page recorded in a checkpoint. A run that dies midway
resumes after the last recorded page: no page is skipped, and a page fetched twice is the
same bytes, which ingestion recognises as a duplicate, so nothing is loaded twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
from dataclasses import dataclass, field

import httpx

from lcdp import log, metadata
from lcdp.ingest import ingest_streams
from lcdp.metadata import PullCheckpoint, Receipt
from lcdp.pull.simulator import ENDPOINT
from lcdp.settings import Settings

_log = log.get(__name__)


class PullError(RuntimeError):
    """The pull cannot go on now; the message says whether retrying later can help."""


class BadApiKey(PullError):
    """ERROR-290: retrying will not help; fix the key."""


class QuotaExceeded(PullError):
    """ERROR-337: the daily quota is spent; resume tomorrow (the checkpoint keeps the place)."""


@dataclass
class PullResult:
    run_key: str
    pages: int
    rows: int
    resumed_from_page: int
    receipts: list[Receipt] = field(default_factory=list)


@dataclass
class PullPolicy:
    page_size: int = 1000
    attempts: int = 5  # per page, for 5xx, timeouts, truncated or repeated pages
    backoff_seconds: float = 0.5  # doubled after each failed attempt
    timeout_seconds: float = 30.0


def _checkpoint(db_url: str, run_key: str) -> PullCheckpoint:
    with metadata.session(db_url) as db:
        found = db.get(PullCheckpoint, run_key)
        if found is None:
            found = PullCheckpoint(run_key=run_key, last_page=0, upload_ids="",
                                   updated_at=dt.datetime.now(dt.timezone.utc))
            db.add(found)
            db.commit()
        return found


def _save(db_url: str, cp: PullCheckpoint) -> None:
    cp.updated_at = dt.datetime.now(dt.timezone.utc)
    with metadata.session(db_url) as db:
        db.merge(cp)
        db.commit()


def _page(client: httpx.Client, base_url: str, key: str, index: int, policy: PullPolicy,
          previous_sha: str | None) -> tuple[bytes, dict | None]:
    """Fetch one page: the raw bytes and the parsed document, or ``None`` at the end (INFO-200)."""
    params = {"KEY": key, "Type": "json", "pIndex": index, "pSize": policy.page_size}
    delay = policy.backoff_seconds
    problem = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            response = client.get(f"{base_url.rstrip('/')}/{ENDPOINT}", params=params, timeout=policy.timeout_seconds)
            if response.status_code >= 500:
                raise PullError(f"HTTP {response.status_code}")
            response.raise_for_status()
            body = response.content
            try:
                doc = json.loads(body)
            except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError when cut mid-character
                raise PullError(f"truncated or invalid JSON ({exc})") from exc
            code = _result_code(doc)
            if code == "ERROR-290":
                raise BadApiKey("the portal refused the API key (ERROR-290): fix the key; retrying will not help")
            if code == "ERROR-337":
                raise QuotaExceeded("the portal's daily quota is spent (ERROR-337): resume the pull tomorrow")
            if code == "INFO-200":
                return body, None
            if code == "ERROR-500":
                raise PullError("the portal reported ERROR-500")
            if code != "INFO-000" or not isinstance(doc.get(ENDPOINT), list):
                raise BadShape(f"page {index} has an unexpected shape (result {code or 'missing'})")
            if previous_sha and hashlib.sha256(body).hexdigest() == previous_sha:
                raise PullError(f"the portal returned page {index - 1} again for page {index}")
            return body, doc
        except (BadApiKey, QuotaExceeded, BadShape):
            raise
        except (PullError, httpx.TransportError, httpx.TimeoutException) as exc:
            problem = str(exc) or type(exc).__name__
            _log.warning("pull.page_retry", page=index, attempt=attempt, problem=problem)
            if attempt < policy.attempts:
                time.sleep(delay)
                delay *= 2
    raise PullError(f"page {index} failed {policy.attempts} times (last: {problem}); the next run resumes here")


class BadShape(PullError):
    """The API answered JSON that is not its envelope: fail loudly, do not guess."""


def _result_code(doc: object) -> str | None:
    if not isinstance(doc, dict):
        return None
    if "RESULT" in doc and isinstance(doc["RESULT"], dict):
        return doc["RESULT"].get("CODE")
    try:
        head = next(p["head"] for p in doc[ENDPOINT] if isinstance(p, dict) and "head" in p)
        return next(h["RESULT"]["CODE"] for h in head if isinstance(h, dict) and "RESULT" in h)
    except (KeyError, TypeError, StopIteration):
        return None


def pull_merchants(settings: Settings, base_url: str, key: str, run_key: str,
                   policy: PullPolicy | None = None, max_pages: int | None = None) -> PullResult:
    """Pull every page of the registry into ``bronze.ggdata_merchants``, resuming ``run_key``."""
    policy = policy or PullPolicy()
    db_url = settings.metadata_db_url
    cp = _checkpoint(db_url, run_key)
    resumed = cp.last_page
    result = PullResult(run_key=run_key, pages=0, rows=0, resumed_from_page=resumed)
    with httpx.Client() as client:
        index = cp.last_page + 1
        while max_pages is None or result.pages < max_pages:
            body, doc = _page(client, base_url, key, index, policy, cp.last_page_sha256)
            if doc is None:
                break
            rows = next(p["row"] for p in doc[ENDPOINT] if isinstance(p, dict) and "row" in p)
            name = f"{ENDPOINT}_{run_key}_p{index:05d}.json"
            receipt = ingest_streams(settings, "ggdata", "merchants", [(name, io.BytesIO(body))])[0]
            if receipt.status in ("refused", "failed"):
                raise PullError(f"page {index} was refused by ingestion: {receipt.error}")
            result.receipts.append(receipt)
            result.pages += 1
            result.rows += len(rows)
            cp.last_page, cp.last_page_sha256 = index, hashlib.sha256(body).hexdigest()
            cp.total_rows = _total(doc)
            cp.upload_ids = ",".join(filter(None, [cp.upload_ids, receipt.upload_id]))
            _save(db_url, cp)
            _log.info("pull.page", run_key=run_key, page=index, rows=len(rows), upload_id=receipt.upload_id)
            index += 1
    return result


def _total(doc: dict) -> int | None:
    try:
        head = next(p["head"] for p in doc[ENDPOINT] if "head" in p)
        return int(next(h["list_total_count"] for h in head if "list_total_count" in h))
    except (KeyError, TypeError, ValueError, StopIteration):
        return None

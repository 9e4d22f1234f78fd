"""Pull the merchant registry from the open-data portal's paged API, resumably.

Each page is fetched, checked, and delivered to the ingestion path as its own file (landing,
bronze, receipt), and only then is the page recorded in a checkpoint. A run that dies midway
resumes after the last recorded page: no page is skipped, and a page fetched twice is the
same bytes, which ingestion recognises as a duplicate, so nothing is loaded twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import time
from dataclasses import dataclass, field

import httpx

from lcdp import log, metadata
from lcdp.errors import BadApiKey, BadShape, DeliveryRefused, PullError, QuotaExceeded
from lcdp.ingest import ingest_streams
from lcdp.ingest.json_readers import PageEnvelope, scan_ggdata_envelope
from lcdp.metadata import REFUSED_WHOLE, PullCheckpoint, Receipt
from lcdp.pull.simulator import ENDPOINT
from lcdp.settings import Settings

_log = log.get(__name__)


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


#: A page is held in memory up to this size while fetched, then spooled to a temporary file.
_SPOOL_BYTES = 8 * 1024 * 1024


@dataclass
class _Fetched:
    """One page as fetched: its bytes (spooled to disk past ``_SPOOL_BYTES``) and its envelope."""

    body: tempfile.SpooledTemporaryFile
    sha256: str
    envelope: PageEnvelope

    @property
    def done(self) -> bool:
        return self.envelope.code == "INFO-200"


def _fetch(client: httpx.Client, url: str, params: dict, policy: PullPolicy, body) -> str:
    """Stream one response body into ``body`` and rewind it; return its SHA-256."""
    digest = hashlib.sha256()
    with client.stream("GET", url, params=params, timeout=policy.timeout_seconds) as response:
        if response.status_code >= 500:
            raise PullError(f"HTTP {response.status_code}")
        response.raise_for_status()
        for chunk in response.iter_bytes():
            digest.update(chunk)
            body.write(chunk)
    body.seek(0)
    return digest.hexdigest()


def _attempt(client: httpx.Client, url: str, params: dict, policy: PullPolicy, index: int,
             previous_sha: str | None) -> _Fetched:
    """Fetch page ``index`` once and check its envelope; the body is closed unless returned."""
    body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    try:
        sha = _fetch(client, url, params, policy, body)
        try:
            envelope = scan_ggdata_envelope(body, ENDPOINT)
        except DeliveryRefused as exc:  # cut short, or not JSON at all
            raise PullError(f"truncated or invalid JSON ({exc})") from exc
        body.seek(0)
        code = envelope.code
        if code == "ERROR-290":
            raise BadApiKey("the portal refused the API key (ERROR-290): fix the key; retrying will not help")
        if code == "ERROR-337":
            raise QuotaExceeded("the portal's daily quota is spent (ERROR-337): resume the pull tomorrow")
        if code == "ERROR-500":
            raise PullError("the portal reported ERROR-500")
        if code != "INFO-200":
            if code != "INFO-000" or envelope.row_kind != "start_array":
                raise BadShape(f"page {index} has an unexpected shape (result {code or 'missing'})")
            if previous_sha and sha == previous_sha:
                raise PullError(f"the portal returned page {index - 1} again for page {index}")
        return _Fetched(body, sha, envelope)
    except BaseException:
        body.close()
        raise


def _page(client: httpx.Client, base_url: str, key: str, index: int, policy: PullPolicy,
          previous_sha: str | None) -> _Fetched:
    """Fetch one page, retrying what can pass; a page's size costs disk, not memory."""
    params = {"KEY": key, "Type": "json", "pIndex": index, "pSize": policy.page_size}
    url = f"{base_url.rstrip('/')}/{ENDPOINT}"
    delay = policy.backoff_seconds
    problem = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            return _attempt(client, url, params, policy, index, previous_sha)
        except (BadApiKey, QuotaExceeded, BadShape):
            raise
        except (PullError, httpx.TransportError, httpx.TimeoutException) as exc:
            problem = str(exc) or type(exc).__name__
            _log.warning("pull.page_retry", page=index, attempt=attempt, problem=problem)
            if attempt < policy.attempts:
                time.sleep(delay)
                delay *= 2
    raise PullError(f"page {index} failed {policy.attempts} times (last: {problem}); the next run resumes here")


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
            page = _page(client, base_url, key, index, policy, cp.last_page_sha256)
            with page.body:
                if page.done:
                    break
                name = f"{ENDPOINT}_{run_key}_p{index:05d}.json"
                receipt = ingest_streams(settings, "ggdata", "merchants", [(name, page.body)])[0]
            if receipt.status in REFUSED_WHOLE:
                raise PullError(f"page {index} was refused by ingestion: {receipt.error}")
            rows = page.envelope.rows
            result.receipts.append(receipt)
            result.pages += 1
            result.rows += rows
            cp.last_page, cp.last_page_sha256 = index, page.sha256
            cp.total_rows = _total(page.envelope)
            cp.upload_ids = ",".join(filter(None, [cp.upload_ids, receipt.upload_id]))
            _save(db_url, cp)
            _log.info("pull.page", run_key=run_key, page=index, rows=rows, upload_id=receipt.upload_id)
            index += 1
    return result


def _total(envelope: PageEnvelope) -> int | None:
    try:
        return int(envelope.total) if envelope.total is not None else None
    except ValueError:
        return None

"""Signing in to the dashboard: one form takes an API key (POSTed, never in a URL), and the
answer is a session held by the server (``metadata.DashboardSession``, 8 hours at most) and
a cookie carrying its random id, signed with a random secret of the home's
(``secrets/dashboard_session.key``: deleting it ends every session). Only the id's SHA-256 is
stored. Every request looks the session and its key up again, so signing out ends the session
on the server (a copy of the cookie replayed afterwards opens nothing), and revoking or
expiring a key ends its sessions. Signing in again makes a new session.

The cookie is HttpOnly and SameSite=Strict; the export API accepts it for GETs only (a
download link on a page). A dashboard form POST (sign in, sign out) is refused when the
browser says it comes from another site (``cross_site``): SameSite keeps the cookie off such
a POST, but signing in needs no cookie, so another site could otherwise sign a visitor in
under its own key (login CSRF)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete

from lcdp import keys, metadata
from lcdp.settings import Settings

COOKIE = "lcdp_session"
MAX_AGE = 8 * 3600  # a working day


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.home_secret("dashboard_session.key"), salt="lcdp-dashboard")


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back; they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def start(settings: Settings, key: metadata.ApiKey) -> str:
    """A new session of ``key``: its cookie's value. Sessions past their end are dropped on
    the way (their sign-in and sign-out stay in the audit log), so the table stays small."""
    session_id, now = secrets.token_urlsafe(32), _now()
    with metadata.session(settings.metadata_db_url) as db:
        db.execute(delete(metadata.DashboardSession).where(metadata.DashboardSession.expires_at < now))
        db.add(metadata.DashboardSession(session_hash=_hash(session_id), key_id=key.key_id, created_at=now,
                                         expires_at=now + dt.timedelta(seconds=MAX_AGE)))
        db.commit()
    return _serializer(settings).dumps({"s": session_id})


def _session_id(settings: Settings, cookie: str | None) -> str | None:
    """The session id a cookie carries, when the cookie is ours and young enough."""
    if not cookie or len(cookie) > 500:
        return None
    try:
        data = _serializer(settings).loads(cookie, max_age=MAX_AGE)
    except BadSignature:  # includes an expired signature
        return None
    session_id = data.get("s") if isinstance(data, dict) else None
    return session_id if isinstance(session_id, str) else None


def _live(row: metadata.DashboardSession | None) -> bool:
    return row is not None and row.ended_at is None and _aware(row.expires_at) > _now()


def key_of(settings: Settings, cookie: str | None) -> metadata.ApiKey | None:
    """The live key a session cookie stands for, or None (absent, forged, too old, signed out,
    key gone)."""
    session_id = _session_id(settings, cookie)
    if session_id is None:
        return None
    with metadata.session(settings.metadata_db_url) as db:
        row = db.get(metadata.DashboardSession, _hash(session_id))
    return keys.live(settings.metadata_db_url, row.key_id) if _live(row) else None


def end(settings: Settings, cookie: str | None) -> metadata.ApiKey | None:
    """End the session a cookie carries (signing out); the key it stood for when it was still
    live, for the audit log, else None."""
    session_id = _session_id(settings, cookie)
    if session_id is None:
        return None
    with metadata.session(settings.metadata_db_url) as db:
        row = db.get(metadata.DashboardSession, _hash(session_id))
        key = keys.live(settings.metadata_db_url, row.key_id) if _live(row) else None
        if row is not None and row.ended_at is None:
            row.ended_at = _now()
            db.commit()
    return key


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """A URL's origin as (scheme, host, port), the default port filled in; None when it has
    none (``null``, garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def cross_site(own_url: str, origin: str | None, referer: str | None, fetch_site: str | None) -> str | None:
    """Why a form POST to the service at ``own_url`` comes from another site, or None.

    A browser sends ``Origin`` on every POST, so a POST whose ``Origin`` is not the service's
    own (scheme, host and port) was made by another page; ``Sec-Fetch-Site: cross-site`` says
    so outright. Without ``Origin`` the ``Referer``'s origin stands in. A request with neither
    is no browser's (curl, a script) and cannot be forged by another site, so it passes."""
    if (fetch_site or "").strip().lower() == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    claimed, header = (origin, "Origin") if origin is not None else (referer, "Referer")
    if claimed is None:
        return None
    if _origin(claimed) is None or _origin(claimed) != _origin(own_url):
        return f"{header} {claimed[:100]!r} is not this service"
    return None

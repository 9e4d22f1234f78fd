"""Signing in to the dashboard: one form takes an API key (POSTed, never in a URL), and the
answer is a session cookie holding the key's id, signed with a random secret of the home's
(``secrets/dashboard_session.key``: deleting it ends every session). Every request looks the key up again, so revoking or expiring a key ends
its sessions. The cookie is HttpOnly and SameSite=Strict; the export API accepts it for GETs
only (a download link on a page), so no other site can make a signed-in browser write."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from lcdp import keys, metadata
from lcdp.settings import Settings

COOKIE = "lcdp_session"
MAX_AGE = 8 * 3600  # a working day


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.home_secret("dashboard_session.key"), salt="lcdp-dashboard")


def cookie_for(settings: Settings, key: metadata.ApiKey) -> str:
    return _serializer(settings).dumps({"k": key.key_id})


def key_of(settings: Settings, cookie: str | None) -> metadata.ApiKey | None:
    """The live key a session cookie stands for, or None (absent, forged, too old, key gone)."""
    if not cookie or len(cookie) > 500:
        return None
    try:
        data = _serializer(settings).loads(cookie, max_age=MAX_AGE)
    except BadSignature:  # includes an expired signature
        return None
    key_id = data.get("k") if isinstance(data, dict) else None
    return keys.live(settings.metadata_db_url, key_id) if isinstance(key_id, str) else None

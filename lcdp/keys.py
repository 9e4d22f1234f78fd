"""API keys: created once (the secret is shown only then), stored hashed, checked per request.

A key reads ``lcdp_<key_id>_<secret>``. The key id is stored in clear to find the row; the
secret is 256 random bits, so a plain SHA-256 is enough to store it (no password stretching
needed) and ``hmac.compare_digest`` compares it in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import select

from lcdp import metadata
from lcdp.contracts import partners
from lcdp.errors import KeyRequestError


class Role(StrEnum):
    """Who a key speaks for: a partner (its own deliveries), a consumer (the products granted
    to it) or an admin (everything)."""

    PARTNER = "partner"
    CONSUMER = "consumer"
    ADMIN = "admin"


ROLES: tuple[str, ...] = tuple(Role)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(db_url: str, role: str, subject: str, expires_in_days: float | None = None) -> str:
    """Create a key and return it in full; only its hash is kept."""
    if role not in ROLES:
        raise KeyRequestError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if role == Role.PARTNER and subject not in partners():
        raise KeyRequestError(f"unknown partner {subject!r} (known: {', '.join(sorted(partners()))})")
    if not subject or len(subject) > 80:
        raise KeyRequestError("the subject must be 1 to 80 characters")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.timezone.utc)
    with metadata.session(db_url) as db:
        db.add(metadata.ApiKey(
            key_id=key_id, secret_hash=_hash(secret), role=role, subject=subject, created_at=now,
            expires_at=now + dt.timedelta(days=expires_in_days) if expires_in_days else None,
        ))
        db.commit()
    return f"lcdp_{key_id}_{secret}"


def verify(db_url: str, token: str) -> metadata.ApiKey | None:
    """The key's record if the token is a live key (known, right secret, not expired or revoked)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "lcdp":
        return None
    _, key_id, secret = parts
    key = live(db_url, key_id)
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    return key


def live(db_url: str, key_id: str) -> metadata.ApiKey | None:
    """The key's record if it is known and neither expired nor revoked (a dashboard session
    holds only the key id, and ends when its key does)."""
    with metadata.session(db_url) as db:
        key = db.scalar(select(metadata.ApiKey).where(metadata.ApiKey.key_id == key_id))
    if key is None or key.revoked_at is not None:
        return None
    if key.expires_at is not None and _aware(key.expires_at) <= dt.datetime.now(dt.timezone.utc):
        return None
    return key


class KeyInfo(BaseModel):
    """What ``lcdp keys list`` shows of a key: never its secret or hash."""

    key_id: str
    role: str
    subject: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


def key_id_of(key_or_id: str) -> str:
    """The key id of a whole key (``lcdp_<id>_<secret>``), or the id itself."""
    parts = key_or_id.strip().split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "lcdp" else key_or_id.strip()


def list_keys(db_url: str) -> list[KeyInfo]:
    def iso(value: dt.datetime | None) -> str | None:
        return None if value is None else _aware(value).isoformat(timespec="seconds")

    with metadata.session(db_url) as db:
        rows = list(db.scalars(select(metadata.ApiKey).order_by(metadata.ApiKey.created_at)))
    return [KeyInfo(key_id=k.key_id, role=k.role, subject=k.subject, created_at=iso(k.created_at) or "",
                    expires_at=iso(k.expires_at), revoked_at=iso(k.revoked_at)) for k in rows]


def revoke(db_url: str, key_id: str) -> bool:
    with metadata.session(db_url) as db:
        key = db.get(metadata.ApiKey, key_id)
        if key is None:
            return False
        key.revoked_at = dt.datetime.now(dt.timezone.utc)
        db.commit()
        return True


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back; they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)

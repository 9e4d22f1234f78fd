"""Platform metadata (uploads and their receipts) in SQLAlchemy: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Upload(Base):
    """One delivery of one file. Re-sent bytes get their own row pointing at the original."""

    __tablename__ = "uploads"

    upload_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner: Mapped[str] = mapped_column(String(40), index=True)
    dataset: Mapped[str] = mapped_column(String(40))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # partner/dataset/sha256 on originals only (NULL on duplicates): the unique index is what
    # makes "the same bytes twice" impossible to ingest twice, even under concurrency.
    content_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    duplicate_of: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # an UploadStatus
    landing_path: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str | None] = mapped_column(String(20))
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_valid: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[dict] = mapped_column(JSON, default=dict)
    warnings: Mapped[dict] = mapped_column(JSON, default=dict)
    notes: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    bronze_version: Mapped[int | None] = mapped_column(Integer)
    quarantine_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # last ingest attempt
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UploadStatus(StrEnum):
    """Where an upload stands: landed, being ingested, done, or refused whole (the partner's
    to fix) or failed (the platform's: sending it again redoes it)."""

    LANDED = "landed"
    INGESTING = "ingesting"
    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"


#: The statuses of an upload of which nothing reached bronze.
REFUSED_WHOLE = (UploadStatus.REFUSED, UploadStatus.FAILED)


class Receipt(BaseModel):
    """What a partner gets back for a delivery (docs/lake.md)."""

    upload_id: str
    partner: str
    dataset: str
    file_name: str
    sha256: str
    size_bytes: int
    status: UploadStatus
    rows_in: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0
    reasons: dict[str, int] = Field(default_factory=dict)
    warnings: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    duplicate_of: str | None = None
    error: str | None = None
    bronze_version: int | None = None
    quarantine_version: int | None = None

    @classmethod
    def of(cls, upload: Upload, original: Upload | None = None) -> Receipt:
        """The receipt of an upload; a duplicate reports its original's counts."""
        source = original or upload
        return cls(
            upload_id=upload.upload_id, partner=upload.partner, dataset=upload.dataset,
            file_name=upload.file_name, sha256=upload.sha256, size_bytes=upload.size_bytes,
            status=upload.status, rows_in=source.rows_in, rows_valid=source.rows_valid,
            rows_quarantined=source.rows_quarantined, reasons=source.reasons or {},
            warnings=source.warnings or {}, notes=list(upload.notes or []),
            duplicate_of=upload.duplicate_of, error=upload.error,
            bronze_version=source.bronze_version, quarantine_version=source.quarantine_version,
        )


@cache
def engine(url: str) -> Engine:
    """One engine per URL, its database brought to the newest schema revision on first use
    (``lcdp.migrations``: an old home upgrades in place)."""
    from lcdp import migrations

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    eng = create_engine(url, pool_pre_ping=True)
    migrations.upgrade(eng)
    return eng


def describe_url(url: str) -> str:
    """A metadata URL fit to show: the password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL too broken to parse is shown as given
        return url


def session(url: str) -> Session:
    return Session(engine(url), expire_on_commit=False)


def find_original(db: Session, content_key: str) -> Upload | None:
    return db.scalar(select(Upload).where(Upload.content_key == content_key))


def list_uploads(url: str, partner: str | None = None) -> list[Upload]:
    with session(url) as db:
        query = select(Upload).order_by(Upload.created_at)
        if partner:
            query = query.where(Upload.partner == partner)
        return list(db.scalars(query))


class ApiKey(Base):
    """A credential: shown once when created, stored as a SHA-256 of its secret part."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the visible prefix
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))  # partner | consumer | admin
    subject: Mapped[str] = mapped_column(String(80), index=True)  # partner id, consumer id, admin name
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Every upload, and every refused attempt, with who tried and what came of it."""

    __tablename__ = "audit_log"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    key_id: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    status_code: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    upload_id: Mapped[str | None] = mapped_column(String(40))


class PullCheckpoint(Base):
    """The last page of a pull run that reached bronze."""

    __tablename__ = "pull_checkpoints"

    run_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    last_page: Mapped[int] = mapped_column(Integer, default=0)
    total_rows: Mapped[int | None] = mapped_column(Integer)
    last_page_sha256: Mapped[str | None] = mapped_column(String(64))
    upload_ids: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Grant(Base):
    """A consumer may read a data product (``lcdp grants``)."""

    __tablename__ = "export_grants"

    consumer: Mapped[str] = mapped_column(String(80), primary_key=True)
    product: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class VersionPin(Base):
    """A table version something depends on (a trained model's inputs): vacuum keeps it."""

    __tablename__ = "version_pins"

    table_name: Mapped[str] = mapped_column(String(120), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    pinned_by: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DashboardSession(Base):
    """A dashboard sign-in, held here so that signing out ends it on the server: the cookie
    alone (signed, 8 hours) would still open pages if replayed after it was deleted. Only the
    SHA-256 of the session id is kept, so reading this table signs no one in."""

    __tablename__ = "dashboard_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

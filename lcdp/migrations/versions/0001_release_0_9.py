"""The metadata tables as the release of issue 9 created them: uploads, API keys, the audit
log, pull checkpoints and version pins.

Revision ID: 0001_release_0_9
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_release_0_9"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("upload_id", sa.String(40), primary_key=True),
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("dataset", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("content_key", sa.String(200), nullable=True, unique=True),
        sa.Column("duplicate_of", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("landing_path", sa.Text, nullable=False),
        sa.Column("encoding", sa.String(20), nullable=True),
        sa.Column("rows_in", sa.Integer, nullable=False),
        sa.Column("rows_valid", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("notes", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("bronze_version", sa.Integer, nullable=True),
        sa.Column("quarantine_version", sa.Integer, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
    )
    op.create_index("ix_uploads_partner", "uploads", ["partner"])
    op.create_index("ix_uploads_sha256", "uploads", ["sha256"])
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_index("ix_api_keys_subject", "api_keys", ["subject"])
    op.create_table(
        "audit_log",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("subject", sa.String(80), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("upload_id", sa.String(40), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "pull_checkpoints",
        sa.Column("run_key", sa.String(120), primary_key=True),
        sa.Column("last_page", sa.Integer, nullable=False),
        sa.Column("total_rows", sa.Integer, nullable=True),
        sa.Column("last_page_sha256", sa.String(64), nullable=True),
        sa.Column("upload_ids", sa.Text, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "version_pins",
        sa.Column("table_name", sa.String(120), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("pinned_by", sa.String(200), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("version_pins", "pull_checkpoints", "audit_log", "api_keys", "uploads"):
        op.drop_table(table)

"""Dashboard sessions held on the server, so that signing out ends a session: before, the
signed cookie alone was the session, and a copy of it opened pages until it expired.

Revision ID: 0003_dashboard_sessions
Revises: 0002_export_grants
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_dashboard_sessions"
down_revision = "0002_export_grants"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
    )
    op.create_index("ix_dashboard_sessions_key_id", "dashboard_sessions", ["key_id"])
    op.create_index("ix_dashboard_sessions_expires_at", "dashboard_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("dashboard_sessions")

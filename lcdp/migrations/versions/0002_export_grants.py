"""Export grants (issue 10): which consumer may read which data product.

Revision ID: 0002_export_grants
Revises: 0001_release_0_9
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_export_grants"
down_revision = "0001_release_0_9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_grants",
        sa.Column("consumer", sa.String(80), primary_key=True),
        sa.Column("product", sa.String(80), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("export_grants")

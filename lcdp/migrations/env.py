"""Alembic environment: migrations run on the connection ``lcdp.migrations.upgrade`` opened
(online only; the platform never emits SQL scripts)."""

from alembic import context

from lcdp.metadata import Base
from lcdp.migrations import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: migrations run on the connection ``lcdp.migrations.upgrade`` opened
(online only; the platform never emits SQL scripts). Upgrades run the scripts alone; a caller
that autogenerates a revision hands the code's schema in as ``target_metadata`` (this package
sits below ``lcdp.metadata``, which runs it, and does not import it)."""

from alembic import context

from lcdp.migrations import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=context.config.attributes.get("target_metadata"),
                  version_table=VERSION_TABLE, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

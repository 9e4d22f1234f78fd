"""Alembic migrations of the platform's metadata database (uploads, keys, audit, grants, pins,
dashboard sessions).

A home keeps its database across releases: every process that opens it (``metadata.engine``)
and ``lcdp up``, ``lcdp db upgrade`` and the bootstrap bring it to the newest revision first,
so an old home upgrades in place. Our version table is ``lcdp_alembic_version``, not Alembic's
default: Airflow and MLflow keep their own ``alembic_version`` and may share a PostgreSQL
database with us.

Homes made before migrations existed (releases up to issue 10's) have the tables and no
version table; they are stamped with the revision their tables match, then upgraded.
Migrations run under a lock (``pg_advisory_xact_lock``, or ``flock`` beside a SQLite file), so
two processes opening an old home at once upgrade it once.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

VERSION_TABLE = "lcdp_alembic_version"
HERE = Path(__file__).resolve().parent

#: Revisions of the releases before migrations, newest first, by the table that release added.
_UNVERSIONED = (("export_grants", "0002_export_grants"), ("uploads", "0001_release_0_9"))


def _config(connection: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision: the last file of ``versions/``, whose stem is its revision id.

    The history is a line (``tests/test_migrations.py`` checks this against Alembic's own
    reading of the scripts), and every process that opens the database asks: importing
    Alembic to read its scripts cost each one a second before its first query."""
    return max(p.stem for p in (HERE / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def alembic_head() -> str:
    """The newest revision as Alembic reads the scripts (used by the slow path and the tests)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current(connection: Connection) -> str | None:
    """The database's revision; None for a database without our version table."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


@contextmanager
def _migration_lock(eng: Engine) -> Iterator[Connection]:
    if eng.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"lcdp:migrations").digest()[:8], "big", signed=True)
        with eng.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            yield conn
        return
    if not eng.url.database or eng.url.database == ":memory:":
        with eng.begin() as conn:
            yield conn
        return
    lock_path = Path(f"{eng.url.database}.migrate.lock")
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            with eng.begin() as conn:
                yield conn
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(eng: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; returns (revision before, revision after)."""
    newest = head()
    with eng.connect() as conn:
        before = current(conn)
    if before == newest:
        return before, newest
    from alembic import command

    with _migration_lock(eng) as conn:
        before = current(conn)
        if before is None:
            tables = set(inspect(conn).get_table_names())
            stamp = next((rev for table, rev in _UNVERSIONED if table in tables), None)
            if stamp is not None:
                command.stamp(_config(conn), stamp)
        if before != newest:
            command.upgrade(_config(conn), "head")
        after = current(conn)
    return before, after or newest

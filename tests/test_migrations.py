"""Metadata schema migrations (Alembic): a database made by an earlier release upgrades in
place, on SQLite and on PostgreSQL, keeping its rows; a new database gets exactly the schema
the models declare; an upgraded database works for the platform."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conftest import last_json, lcdp_json
from lcdp import keys, metadata, migrations
from lcdp.exports import grants
from lcdp.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"


def _load_release(url: str, release: str) -> None:
    """A database as an earlier release's ``create_all`` left it, with a row in each table."""
    dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
    script = (FIXTURES / f"release-{release}.{dialect}.sql").read_text()
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        for statement in script.split(";\n\n"):
            body = "\n".join(ln for ln in statement.splitlines() if not ln.startswith("--")).strip().rstrip(";")
            if body:
                conn.exec_driver_sql(body)
    eng.dispose()


def _drift(url: str) -> list:
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": migrations.VERSION_TABLE})
        diff = compare_metadata(ctx, metadata.Base.metadata)
    eng.dispose()
    return diff


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    return request.getfixturevalue("pg_url")


def test_the_quick_head_is_alembics_head():
    """The revision every process compares with (file names) is the one Alembic reads from
    the scripts: the history is a line, and each file's stem is its revision id."""
    assert migrations.head() == migrations.alembic_head()


def test_a_new_database_has_exactly_the_declared_schema(db_url):
    metadata.engine(db_url)
    assert _drift(db_url) == []
    with metadata.engine(db_url).connect() as conn:
        assert migrations.current(conn) == migrations.head()


@pytest.mark.parametrize("release", ["0.9", "0.10"])
def test_a_database_of_an_earlier_release_upgrades_in_place(db_url, release, tmp_path):
    _load_release(db_url, release)
    settings = Settings(home=tmp_path / "home", metadata_url=db_url)
    settings.ensure_dirs()
    proc = lcdp_json(settings, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc)
    assert result["before"] is None and result["after"] == migrations.head()
    assert _drift(db_url) == []
    # the earlier release's rows are all there, readable through today's models
    (upload,) = metadata.list_uploads(db_url)
    assert (upload.upload_id, upload.rows_valid, upload.reasons) == ("u-0001", 9, {"field:amount": 1})
    assert [k.key_id for k in keys.list_keys(db_url)] == ["lcdp_k0001"]
    with metadata.session(db_url) as db:
        assert db.get(metadata.PullCheckpoint, "upload:ked.credit") is not None
        assert db.scalar(sa.select(sa.func.count()).select_from(metadata.AuditEvent)) == 1
        assert db.get(metadata.VersionPin, ("gold.merchant_month_features", 4, "credit_risk/1")) is not None
    # and the platform works on it: grants are the table 0.9 did not have
    assert grants.granted(db_url, "policy-team") == ({"spending"} if release == "0.10" else set())
    grants.add(db_url, "analyst", "spending", known=["spending"])
    assert grants.granted(db_url, "analyst") == {"spending"}
    # a second upgrade has nothing to do
    again = last_json(lcdp_json(settings, "db", "upgrade"))
    assert again["before"] == again["after"] == migrations.head()


def test_an_unreachable_database_is_one_line(tmp_path):
    settings = Settings(home=tmp_path / "home", metadata_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    settings.ensure_dirs()
    proc = lcdp_json(settings, "db", "upgrade")
    assert proc.returncode == 2
    assert "cannot upgrade" in last_json(proc)["error"] and "Traceback" not in proc.stderr

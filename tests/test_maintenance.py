"""Maintenance: compaction and vacuum keep the data, and time travel to pinned versions."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lcdp.lake import catalog
from lcdp.lake.maintenance import maintain, pin, pinned_versions, unpin
from lcdp.settings import Settings

NAME = "gold.spending_cube"


def _write(settings: Settings, rows: list[int], mode: str) -> int:
    uri = catalog.table(NAME).uri(settings)
    catalog.table(NAME).path(settings).parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(uri, pa.table({"spending": pa.array(rows, pa.int64())}), mode=mode)
    return DeltaTable(uri).version()


def _read(settings: Settings, version: int) -> list[int]:
    return sorted(DeltaTable(catalog.table(NAME).uri(settings), version=version).to_pyarrow_table()
                  .column("spending").to_pylist())


def test_compaction_merges_small_files_and_keeps_every_row(settings):
    for i in range(6):
        _write(settings, [i], "append")
    result = maintain(settings, NAME, vacuum=False)
    assert (result.files_compacted, result.files_added) == (6, 1)
    assert _read(settings, result.version_after) == list(range(6))
    assert _read(settings, 2) == [0, 1, 2]  # the old versions still read


def test_vacuum_keeps_pinned_versions_and_the_retention_window(backend_settings):
    settings = backend_settings.model_copy(update={"retention_hours": 0})  # pins on SQLite and PostgreSQL
    first = _write(settings, [1, 2], "append")
    middle = _write(settings, [3], "overwrite")
    _write(settings, [4], "overwrite")
    pin(settings, NAME, first, "model credit-risk v1")
    assert pinned_versions(settings, NAME) == [first]
    result = maintain(settings, NAME, compact=False)
    assert result.files_vacuumed == 1  # the middle version's file: neither current nor pinned
    assert _read(settings, first) == [1, 2]
    with pytest.raises(Exception):
        _read(settings, middle)
    unpin(settings, NAME, first, "model credit-risk v1")
    assert maintain(settings, NAME, compact=False).files_vacuumed == 1
    assert _read(settings, catalog.version(NAME, settings)) == [4]


def test_default_retention_keeps_a_month_of_time_travel(settings):
    assert settings.retention_hours == 30 * 24
    _write(settings, [1], "append")
    _write(settings, [2], "overwrite")
    assert maintain(settings, NAME).files_vacuumed == 0
    assert _read(settings, 0) == [1]


def test_pinning_an_unknown_table_fails(settings):
    with pytest.raises(catalog.UnknownTable):
        pin(settings, "gold.nope", 0, "x")

"""From a declaration to its code: the job module a table names, its columns, and the tables
written through it. The declarations (``lcdp.declarations``) name modules by path so the core
need not import them; this is where they are imported."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from lcdp.declarations import Scores, Table
from lcdp.lake import catalog, engine
from lcdp.lake.dictionary import Columns
from lcdp.settings import Settings


def module(path: str) -> ModuleType:
    return importlib.import_module(path)


def columns(entry: Table | Scores) -> Columns:
    """The table's columns as its job module declares them (``COLUMNS``, or ``COLUMNS[name]``
    for a module that makes several tables)."""
    declared = module(entry.job).COLUMNS
    return declared[entry.name] if isinstance(declared, dict) else declared


def ensure_table(settings: Settings, entry: Table | Scores) -> None:
    """Create the table empty, with its declared columns and partition, if it does not exist."""
    catalog.create_empty(engine.spark(settings), entry.name, settings, columns(entry).ddl, entry.partition)


@contextmanager
def new_version(settings: Settings, entry: Table) -> Iterator[catalog.VersionWrite]:
    """A chunked write of a new version of a step's table (created empty first if need be)."""
    ensure_table(settings, entry)
    with catalog.new_version(entry.name, settings) as version:
        yield version

"""The lake from a notebook: list the tables, read any of them at any version.

    from lcdp.lake.notebook import open_lake

    lake = open_lake("/data/lcdp")          # or LCDP_HOME; any working directory
    lake.tables()                            # name, layer, version, rows
    features = lake.pandas("gold.merchant_month_features")
    before = lake.arrow("gold.credit_risk_scores", version=3)   # time travel
    df = lake.spark("silver.transactions")   # a Spark DataFrame on the embedded engine
    lake.settings                            # the home's Settings, for models.tracking

``arrow`` and ``pandas`` read through delta-rs: no engine starts, and a table of a few million
rows loads in seconds. ``spark`` starts the embedded Sail engine once (or uses
``LCDP_SPARK_REMOTE``) for work that needs joins and aggregates over the big tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from lcdp.errors import HomeError
from lcdp.home import home_problem
from lcdp.lake import catalog
from lcdp.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class Lake:
    """One platform home's lake."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def tables(self) -> pd.DataFrame:
        """Every table that has been written, with its current version and row count."""
        rows = []
        for name, table in catalog.tables().items():
            version = catalog.version(name, self.settings)
            if version is not None:
                rows.append({"name": name, "layer": table.layer, "version": version,
                             "rows": catalog.row_count(name, self.settings)})
        return pd.DataFrame(rows, columns=["name", "layer", "version", "rows"])

    def arrow(self, name: str, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
        """The table (at ``version``; default: the current one) as an Arrow table. A version the
        table has not reached raises ``UnknownVersion`` in the command line's words: "gold.x has
        no version 3 (versions 0 to 2)"."""
        return catalog.to_arrow(name, self.settings, version, columns)

    def pandas(self, name: str, version: int | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """The table (at ``version``) as a pandas frame; see ``arrow``."""
        return self.arrow(name, version, columns).to_pandas()

    def spark(self, name: str, version: int | None = None) -> DataFrame:
        """The table (at ``version``) as a Spark DataFrame on the embedded engine."""
        from lcdp.lake import engine

        catalog.table(name)  # an unknown name fails here, listing the known ones
        if version is not None:
            catalog.checked_version(name, self.settings, version)  # before the engine starts
        return catalog.read(engine.spark(self.settings), name, self.settings, version)

    def history(self, name: str) -> pd.DataFrame:
        """The table's commits, newest first (version, timestamp, operation)."""
        return pd.DataFrame(catalog.history(name, self.settings))


def open_lake(home: str | Path | None = None) -> Lake:
    """The lake of ``home`` (default: ``LCDP_HOME``); refuses a folder that is not a home."""
    chosen = Path(home) if home is not None else (Path(os.environ["LCDP_HOME"]) if os.environ.get("LCDP_HOME") else None)
    if chosen is None:
        raise HomeError("which platform home? open_lake('/path/to/home') or set LCDP_HOME")
    problem = home_problem(chosen.expanduser().resolve())
    if problem:
        raise HomeError(problem)
    return Lake(load_settings(chosen))

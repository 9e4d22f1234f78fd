"""The lake catalog: every table's one name and one place, and the helpers to use them.

Names are ``<layer>.<table>``: ``bronze.kona_transactions``, ``quarantine.kona_transactions``,
``silver.merchants``, ``gold.spending_cube``. Nobody else builds a lake path: ask ``path()``.
Reads, appends and merges go through Spark; history, row counts and maintenance through
delta-rs, which Sail's SQL lacks (no DESCRIBE HISTORY, no OPTIMIZE).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from lcdp.contracts import QUARANTINE_SCHEMA, Contract, load_contracts
from lcdp.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LAYERS = ("bronze", "quarantine", "silver", "gold")

#: Conformed and product tables (BRIEF §7), written by the fusion and model jobs.
SILVER_TABLES = ("merchants", "transactions", "credit_monthly", "guarantees", "employment_monthly")
GOLD_TABLES = ("merchant_month_features", "spending_cube")


class UnknownTable(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Table:
    layer: str
    name: str
    schema: pa.Schema | None = None  # known up front for bronze/quarantine (from contracts)

    @property
    def qualified(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, settings: Settings) -> Path:
        return settings.lake_root / self.layer / self.name

    def uri(self, settings: Settings) -> str:
        return str(self.path(settings))


def bronze(contract: Contract) -> Table:
    return Table("bronze", contract.name, contract.bronze_schema())


def quarantine(contract: Contract) -> Table:
    return Table("quarantine", contract.name, QUARANTINE_SCHEMA)


def tables() -> dict[str, Table]:
    """Every table of the lake, by qualified name."""
    out: dict[str, Table] = {}
    for contract in load_contracts().values():
        for table in (bronze(contract), quarantine(contract)):
            out[table.qualified] = table
    out.update({f"silver.{n}": Table("silver", n) for n in SILVER_TABLES})
    out.update({f"gold.{n}": Table("gold", n) for n in GOLD_TABLES})
    return out


def table(name: str) -> Table:
    found = tables().get(name)
    if found is None:
        layer = name.split(".")[0]
        near = [t for t in tables() if t.startswith(layer + ".")] or list(tables())
        raise UnknownTable(f"no table {name!r} (known: {', '.join(near)})")
    return found


# --------------------------------------------------------------------------- delta-rs side


def delta(name: str, settings: Settings) -> DeltaTable | None:
    """The table's delta-rs handle, or None when it was never written."""
    try:
        return DeltaTable(table(name).uri(settings))
    except TableNotFoundError:
        return None


def ensure(name: str, settings: Settings) -> None:
    """Create the table empty with its declared schema, if it does not exist yet."""
    t = table(name)
    if t.schema is None or delta(name, settings) is not None:
        return
    t.path(settings).parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(t.uri(settings), t.schema.empty_table(), mode="append")


def version(name: str, settings: Settings) -> int | None:
    dt_ = delta(name, settings)
    return None if dt_ is None else dt_.version()


def row_count(name: str, settings: Settings, version: int | None = None) -> int | None:
    """Rows in the table (at a version), counted by delta-rs from the files it references."""
    handle = delta(name, settings)
    if handle is None:
        return None
    if version is not None:
        handle.load_as_version(version)
    return handle.to_pyarrow_dataset().count_rows()


def history(name: str, settings: Settings, limit: int | None = None) -> list[dict]:
    handle = delta(name, settings)
    return [] if handle is None else handle.history(limit)


def compact(name: str, settings: Settings) -> dict:
    handle = delta(name, settings)
    return {} if handle is None else handle.optimize.compact()


def vacuum(name: str, settings: Settings, retention_hours: int = 24 * 30, dry_run: bool = False) -> list[str]:
    """Remove files no version within the retention still references (time travel survives)."""
    handle = delta(name, settings)
    if handle is None:
        return []
    return handle.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False)


def delete_upload(name: str, settings: Settings, upload_id: str) -> int:
    """Remove one upload's rows (undoing a half-finished ingest); returns rows deleted."""
    handle = delta(name, settings)
    if handle is None:
        return 0
    metrics = handle.delete(f"_upload_id = '{upload_id.replace(chr(39), '')}'")
    return int(metrics.get("num_deleted_rows", 0))


# --------------------------------------------------------------------------- Spark side


def read(spark: SparkSession, name: str, settings: Settings, version: int | None = None) -> DataFrame:
    """A lake table as a DataFrame, optionally as of a Delta version (time travel)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table(name).uri(settings))


def append(df: DataFrame, name: str, settings: Settings) -> int:
    """Append a DataFrame as one Delta commit; returns the new table version."""
    ensure(name, settings)
    df.write.format("delta").mode("append").save(table(name).uri(settings))
    return version(name, settings)  # type: ignore[return-value]


def merge(spark: SparkSession, source: DataFrame, name: str, settings: Settings, keys: list[str]) -> int:
    """Upsert ``source`` into the table on ``keys`` (update matched, insert new); new version."""
    target = table(name)
    if delta(name, settings) is None:
        source.write.format("delta").mode("append").save(target.uri(settings))
        return version(name, settings)  # type: ignore[return-value]
    view = f"_merge_source_{dt.datetime.now().strftime('%H%M%S%f')}"
    source.createOrReplaceTempView(view)
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    spark.sql(
        f"MERGE INTO delta.`{target.uri(settings)}` AS t USING {view} AS s ON {on} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    return version(name, settings)  # type: ignore[return-value]

"""Output schemas of the fusion jobs, written as Spark DDL (``"tx_id string, amount bigint"``):
each job declares its table's columns once, and shapes its result with ``conform``."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def fields(ddl: str) -> list[tuple[str, str]]:
    """``(name, type)`` of every column of a DDL string, in order."""
    return [tuple(column.split(maxsplit=1)) for column in ddl.split(", ")]  # type: ignore[misc]


def columns(ddl: str) -> list[str]:
    return [name for name, _ in fields(ddl)]


def conform(df: DataFrame, ddl: str) -> DataFrame:
    """``df``'s columns in the DDL's order, cast to its types (extra columns dropped)."""
    return df.select(*[F.col(name).cast(kind) for name, kind in fields(ddl)])

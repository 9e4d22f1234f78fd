"""What changed in a step's inputs since the step last ran, and the month arithmetic the
incremental steps share.

A step's last lineage record (``previous``) names the input versions it computed from; the
functions here compare them with the versions the step reads now. ``None`` always means "I
cannot tell: recompute everything" (no record, or the recorded version is gone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from lcdp import log
from lcdp.lake import catalog, engine
from lcdp.settings import Settings

_log = log.get(__name__)


def spark(settings: Settings):
    return engine.spark(settings)


def read(settings: Settings, name: str, version: int | None):
    """A lake table as a DataFrame, pinned to ``version``."""
    return catalog.read(spark(settings), name, settings, version=version)


def new_uploads(settings: Settings, name: str, previous: dict | None, current: int | None) -> set[str] | None:
    """Upload ids new in ``name`` since the step last ran; None means "recompute all"."""
    if previous is None or current is None:
        return None
    before = previous["inputs"].get(name)
    if before is None:
        return None
    if before == current:
        return set()
    try:
        return catalog.uploads_between(name, settings, before, current)
    except Exception as exc:  # the recorded version's log is gone: start over
        _log.warning("fusion.watermark_lost", table=name, version=before, error=str(exc))
        return None


def among(column: str, values: set[str]):
    """A filter on ``column`` being one of ``values`` (false for none)."""
    from pyspark.sql import functions as F

    return F.col(column).isin(sorted(values)) if values else F.lit(False)


def changed_rows(settings: Settings, name: str, before: int, after: int):
    """Rows that differ between two versions of a (small) table, either side."""
    old, new = read(settings, name, before), read(settings, name, after)
    return new.subtract(old).unionByName(old.subtract(new))


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every first-of-month from ``first``'s month to ``last``'s."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def months_of_partitions(partitions: Iterable[dict]) -> set[dt.date]:
    """The months of silver.transactions partition values (days, or months in a table
    written before it was partitioned by day)."""
    days = (v.get("tx_date", v.get("tx_month")) for v in partitions)
    return {d.replace(day=1) for d in days if d is not None}


def transaction_months(settings: Settings, version: int | None) -> list[dt.date]:
    """The months silver.transactions holds at a version, in order (from its partitions)."""
    if version is None:
        return []
    return sorted(months_of_partitions(catalog.files("silver.transactions", settings, version).values()))


def changed_transaction_months(settings: Settings, previous: dict | None, current: int | None) -> set[dt.date] | None:
    """Months (partitions) of silver.transactions rewritten since the step last ran."""
    before = previous["inputs"].get("silver.transactions") if previous else None
    if before is None or current is None:
        return None
    if before == current:
        return set()
    try:
        added, removed = catalog.changed_files("silver.transactions", settings, before, current)
    except Exception:
        return None
    return months_of_partitions([*added.values(), *removed.values()])

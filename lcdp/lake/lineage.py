"""Lineage: which input table versions every silver and gold version was computed from.

Sail ignores Delta's ``userMetadata`` write option, so after each data commit the fusion adds
a *lineage commit* with delta-rs: an append of no rows whose commit info carries
``lcdp.lineage`` (JSON: the data version it describes, the input tables' versions, the mode).
It doubles as the step's watermark: the next run starts from the inputs recorded there. A
process killed between the data commit and its lineage commit leaves the old watermark, so
the next run recomputes the same batch; the writes are idempotent, so that changes nothing.

``trace`` follows the records down to bronze, and ``uploads_behind_feature_row`` names the
partner uploads behind one gold feature row.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import CommitProperties, write_deltalake

from lcdp.errors import NotFound
from lcdp.lake import catalog
from lcdp.settings import Settings

KEY = "lcdp.lineage"


def record(name: str, settings: Settings, data_version: int, inputs: dict[str, int | None], **details: Any) -> int:
    """Add the lineage commit for ``data_version`` of ``name``; returns its own version."""
    handle = catalog.delta(name, settings)
    if handle is None:
        raise ValueError(f"{name} does not exist: nothing to record lineage for")
    entry = {"table": name, "data_version": data_version, "inputs": inputs,
             "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **details}
    empty = pa.schema(handle.schema().to_arrow()).empty_table()
    write_deltalake(handle, empty, mode="append",
                    commit_properties=CommitProperties(custom_metadata={KEY: json.dumps(entry, sort_keys=True)}))
    return catalog.version(name, settings)  # type: ignore[return-value]


def entries(name: str, settings: Settings) -> list[dict]:
    """Every lineage record of the table, newest first, each with its own ``version``."""
    out = []
    for commit in catalog.history(name, settings):
        if KEY in commit:
            out.append({**json.loads(commit[KEY]), "version": commit["version"]})
    return out


def latest(name: str, settings: Settings, at_version: int | None = None) -> dict | None:
    """The newest lineage record (at or before ``at_version``), or None."""
    for entry in entries(name, settings):
        if at_version is None or entry["version"] <= at_version:
            return entry
    return None


def trace(name: str, settings: Settings, at_version: int | None = None) -> dict:
    """The lineage tree of a table version (default: the current one, as ``lcdp status``
    shows it) down to bronze, where it names the uploads. ``data_version`` is the commit that
    wrote the data the version holds (later commits may be lineage or compaction only)."""
    if at_version is None:
        at_version = catalog.version(name, settings)
    if name.startswith(("bronze.", "quarantine.")):
        handle = catalog.delta(name, settings)
        if handle is None:
            return {"table": name, "version": None, "uploads": []}
        handle.load_as_version(at_version)
        ids = handle.to_pyarrow_dataset().to_table(columns=["_upload_id"]).column(0)
        return {"table": name, "version": handle.version(), "uploads": sorted(pc.unique(ids).to_pylist())}
    entry = latest(name, settings, at_version)
    if entry is None:
        return {"table": name, "version": at_version, "inputs": [], "note": "no lineage recorded"}
    # a product's record sits in the commit that wrote its rows, and names no other
    return {"table": name, "version": at_version, "data_version": entry.get("data_version", entry["version"]),
            "lineage_commit": entry["version"], "mode": entry.get("mode"), "recorded_at": entry.get("recorded_at"),
            "inputs": [trace(t, settings, v) for t, v in sorted(entry["inputs"].items()) if v is not None]}


def _rows(name: str, settings: Settings, version: int, where: ds.Expression) -> pa.Table:
    handle = catalog.delta(name, settings)
    if handle is None:
        return pa.table({"_upload_id": pa.array([], pa.string())})
    handle.load_as_version(version)
    return handle.to_pyarrow_dataset().to_table(filter=where, columns=["_upload_id"])


def uploads_behind_feature_row(settings: Settings, business_key: str, month: dt.date,
                               at_version: int | None = None) -> dict[str, list[str]]:
    """The uploads (per silver table) whose rows went into one ``gold.merchant_month_features``
    row: the business's payments of the six months its sales windows read, its bureau and
    employment snapshots of the three months carried forward, and its guarantees."""
    entry = latest("gold.merchant_month_features", settings, at_version)
    if entry is None:
        raise NotFound("gold.merchant_month_features has no lineage recorded yet")
    inputs = entry["inputs"]

    def months_back(n: int) -> dt.date:
        y, m = divmod(month.year * 12 + month.month - 1 - n, 12)
        return dt.date(y, m + 1, 1)

    business = ds.field("business_key") == business_key
    wanted = {
        "silver.transactions": business & (ds.field("tx_month") >= months_back(5)) & (ds.field("tx_month") <= month),
        "silver.credit_monthly": business & (ds.field("month") >= months_back(2)) & (ds.field("month") <= month),
        "silver.employment_monthly": business & (ds.field("month") >= months_back(2)) & (ds.field("month") <= month),
        "silver.guarantees": business & (ds.field("start_date") <= months_back(-1) - dt.timedelta(days=1)),
    }
    out = {}
    for name, where in wanted.items():
        if inputs.get(name) is None:
            continue
        ids = _rows(name, settings, inputs[name], where).column("_upload_id")
        out[name] = sorted(pc.unique(ids).to_pylist())
    return out

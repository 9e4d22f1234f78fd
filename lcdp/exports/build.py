"""Build a data product: read its sources at pinned versions, compute its cells, protect them,
and write ``gold.export_<name>`` — or nothing, when the audit fails.

The edge of the product modules in ``jobs/exports/`` (as ``lcdp.lake.fusion`` is for the
fusion jobs). Each build is one Delta commit that carries its lineage (the sources' versions)
and its disclosure report, so the catalog reads both from the version it serves.
"""

from __future__ import annotations

import json
import time
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake import CommitProperties, write_deltalake
from pydantic import BaseModel

from lcdp import log
from lcdp.contracts import reference
from lcdp.exports.disclosure import ALL, DisclosureReport, protect
from lcdp.exports.product import Product
from lcdp.lake import catalog, engine, lineage
from lcdp.settings import Settings

_log = log.get(__name__)

#: what a region's name column says for the province and for unknown merchants
PROVINCE_NAME, UNKNOWN_NAME = "경기도 전체", "미상"


class ExportUnavailable(LookupError):
    """A product's sources are not in the lake yet."""


class UnknownProduct(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class ExportResult(BaseModel):
    """What one build did (``lcdp export``, the export DAG and the demo print it)."""

    product: str
    table: str
    status: str  # written | up to date
    version: int | None
    rows: int
    suppressed_cells: int
    inputs: dict[str, int]
    disclosure: DisclosureReport | None = None
    seconds: float = 0.0


def products() -> dict[str, ModuleType]:
    from jobs.exports import modules

    return modules()


def module(name: str) -> ModuleType:
    found = products().get(name)
    if found is None:
        raise UnknownProduct(f"no product {name!r} (products: {', '.join(products())})")
    return found


def published(protected: pd.DataFrame, declared: Product, finish=None) -> pa.Table:
    """Protected cells → the product's rows: suppressed cells keep their key and lose every
    measure; contributor counts that are not measures (the dominance share) never leave."""
    rows = protected.copy()
    hidden = rows["status"] != "published"
    for measure in declared.measures:
        if measure.name in rows:
            rows[measure.name] = rows[measure.name].astype(object).where(~hidden, None)
    rows["status"] = np.where(hidden, "suppressed", "published")
    if finish is not None:
        rows = finish(rows)
    names = {"sigun_cd": reference().sigun}
    if "sigun_name" in {c.name for c in declared.attributes}:
        rows["sigun_name"] = [PROVINCE_NAME if code == ALL else UNKNOWN_NAME if code is None or code != code
                              else names["sigun_cd"].get(code, code) for code in rows["sigun_cd"]]
    schema = declared.arrow_schema()
    rows = rows.sort_values([c.name for c in declared.dimensions], na_position="first", kind="stable")
    columns = {}
    for field in schema:
        values = rows[field.name].astype(object).where(rows[field.name].notna(), None).tolist()
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=schema)


def build(settings: Settings, name: str, full: bool = False) -> ExportResult:
    """Bring ``gold.export_<name>`` up to date with its sources (nothing to do when none moved)."""
    started = time.perf_counter()
    mod = module(name)
    declared: Product = mod.PRODUCT
    inputs = {t: catalog.version(t, settings) for t in declared.sources}
    missing = [t for t, v in inputs.items() if v is None]
    if missing:
        how = "lcdp score" if any(t in (f"gold.{s}" for s in catalog.SCORE_TABLES) for t in missing) else "lcdp fuse"
        raise ExportUnavailable(f"product {name!r} needs {', '.join(missing)}, not in the lake yet (run `{how}`)")
    previous = None if full else lineage.latest(declared.table, settings)
    if previous is not None and previous.get("inputs") == inputs:
        report = previous.get("disclosure")
        return ExportResult(product=name, table=declared.table, status="up to date",
                            version=catalog.version(declared.table, settings),
                            rows=catalog.row_count(declared.table, settings) or 0,
                            suppressed_cells=previous.get("suppressed_cells", 0), inputs=inputs,
                            disclosure=DisclosureReport.model_validate(report) if report else None,
                            seconds=round(time.perf_counter() - started, 2))
    spark = engine.spark(settings)
    frames = {t: catalog.read(spark, t, settings, v) for t, v in inputs.items()}
    with catalog.staging(spark, settings, f"export-{name}") as stage:
        cells = mod.cells(frames, stage)
    report = None
    if len(cells):
        protected, report = protect(cells, declared.structure(), declared.rules)
        table = published(protected, declared, getattr(mod, "finish", None))
    else:
        table = declared.arrow_schema().empty_table()
    suppressed = report.suppressed if report else 0
    entry = {"table": declared.table, "inputs": inputs, "mode": "full", "product": name,
             "rows": table.num_rows, "suppressed_cells": suppressed,
             "disclosure": report.model_dump(mode="json", exclude={"audit": {"findings"}}) if report else None}
    path = catalog.table(declared.table).path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), table, mode="overwrite", schema_mode="overwrite",
                    commit_properties=CommitProperties(custom_metadata={lineage.KEY: json.dumps(entry, default=str)}))
    version = catalog.version(declared.table, settings)
    result = ExportResult(product=name, table=declared.table, status="written", version=version, rows=table.num_rows,
                          suppressed_cells=suppressed, inputs=inputs, disclosure=report,
                          seconds=round(time.perf_counter() - started, 2))
    _log.info("export.built", product=name, table=declared.table, version=version, rows=table.num_rows,
              suppressed=suppressed, seconds=result.seconds)
    return result


def export_summary(settings: Settings) -> dict[str, dict]:
    """Every product by name: its ``rows`` and ``suppressed_cells`` (and version), or, when it
    was never built, why (its sources are not in the lake yet)."""
    out: dict[str, dict] = {}
    for name, mod in products().items():
        declared: Product = mod.PRODUCT
        entry = lineage.latest(declared.table, settings)
        if entry is None:
            missing = [t for t in declared.sources if catalog.version(t, settings) is None]
            why = f"needs {', '.join(missing)}" if missing else "not built yet (lcdp export)"
            out[name] = {"rows": 0, "suppressed_cells": 0, "skipped": why}
            continue
        out[name] = {"rows": entry.get("rows", 0), "suppressed_cells": entry.get("suppressed_cells", 0),
                     "version": entry["version"], "table": declared.table}
    return out

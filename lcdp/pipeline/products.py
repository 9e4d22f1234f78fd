"""Build a data product (``lcdp.declarations.PRODUCTS``): read its sources at pinned versions,
compute its cells, protect them, and write ``gold.export_<name>``, or nothing when the audit
fails. The same for ``lcdp export``, the exports DAG and the bench.

A product's module in ``jobs/exports/`` declares what it publishes (``PRODUCT``) and computes
its cells (``cells``); disclosure control lives in ``lcdp.exports``. Each build is one Delta
commit that carries its lineage (the sources' versions, its build id) and its disclosure
report, so the catalog reads both from the version it serves. Each build is audited together
with every earlier release of the product (``lcdp.exports.history`` keeps their cells), since
a consumer keeps what it once read.
"""

from __future__ import annotations

import json
import time
import uuid
from types import ModuleType

from deltalake import CommitProperties, write_deltalake
from pydantic import BaseModel

from lcdp import declarations, log
from lcdp.errors import ExportUnavailable
from lcdp.exports import history
from lcdp.exports.disclosure import DisclosureReport, protect
from lcdp.exports.product import Product
from lcdp.exports.publish import published
from lcdp.lake import catalog, engine, lineage
from lcdp.pipeline.outcome import RefreshMode, StepStatus
from lcdp.pipeline.resolve import module as import_module
from lcdp.settings import Settings

_log = log.get(__name__)


class ExportResult(BaseModel):
    """What one build did (``lcdp export``, the export DAG and the demo print it)."""

    product: str
    table: str
    status: StepStatus
    version: int | None
    rows: int
    suppressed_cells: int
    inputs: dict[str, int]
    disclosure: DisclosureReport | None = None
    seconds: float = 0.0


def names() -> list[str]:
    """Every product's name, in catalog order."""
    return declarations.product_names()


def module(name: str) -> ModuleType:
    """The product's module (``PRODUCT`` and ``cells``); ``UnknownProduct`` names the known ones."""
    return import_module(declarations.product(name).module)


def products() -> dict[str, ModuleType]:
    """Product name → its module, in catalog order."""
    return {name: module(name) for name in names()}


def declared(name: str) -> Product:
    """What the product publishes (its module's ``PRODUCT``)."""
    return module(name).PRODUCT


def build(settings: Settings, name: str, full: bool = False) -> ExportResult:
    """Bring ``gold.export_<name>`` up to date with its sources (nothing to do when none moved)."""
    started = time.perf_counter()
    mod = module(name)
    entry = declarations.product(name)
    product: Product = mod.PRODUCT
    inputs = {t: catalog.version(t, settings) for t in entry.sources}
    missing = [t for t, v in inputs.items() if v is None]
    if missing:
        scored = {m.scores.name for m in declarations.MODELS}
        how = "lcdp score" if any(t in scored for t in missing) else "lcdp fuse"
        raise ExportUnavailable(f"product {name!r} needs {', '.join(missing)}, not in the lake yet", hint=f"run `{how}`")
    previous = None if full else lineage.latest(entry.table, settings)
    # behind its sources only when their data changed (a compaction of a source is no reason
    # to build and audit the product again), or when the product now publishes other columns
    if (previous is not None and catalog.same_data(settings, previous.get("inputs") or {}, inputs)
            and _published_columns(settings, entry.table) == product.arrow_schema().names):
        report = previous.get("disclosure")
        return ExportResult(product=name, table=entry.table, status=StepStatus.UP_TO_DATE,
                            version=catalog.version(entry.table, settings),
                            rows=catalog.row_count(entry.table, settings) or 0,
                            suppressed_cells=previous.get("suppressed_cells", 0), inputs=inputs,
                            disclosure=DisclosureReport.model_validate(report) if report else None,
                            seconds=round(time.perf_counter() - started, 2))
    spark = engine.spark(settings)
    frames = {t: catalog.read(spark, t, settings, v) for t, v in inputs.items()}
    with catalog.staging(spark, settings, f"export-{name}") as stage:
        cells = mod.cells(frames, stage)
    report = None
    build_id = uuid.uuid4().hex
    if len(cells):
        # every release a consumer could have read, oldest first: the audit combines them
        builds = [e["build"] for e in reversed(lineage.entries(entry.table, settings)) if e.get("build")]
        earlier = history.load(settings, name, builds)
        protected, report = protect(cells, product.structure(), product.rules, history=earlier)
        history.record(settings, name, build_id, protected, product.structure())
        table = published(protected, product, getattr(mod, "finish", None))
    else:
        table = product.arrow_schema().empty_table()
    suppressed = report.suppressed if report else 0
    record = {"table": entry.table, "inputs": inputs, "mode": RefreshMode.FULL, "product": name, "build": build_id,
              "rows": table.num_rows, "suppressed_cells": suppressed,
              "disclosure": report.model_dump(mode="json", exclude={"audit": {"findings"}}) if report else None}
    path = catalog.table(entry.table).path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), table, mode="overwrite", schema_mode="overwrite",
                    commit_properties=CommitProperties(custom_metadata={lineage.KEY: json.dumps(record, default=str)}))
    version = catalog.version(entry.table, settings)
    result = ExportResult(product=name, table=entry.table, status=StepStatus.WRITTEN, version=version,
                          rows=table.num_rows, suppressed_cells=suppressed, inputs=inputs, disclosure=report,
                          seconds=round(time.perf_counter() - started, 2))
    _log.info("export.built", product=name, table=entry.table, version=version, rows=table.num_rows,
              suppressed=suppressed, seconds=result.seconds)
    return result


def _published_columns(settings: Settings, table: str) -> list[str]:
    handle = catalog.delta(table, settings)
    return [] if handle is None else [field.name for field in handle.schema().fields]


def export_summary(settings: Settings) -> dict[str, dict]:
    """Every product by name: its ``rows`` and ``suppressed_cells`` (and version), or, when it
    was never built, why (its sources are not in the lake yet)."""
    out: dict[str, dict] = {}
    for entry in declarations.PRODUCTS:
        record = lineage.latest(entry.table, settings)
        if record is None:
            missing = [t for t in entry.sources if catalog.version(t, settings) is None]
            why = f"needs {', '.join(missing)}" if missing else "not built yet (lcdp export)"
            out[entry.name] = {"rows": 0, "suppressed_cells": 0, "skipped": why}
            continue
        out[entry.name] = {"rows": record.get("rows", 0), "suppressed_cells": record.get("suppressed_cells", 0),
                           "version": record["version"], "table": entry.table}
    return out

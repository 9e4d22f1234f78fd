"""Fusion: bronze → silver → gold, incrementally and exactly once.

Each fused table of ``lcdp.declarations.TABLES`` is one *step* with declared inputs. A step
reads its inputs at their current versions (time travel pins them for the whole step),
compares them with the versions its last lineage record names (``lcdp.lake.lineage``), and

- does nothing when no input has new data (no commit at all);
- otherwise refreshes its table as its declaration says (``refresh``): a table of its own
  recomputes every row with its job's ``build(inputs)``; the tables that need it refresh
  incrementally (``lcdp.pipeline.silver``: the keys new uploads touch; ``lcdp.pipeline.gold``:
  the months that changed);
- recomputes everything when there is no usable record (first run, ``--full``, or the
  recorded input version can no longer be loaded);
- then records the input versions it read in a lineage commit, the step's watermark.

The Spark work lives in ``jobs/`` (functions of DataFrames); this is the edge that reads,
writes and records lineage. ``lcdp fuse``, the fusion DAG and the bench all run steps here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lcdp import declarations, log
from lcdp.errors import UnknownTable
from lcdp.lake import catalog, lineage
from lcdp.pipeline import gold, silver
from lcdp.pipeline.increments import read
from lcdp.pipeline.outcome import Refresh, RefreshMode, StepResult, StepStatus
from lcdp.pipeline.resolve import ensure_table, module
from lcdp.settings import Settings

_log = log.get(__name__)

#: a refresh: (settings, the table's declaration, its inputs' pinned versions, its last lineage
#: record or None) → what it did
RefreshStep = Callable[[Settings, declarations.Table, dict[str, int | None], dict | None], Refresh]


def full(settings: Settings, table: declarations.Table, inputs: dict[str, int | None], previous: dict | None) -> Refresh:
    """Every row again: the job's ``build`` over the inputs at their pinned versions, written
    as the table's new version in one commit."""
    job = module(table.job)
    frame = job.build({name: read(settings, name, version) for name, version in inputs.items()})
    catalog.overwrite_where(frame, table.name, settings, table.partition, None)
    return Refresh(RefreshMode.FULL, "every row")


#: the refreshes a table's declaration may name (``Table.refresh``)
REFRESHES: dict[str, RefreshStep] = {
    "full": full, "snapshot": silver.snapshot, "merchant_history": silver.merchant_history,
    "payments": silver.payments, "feature_months": gold.feature_months, "cube_months": gold.cube_months,
}


@dataclass(frozen=True)
class Step:
    """One fused table, its inputs and how it is refreshed."""

    table: str
    inputs: tuple[str, ...]
    declared: declarations.Table

    def run(self, settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> Refresh:
        return REFRESHES[self.declared.refresh](settings, self.declared, inputs, previous)


def _steps() -> list[Step]:
    """The declared tables as steps; a declaration naming an unknown refresh, or an input that
    is neither a bronze table nor a fused table before it, fails here, at import."""
    steps, fused = [], set()
    for table in declarations.TABLES:
        if table.refresh not in REFRESHES:
            raise ValueError(f"{table.name}: unknown refresh {table.refresh!r} (known: {', '.join(REFRESHES)})")
        late = [i for i in table.inputs if not i.startswith("bronze.") and i not in fused]
        if late:
            raise ValueError(f"{table.name} reads {', '.join(late)}, which no step before it writes")
        steps.append(Step(table.name, table.inputs, table))
        fused.add(table.name)
    return steps


STEPS: list[Step] = _steps()
STEP_NAMES = [s.table for s in STEPS]


def step(name: str) -> Step:
    found = next((s for s in STEPS if s.table == name), None)
    if found is None:
        raise UnknownTable(f"no fusion step writes {name!r} (steps: {', '.join(STEP_NAMES)})")
    return found


def _ensure_inputs(settings: Settings, step_: Step) -> None:
    """Inputs that were never written exist empty, so a partner that has not delivered yet
    reads as no rows rather than an error."""
    for name in step_.inputs:
        if name.startswith("bronze."):
            catalog.ensure(name, settings)
        else:
            ensure_table(settings, step(name).declared)


def run_step(settings: Settings, name: str, full: bool = False) -> StepResult:
    """Bring one silver or gold table up to date with its inputs."""
    step_ = step(name)
    started = time.perf_counter()
    _ensure_inputs(settings, step_)
    inputs = {i: catalog.version(i, settings) for i in step_.inputs}
    previous = None if full or catalog.delta(name, settings) is None else lineage.latest(name, settings)
    if previous is not None and not _inputs_moved(settings, previous["inputs"], inputs):
        return StepResult(table=name, status=StepStatus.UP_TO_DATE, version=catalog.version(name, settings),
                          rows=catalog.row_count(name, settings), inputs=inputs,
                          seconds=round(time.perf_counter() - started, 2))
    _log.info("fusion.step", table=name, inputs=inputs, previous=previous and previous["inputs"])
    refresh = step_.run(settings, inputs, previous)
    ensure_table(settings, step_.declared)  # nothing to write, first run
    data_version = catalog.version(name, settings)
    lineage.record(name, settings, data_version, inputs, mode=refresh.mode, scope=refresh.scope)  # type: ignore[arg-type]
    result = StepResult(table=name, status=StepStatus.WRITTEN, mode=refresh.mode,
                        version=catalog.version(name, settings), rows=catalog.row_count(name, settings),
                        scope=refresh.scope, inputs=inputs, seconds=round(time.perf_counter() - started, 2))
    _log.info("fusion.done", table=name, version=result.version, rows=result.rows, mode=refresh.mode,
              scope=refresh.scope, seconds=result.seconds)
    return result


def _inputs_moved(settings: Settings, before: dict[str, int | None], now: dict[str, int | None]) -> bool:
    """Whether any input has new data since the versions ``before`` names: a version moved by
    compaction or lineage commits alone is no new data (``lcdp fuse`` after ``lcdp maintain``
    is up to date)."""
    for name, version in now.items():
        old = before.get(name)
        if old == version:
            continue
        if old is None or version is None or version < old or catalog.data_changed(name, settings, old, version):
            return True
    return False


def run_all(settings: Settings, full: bool = False,
            progress: Callable[[StepResult], None] | None = None) -> list[StepResult]:
    """Every step in dependency order (silver before gold)."""
    results = []
    for step_ in STEPS:
        result = run_step(settings, step_.table, full=full)
        results.append(result)
        if progress is not None:
            progress(result)
    return results

"""Training and scoring as declared steps (``lcdp.declarations.MODELS``): the same for
``lcdp train``/``lcdp score``, the models DAG and the bench.

- **Training** pins the versions of the model's input tables and hands them to its package's
  ``train`` (which reads them at those versions, labels, fits, judges, logs the run with its
  inputs, registers the new version as ``challenger`` and runs the promotion gate).
- **Scoring** finds the champion, pins the versions of the table it scores and of the tables
  its scoring reads besides (``Scores.reads``), asks the model's
  ``scores`` for the rows, and writes them as the scores table's new version in one commit,
  followed by the lineage commit naming the input version and the model version.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel

from lcdp import declarations, log
from lcdp.errors import NothingNew, UnknownTable
from lcdp.lake import catalog, lineage
from lcdp.pipeline.outcome import RefreshMode
from lcdp.pipeline.resolve import module
from lcdp.settings import Settings

_log = log.get(__name__)


class ScoreResult(BaseModel):
    table: str
    version: int
    rows: int
    model: str
    model_version: int
    inputs: dict[str, int]
    seconds: float


def names() -> list[str]:
    """The models ``lcdp train`` and ``lcdp score`` take, in declaration order."""
    return declarations.model_names()


def trainer(name: str) -> ModuleType:
    """The model's training module (``train``, ``reproduce``, ``months_needed``)."""
    return module(f"{declarations.model(name).package}.train")


def months_needed(name: str) -> int:
    """Months of data the model's training needs."""
    return trainer(name).months_needed()


def train(settings: Settings, name: str, oracle_dir: Path | None = None, only_if_new: bool = False):
    """Train ``name`` on its inputs at their current versions, pinned for the whole run.

    ``only_if_new`` (what a scheduled run asks): raise ``NothingNew`` instead when the inputs
    hold the data the newest registered version was trained on, so no version is registered
    twice on the same data and the champion stays."""
    from models import tracking

    declared = declarations.model(name)
    versions = {table: catalog.version(table, settings) for table in declared.inputs}
    if only_if_new and (newest := tracking.newest_version(settings, declared.registered)) is not None:
        before = tracking.lake_inputs(settings, newest.run_id)
        if catalog.same_data(settings, before, versions):
            raise NothingNew(f"{name}: nothing new since version {newest.version} was trained on "
                             f"{_versions(before)}; the champion stays")
    with tracking.quiet_libraries():  # the libraries' notes a user of the platform cannot act on
        return trainer(name).train(settings, versions=versions, oracle_dir=oracle_dir)


def _versions(inputs: dict[str, int | None]) -> str:
    return ", ".join(f"{table} v{version}" for table, version in inputs.items())


def reproduce(settings: Settings, name: str, run_id: str):
    """Retrain a logged run of ``name`` from the table versions and parameters it logged."""
    from models import tracking

    with tracking.quiet_libraries():
        return trainer(name).reproduce(settings, run_id)


def score(settings: Settings, name: str, only_if_new: bool = False) -> ScoreResult:
    """The champion of ``name`` writes its scores table from the current features; refuses
    (``NoChampion``, saying how to get one) while there is no champion. ``only_if_new``: raise
    ``NothingNew`` instead when the scores were written by this champion from the same data."""
    from models import tracking

    declared = declarations.model(name)
    started = time.perf_counter()
    champion = tracking.champion(settings, declared.registered)
    inputs = {}
    for name in (declared.features, *declared.scores.reads):
        if (version := catalog.version(name, settings)) is None:
            raise UnknownTable(f"{name} has not been written yet: run `lcdp fuse`")
        inputs[name] = version
    model_version = int(champion.version)
    last = lineage.latest(declared.scores.name, settings) if only_if_new else None
    if (last is not None and last.get("model_version") == model_version
            and catalog.same_data(settings, last.get("inputs") or {}, inputs)):
        raise NothingNew(f"{declared.scores.name}: already scored by {declared.registered} v{model_version} "
                         f"from the same data ({_versions(inputs)})")
    with tracking.quiet_libraries():
        frame, scope = module(declared.scores.job).scores(settings, champion, inputs)
    table = declared.scores.name
    data_version = catalog.overwrite_where(frame, table, settings, declared.scores.partition, None)
    lineage.record(table, settings, data_version, inputs, mode=RefreshMode.FULL,  # type: ignore[arg-type]
                   scope=f"{scope}, {declared.registered} v{model_version}", model_version=model_version)
    result = ScoreResult(table=table, version=catalog.version(table, settings), rows=catalog.row_count(table, settings),
                         model=declared.registered, model_version=model_version, inputs=inputs,
                         seconds=round(time.perf_counter() - started, 1))
    _log.info("scoring.done", table=table, version=result.version, rows=result.rows, model_version=model_version)
    return result


def check_champions(settings: Settings, chosen: list[str]) -> None:
    """Refuse before any scoring starts when one of ``chosen`` has no champion."""
    from models import tracking

    for name in chosen:
        tracking.champion(settings, declarations.model(name).registered)

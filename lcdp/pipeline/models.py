"""Training and scoring as declared steps (``lcdp.declarations.MODELS``): the same for
``lcdp train``/``lcdp score``, the models DAG and the bench.

- **Training** pins the versions of the model's input tables and hands them to its package's
  ``train`` (which reads them at those versions, labels, fits, judges, logs the run with its
  inputs, registers the new version as ``challenger`` and runs the promotion gate).
- **Scoring** finds the champion, pins the version of the table it scores, asks the model's
  ``scores`` for the rows, and writes them as the scores table's new version in one commit,
  followed by the lineage commit naming the input version and the model version.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel

from lcdp import declarations, log
from lcdp.errors import UnknownTable
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


def train(settings: Settings, name: str, oracle_dir: Path | None = None):
    """Train ``name`` on its inputs at their current versions, pinned for the whole run."""
    declared = declarations.model(name)
    versions = {table: catalog.version(table, settings) for table in declared.inputs}
    return trainer(name).train(settings, versions=versions, oracle_dir=oracle_dir)


def reproduce(settings: Settings, name: str, run_id: str):
    """Retrain a logged run of ``name`` from the table versions and parameters it logged."""
    return trainer(name).reproduce(settings, run_id)


def score(settings: Settings, name: str) -> ScoreResult:
    """The champion of ``name`` writes its scores table from the current features; refuses
    (``NoChampion``, saying how to get one) while there is no champion."""
    from models import tracking

    declared = declarations.model(name)
    started = time.perf_counter()
    champion = tracking.champion(settings, declared.registered)
    version = catalog.version(declared.features, settings)
    if version is None:
        raise UnknownTable(f"{declared.features} has not been written yet: run `lcdp fuse`")
    inputs = {declared.features: version}
    frame, scope = module(declared.scores.job).scores(settings, champion, inputs)
    table = declared.scores.name
    model_version = int(champion.version)
    data_version = catalog.overwrite_where(frame, table, settings, declared.scores.partition, None)
    lineage.record(table, settings, data_version, inputs, mode=RefreshMode.FULL,  # type: ignore[arg-type]
                   scope=f"{scope}, {declared.registered} v{model_version}")
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

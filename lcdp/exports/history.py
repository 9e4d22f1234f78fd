"""Every release's protected cells, kept privately so the next build can be audited with them.

A consumer keeps what it once read (a downloaded file, a cached table), so each build of a
product is audited together with every release built before it (``disclosure.protect``'s
``history``). That audit needs each release's cells as the build saw them: the key, the true
value of the protected measure and whether the cell was published, primary or secondary. They
are written to ``lake/private/releases_<product>``, a Delta table that no route serves and no
export writes out, before the release itself is committed; the release's lineage names its
build, and only builds a release names count (a build that died before its commit is not a
release and is ignored).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from lcdp.exports.disclosure import Structure
from lcdp.settings import Settings

STATUS = "status"
BUILD = "build"


def path(settings: Settings, product: str):
    return settings.lake_root / "private" / f"releases_{product}"


def record(settings: Settings, product: str, build: str, protected: pd.DataFrame, structure: Structure) -> None:
    """Keep ``protected``'s cells (dimensions as text, the measure, the status) as ``build``'s."""
    columns = {BUILD: pa.array([build] * len(protected), pa.string())}
    for dim in structure.dimensions:
        values = protected[dim].astype(object)
        columns[dim] = pa.array([None if v is None or pd.isna(v) else str(v) for v in values], pa.string())
    columns[structure.measure] = pa.array(protected[structure.measure].astype(float).fillna(0.0), pa.float64())
    columns[STATUS] = pa.array(protected[STATUS].astype(str), pa.string())
    target = path(settings, product)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(target), pa.table(columns), mode="append", partition_by=[BUILD])


def load(settings: Settings, product: str, builds: list[str]) -> list[pd.DataFrame]:
    """The cells of each of ``builds`` that were kept, oldest first (as ``builds`` lists them)."""
    target = path(settings, product)
    if not builds or not (target / "_delta_log").is_dir():
        return []
    table = DeltaTable(str(target)).to_pyarrow_dataset().to_table().to_pandas()
    by_build = dict(tuple(table.groupby(BUILD, sort=False)))
    return [by_build[b].drop(columns=BUILD).reset_index(drop=True) for b in builds if b in by_build]

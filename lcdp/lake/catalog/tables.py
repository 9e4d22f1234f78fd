"""Every lake table's one name and one place.

Names are ``<layer>.<table>``: ``bronze.kona_transactions``, ``quarantine.kona_transactions``,
``silver.merchants``, ``gold.spending_cube``. Bronze and quarantine tables follow from the
partners' contracts (``schemas/``), silver and gold ones from ``lcdp.declarations``. Nobody
else builds a lake path: ask ``Table.path``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lcdp import declarations
from lcdp.contracts import QUARANTINE_SCHEMA, Contract, load_contracts
from lcdp.errors import UnknownTable
from lcdp.settings import Settings

LAYERS = ("bronze", "quarantine", "silver", "gold")


def _names(layer: str, names: list[str]) -> tuple[str, ...]:
    return tuple(n.split(".", 1)[1] for n in names if n.startswith(layer + "."))


_FUSED = [t.name for t in declarations.TABLES]
#: Conformed tables and fusion's gold tables (``lcdp.declarations.TABLES``).
SILVER_TABLES = _names("silver", _FUSED)
GOLD_TABLES = _names("gold", _FUSED)
#: Gold tables the models' champions write (``lcdp.declarations.MODELS``), and their monitoring.
SCORE_TABLES = _names("gold", [*(m.scores.name for m in declarations.MODELS), declarations.MONITORING.name])
#: Disclosure-controlled data products (``lcdp.declarations.PRODUCTS``).
EXPORT_TABLES = _names("gold", [p.table for p in declarations.PRODUCTS])


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
        for table_ in (bronze(contract), quarantine(contract)):
            out[table_.qualified] = table_
    for name in declarations.table_names():
        layer, short = name.split(".", 1)
        out[name] = Table(layer, short)
    return out


def table(name: str) -> Table:
    found = tables().get(name)
    if found is None:
        layer = name.split(".")[0]
        near = [t for t in tables() if t.startswith(layer + ".")] or list(tables())
        raise UnknownTable(f"no table {name!r} (known: {', '.join(near)})")
    return found

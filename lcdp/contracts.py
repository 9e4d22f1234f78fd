"""Dataset contracts: load the YAML files of ``schemas/`` into typed objects.

A contract is the single source of truth for a dataset: its columns and types drive parsing
(``lcdp.ingest.readers``), validation (``lcdp.ingest.validation``), pseudonymization (``identifier``), the
bronze and quarantine table schemas (``bronze_schema``) and the reference docs (``lcdp contracts``).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lcdp.errors import ContractError
from schemas import CONTRACTS_DIR, feed_problem, feeds

ColumnType = Literal["string", "integer", "float", "date", "month", "timestamp", "brn"]
IdentifierKind = Literal["business", "merchant", "card"]

#: Lineage columns every bronze row carries (docs/lake.md), in this order, after the data columns.
LINEAGE_FIELDS = [
    pa.field("_upload_id", pa.string(), nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_row_number", pa.int64(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_warnings", pa.list_(pa.string())),
]

#: Every quarantine table has this one schema: where the row came from, what it said, and why
#: it was refused. ``raw_record`` is the delivered text (malformed rows) or a JSON object of the
#: delivered field values, never parsed or pseudonymized.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("_upload_id", pa.string(), nullable=False),
        pa.field("_source_file", pa.string(), nullable=False),
        pa.field("_row_number", pa.int64(), nullable=False),
        pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("raw_record", pa.string()),
        pa.field("reasons", pa.list_(pa.string())),
    ]
)

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "brn": pa.string(),
    "integer": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "month": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: ColumnType
    required: bool = False
    pattern: str | None = None
    allowed: list[str] | None = None
    allowed_ref: str | None = Field(None, description="Name of a value list in reference.yaml.")
    min: float | int | str | None = None
    max: float | int | str | None = None
    format: str | None = Field(None, description="strptime format for date/month/timestamp.")
    timezone: str = "Asia/Seoul"
    identifier: IdentifierKind | None = Field(None, description="Pseudonymized at ingest.")
    bronze_name: str | None = None
    text: bool = Field(False, description="Free text: checked for spreadsheet formula prefixes.")
    coordinate: Literal["lat", "lon"] | None = None
    negative_when: str | None = Field(
        None, description="A negative value is allowed only when this column is present (refunds)."
    )

    @model_validator(mode="after")
    def _identifier_is_renamed(self) -> Column:
        if self.identifier and not self.bronze_name:
            raise ValueError(f"identifier column {self.name!r} needs a bronze_name")
        if self.type in ("date", "month", "timestamp") and not self.format:
            raise ValueError(f"column {self.name!r} of type {self.type} needs a format")
        return self

    @property
    def target_name(self) -> str:
        """The column's name in bronze (pseudonymized identifiers get a new name)."""
        return self.bronze_name or self.name

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


class Format(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["csv", "jsonl", "parquet", "ggdata_page"]
    encoding: str = "utf-8"
    delimiter: str = ","
    endpoint: str | None = None


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner: str
    dataset: str
    version: int
    description: str
    format: Format
    key: list[str]
    unique_across_deliveries: bool
    columns: list[Column]

    @model_validator(mode="after")
    def _key_columns_exist(self) -> Contract:
        names = {c.name for c in self.columns}
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"key columns {missing} are not columns of {self.name}")
        return self

    @property
    def name(self) -> str:
        """``<partner>_<dataset>``: the table name used in bronze and quarantine."""
        return f"{self.partner}_{self.dataset}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def bronze_key(self) -> list[str]:
        return [self.column(k).target_name for k in self.key]

    def bronze_schema(self) -> pa.Schema:
        """The bronze table's schema: typed data columns, then lineage."""
        data = [pa.field(c.target_name, c.arrow_type) for c in self.columns]
        return pa.schema(data + LINEAGE_FIELDS)


class Reference(BaseModel):
    program_start: dt.date
    sigun: dict[str, str]
    sigun_en: dict[str, str] = {}  # code -> English name, for the data dictionary
    industry: dict[str, dict[str, str]] = {}  # code -> {"ko": name, "en": name}, for display

    def values(self, name: str) -> list[str]:
        if name == "sigun":
            return list(self.sigun)
        raise ContractError(f"reference list {name!r} is not defined in reference.yaml")


@cache
def reference(directory: Path = CONTRACTS_DIR) -> Reference:
    return Reference.model_validate(yaml.safe_load((directory / "reference.yaml").read_text()))


@cache
def load_contracts(directory: Path = CONTRACTS_DIR) -> dict[tuple[str, str], Contract]:
    """All contracts, newest version per (partner, dataset)."""
    found: dict[tuple[str, str], Contract] = {}
    for path in sorted(directory.glob("*.v*.yaml")):
        try:
            contract = Contract.model_validate(yaml.safe_load(path.read_text()))
        except Exception as exc:
            raise ContractError(f"contract {path.name} is invalid: {exc}") from exc
        key = (contract.partner, contract.dataset)
        if path.name.split(".")[:2] != list(key):
            raise ContractError(f"contract {path.name} describes {key[0]}.{key[1]}: name the file after it")
        if key not in found or found[key].version < contract.version:
            found[key] = contract
    return found


def partners() -> dict[str, list[str]]:
    """Partner id → its dataset names (``schemas.feeds``: read from the contract files' names,
    which ``load_contracts`` checks against their contents)."""
    return feeds()


def get_contract(partner: str, dataset: str) -> Contract:
    """The contract for a partner's dataset, or a ContractError naming what is known."""
    problem = feed_problem(partner, dataset)
    if problem:
        raise ContractError(problem)
    return load_contracts()[(partner, dataset)]


def render_markdown() -> str:
    """Reference docs for every contract, generated from the contracts themselves."""
    lines = ["# Dataset contracts", ""]
    for contract in load_contracts().values():
        lines += [
            f"## {contract.partner} / {contract.dataset} (v{contract.version})",
            "",
            contract.description.strip(),
            "",
            f"Format: `{contract.format.kind}`"
            + (f", encoding `{contract.format.encoding}`" if contract.format.kind == "csv" else ""),
            f"Key: {', '.join(contract.key)}"
            + (" (unique across deliveries)" if contract.unique_across_deliveries else ""),
            "",
            "| column | type | required | rule | bronze |",
            "|---|---|---|---|---|",
        ]
        for c in contract.columns:
            rule = []
            if c.pattern:
                rule.append(f"matches `{c.pattern}`")
            if c.allowed:
                rule.append("one of " + ", ".join(c.allowed))
            if c.allowed_ref:
                rule.append(f"in reference list `{c.allowed_ref}`")
            if c.min is not None:
                rule.append(f"≥ {c.min}")
            if c.max is not None:
                rule.append(f"≤ {c.max}")
            if c.negative_when:
                rule.append(f"negative only with {c.negative_when}")
            if c.type == "brn":
                rule.append("BRN check digit")
            bronze = f"`{c.target_name}` (HMAC of {c.identifier} id)" if c.identifier else c.name
            lines.append(
                f"| {c.name} | {c.type} | {'yes' if c.required else ''} | {'; '.join(rule)} | {bronze} |"
            )
        lines.append("")
    return "\n".join(lines)

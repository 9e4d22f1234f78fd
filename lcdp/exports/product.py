"""What a data product publishes: one declaration that drives its disclosure control, the
export API's catalog, Delta Sharing and the data dictionary.

A product module (``jobs/exports/<name>.py``) declares a ``Product`` and a ``cells`` function
that turns the lake tables it reads into cells with their contributor counts; its entry in
``lcdp.declarations.PRODUCTS`` names the module and those tables (its sources). Everything
else (protecting, writing ``gold.export_<name>``, serving, documenting) reads the two.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from lcdp import declarations
from lcdp.exports.disclosure import ALL, DisclosureRules, Structure
from lcdp.lake.dictionary import Columns

ARROW_TYPES = {"string": pa.string(), "date": pa.date32(), "int": pa.int64(), "double": pa.float64()}


class ProductColumn(BaseModel):
    name: str
    type: Literal["string", "date", "int", "double"]
    title_ko: str
    title_en: str
    description: str = ""


class Product(BaseModel):
    """A disclosure-controlled data product (``gold.export_<name>``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str  # what `lcdp export`, `lcdp grants` and the API take
    title_ko: str
    title_en: str
    description_ko: str
    description_en: str
    grain: str
    dimensions: list[ProductColumn]  # the cell's key, margins included (``ALL``)
    attributes: list[ProductColumn] = []  # follow from the dimensions (a region's name)
    additive: dict[str, dict[str, str]]  # dimension with margins → where its margin cell lives (see Structure)
    measures: list[ProductColumn]  # published; all hidden in a suppressed cell
    protected_measure: str  # the additive measure the audit protects
    nonnegative: bool = True  # whether the protected measure is known to be ≥ 0 (not a forecast)
    margins: list[str]  # in words, for the catalog
    rules: DisclosureRules
    #: filters the API offers → the dimension column each filters
    filters: dict[str, str] = {"region": "sigun_cd", "industry": "industry_code", "month": "month"}

    @property
    def table(self) -> str:
        return declarations.product(self.name).table

    @property
    def columns(self) -> list[ProductColumn]:
        status = ProductColumn(name="status", type="string", title_ko="공개 여부", title_en="status",
                               description="published, or suppressed (every measure hidden) by disclosure control")
        return [*self.dimensions, *self.attributes, *self.measures, status]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in self.columns])

    def structure(self) -> Structure:
        return Structure(dimensions=tuple(c.name for c in self.dimensions), additive=self.additive,
                         measure=self.protected_measure, nonnegative=self.nonnegative)

    def dictionary_columns(self) -> Columns:
        """The product's columns for ``lcdp dictionary``."""
        spark_types = {"string": "string", "date": "date", "int": "bigint", "double": "double"}
        return Columns(", ".join(f"{c.name} {spark_types[c.type]}" for c in self.columns),
                       {c.name: f"{c.title_ko} / {c.title_en}" + (f": {c.description}" if c.description else "")
                        for c in self.columns})

    def catalog_entry(self, sources: tuple[str, ...]) -> dict:
        """The product's entry in the export API's catalog (``sources``: the tables it is built from)."""
        return {"name": self.name, "table": self.table, "title": {"ko": self.title_ko, "en": self.title_en},
                "description": {"ko": self.description_ko, "en": self.description_en}, "grain": self.grain,
                "margins": self.margins, "sources": list(sources), "margin_value": ALL,
                "rules": self.rules.describe() + [f"secondary suppression: every suppressed cell stays within "
                                                  f"±{self.rules.protection:.0%} of what the published cells allow"],
                "filters": self.filters,
                "columns": [{"name": c.name, "type": c.type, "title": {"ko": c.title_ko, "en": c.title_en},
                             "description": c.description} for c in self.columns]}


def region_column() -> ProductColumn:
    return ProductColumn(name="sigun_cd", type="string", title_ko="시군 코드", title_en="city/county code",
                         description=f"SIGUN_CD; {ALL}: every region; null: merchants the registry does not list")


def region_name_column() -> ProductColumn:
    return ProductColumn(name="sigun_name", type="string", title_ko="시군", title_en="city/county",
                         description="the region's Korean name (경기도 전체 for every region, 미상 for unknown)")


def industry_column() -> ProductColumn:
    return ProductColumn(name="industry_code", type="string", title_ko="업종 코드", title_en="industry code",
                         description=f"{ALL}: every industry; null: merchants the registry does not list")


def month_column() -> ProductColumn:
    return ProductColumn(name="month", type="date", title_ko="월", title_en="month", description="first day of the month")

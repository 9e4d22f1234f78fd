"""What a data product publishes: one declaration that drives its disclosure control, the
export API's catalog, Delta Sharing and the data dictionary.

A product module (``jobs/exports/<name>.py``) declares a ``Product`` and a ``cells`` function
that turns the lake tables it reads into cells with their contributor counts; its entry in
``lcdp.declarations.PRODUCTS`` names the module and those tables (its sources). Everything
else (protecting, writing ``gold.export_<name>``, serving, documenting) reads the two.

A coded column (region, industry, risk band…) declares its code list (``codes``: each code's
Korean and English name, the margin ``ALL`` included); a name column (``names``) beside it
holds each row's Korean name from that list, so a reader of a CSV needs no code book.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from lcdp import declarations
from lcdp.contracts import reference
from lcdp.exports.disclosure import ALL, DisclosureRules, Structure
from lcdp.lake.dictionary import Columns

ARROW_TYPES = {"string": pa.string(), "date": pa.date32(), "int": pa.int64(), "double": pa.float64()}

#: what a name column says for the province-wide total, every industry, and an unknown code
#: (null: merchants the registry does not list), in Korean and English
PROVINCE = {"ko": "경기도 전체", "en": "all of Gyeonggi-do"}
ALL_INDUSTRIES = {"ko": "전체 업종", "en": "all industries"}
UNKNOWN = {"ko": "미상", "en": "unknown"}
PROVINCE_NAME, ALL_INDUSTRIES_NAME, UNKNOWN_NAME = PROVINCE["ko"], ALL_INDUSTRIES["ko"], UNKNOWN["ko"]

#: a measure's unit → its name in Korean and English
UNITS: dict[str, dict[str, str]] = {
    "won": {"ko": "원 (정수)", "en": "Korean won (KRW), whole won"},
    "payments": {"ko": "건", "en": "payments"},
    "people": {"ko": "명", "en": "people"},
    "merchants": {"ko": "곳", "en": "merchants"},
    "businesses": {"ko": "곳", "en": "businesses"},
    "ratio": {"ko": "비율 (0–1)", "en": "ratio (0–1)"},
}
Unit = Literal["won", "payments", "people", "merchants", "businesses", "ratio"]


class ProductColumn(BaseModel):
    name: str
    type: Literal["string", "date", "int", "double"]
    title_ko: str
    title_en: str
    description: str = ""  # in English
    description_ko: str = ""
    unit: Unit | None = None
    #: code → its name ({"ko", "en"}), the margin ``ALL`` included
    codes: dict[str, dict[str, str]] = {}
    #: what a null in the column means ({"ko", "en"})
    null: dict[str, str] | None = None
    #: for a name column: the coded column whose Korean names it holds
    names: str | None = None

    def name_of(self, code: object) -> str | None:
        """The code's Korean name: ``UNKNOWN_NAME`` for null, the code itself when not listed."""
        if code is None or pd.isna(code):
            return (self.null or UNKNOWN)["ko"]
        return self.codes.get(str(code), {}).get("ko", str(code))


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
    #: releases consumers may read (the latest N builds; ``LCDP_PRODUCT_RELEASES`` overrides):
    #: two, so a consumer paging through a release while the next is built can finish
    releases_kept: int = Field(default=2, ge=1)
    #: filters the API offers → the dimension column each filters
    filters: dict[str, str] = {"region": "sigun_cd", "industry": "industry_code", "month": "month"}

    @property
    def table(self) -> str:
        return declarations.product(self.name).table

    @property
    def columns(self) -> list[ProductColumn]:
        """Every published column: each dimension followed by the name column that names it,
        the other attributes, the measures, and ``status``."""
        naming = {a.names: a for a in self.attributes if a.names}
        out: list[ProductColumn] = []
        for dim in self.dimensions:
            out += [dim, *([naming.pop(dim.name)] if dim.name in naming else [])]
        named = {c.name for c in out}
        return [*out, *(a for a in self.attributes if a.name not in named), *self.measures, status_column()]

    def column(self, name: str) -> ProductColumn:
        found = {c.name: c for c in self.columns}
        if name not in found:
            raise KeyError(f"product {self.name!r} has no column {name!r} (columns: {', '.join(found)})")
        return found[name]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in self.columns])

    def structure(self) -> Structure:
        return Structure(dimensions=tuple(c.name for c in self.dimensions), additive=self.additive,
                         measure=self.protected_measure, nonnegative=self.nonnegative)

    def dictionary_columns(self) -> Columns:
        """The product's columns for ``lcdp dictionary``."""
        from lcdp.exports import dictionary

        spark_types = {"string": "string", "date": "date", "int": "bigint", "double": "double"}
        return Columns(", ".join(f"{c.name} {spark_types[c.type]}" for c in self.columns),
                       {c.name: dictionary.column_comment(c) for c in self.columns})


def status_column() -> ProductColumn:
    return ProductColumn(
        name="status", type="string", title_ko="공개 여부", title_en="status",
        description="published, or suppressed by disclosure control: the cell's key stays, every measure is empty",
        description_ko="published(공개) 또는 suppressed(비공개): 비공개 칸은 구분 열만 남고 모든 값이 비어 있습니다",
        codes={"published": {"ko": "공개", "en": "published"},
               "suppressed": {"ko": "비공개 (공개 통제)", "en": "suppressed (disclosure control)"}})


def region_column() -> ProductColumn:
    names = reference()
    codes = {ALL: PROVINCE, **{code: {"ko": ko, "en": names.sigun_en.get(code, ko)} for code, ko in names.sigun.items()}}
    return ProductColumn(name="sigun_cd", type="string", title_ko="시군 코드", title_en="city/county code",
                         description=f"SIGUN_CD; {ALL}: every region; null: merchants the registry does not list",
                         description_ko=f"시군 코드(SIGUN_CD); {ALL}: 경기도 전체; 빈 값: 가맹점 등록부에 없는 가맹점",
                         codes=codes, null=UNKNOWN)


def region_name_column() -> ProductColumn:
    return ProductColumn(name="sigun_name", type="string", title_ko="시군", title_en="city/county",
                         description=f"the region's Korean name ({PROVINCE_NAME} for every region, {UNKNOWN_NAME} "
                                     "for unknown)",
                         description_ko=f"시군 이름 (전체는 {PROVINCE_NAME}, 알 수 없으면 {UNKNOWN_NAME})",
                         names="sigun_cd")


def industry_column() -> ProductColumn:
    codes = {ALL: ALL_INDUSTRIES, **reference().industry}
    return ProductColumn(name="industry_code", type="string", title_ko="업종 코드", title_en="industry code",
                         description=f"the merchant registry's industry code; {ALL}: every industry; null: merchants "
                                     "the registry does not list",
                         description_ko=f"가맹점 등록부의 업종 코드; {ALL}: 전체 업종; 빈 값: 가맹점 등록부에 없는 가맹점",
                         codes=codes, null=UNKNOWN)


def industry_name_column() -> ProductColumn:
    return ProductColumn(name="industry_name", type="string", title_ko="업종", title_en="industry",
                         description=f"the industry's Korean name ({ALL_INDUSTRIES_NAME} for every industry, "
                                     f"{UNKNOWN_NAME} for unknown)",
                         description_ko=f"업종 이름 (전체는 {ALL_INDUSTRIES_NAME}, 알 수 없으면 {UNKNOWN_NAME})",
                         names="industry_code")


def month_column() -> ProductColumn:
    return ProductColumn(name="month", type="date", title_ko="월", title_en="month", description="first day of the month",
                         description_ko="해당 월의 첫날")

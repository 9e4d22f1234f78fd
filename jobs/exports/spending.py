"""``spending``: local-currency spending by region × industry × month, with breakdowns by
age band, gender, hour band and weekday/weekend, and every margin a user expects."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame

from jobs.exports import contributors
from jobs.gold_spending_cube import HOUR_BANDS
from lcdp.contracts import load_contracts
from lcdp.exports.disclosure import ALL, DisclosureRules
from lcdp.exports.product import (
    Product, ProductColumn, industry_column, industry_name_column, month_column, region_column, region_name_column,
)

#: each breakdown (table) of the product, in Korean and English
BREAKDOWN_NAMES = {
    "total": {"ko": "합계 (시군 × 업종)", "en": "total (the region × industry table)"},
    "age_band": {"ko": "연령대", "en": "age band"},
    "gender": {"ko": "성별", "en": "gender"},
    "hour_band": {"ko": "시간대", "en": "hour band"},
    "day_type": {"ko": "주중/주말", "en": "weekday/weekend"},
    "fund": {"ko": "정책수당", "en": "policy fund"},
}
_PEOPLE = {"남": {"ko": "남성", "en": "men"}, "여": {"ko": "여성", "en": "women"},
           "70대이상": {"ko": "70대 이상", "en": "70 and over"}}
_FUNDS = {"청년기본소득": "youth basic income", "산후조리비": "postnatal care allowance",
          "재난기본소득": "disaster basic income"}


def category_codes() -> dict[str, dict[str, str]]:
    """Every category of every breakdown as the data holds it: the age bands, genders and
    policy funds the card partner's contract allows, the hour bands, weekday/weekend, none."""
    contract = load_contracts()[("kona", "transactions")]
    codes = {ALL: {"ko": "전체", "en": "every category (the total table)"}}
    for age in contract.column("age_band").allowed or []:
        decade = age.removesuffix("대")
        codes[age] = _PEOPLE.get(age, {"ko": age, "en": f"{decade}–{int(decade) + 9}" if decade.isdigit() else age})
    for gender in contract.column("gender").allowed or []:
        codes[gender] = _PEOPLE.get(gender, {"ko": gender, "en": gender})
    for label, first, last in HOUR_BANDS:
        codes[label] = {"ko": f"{first}~{last}시", "en": f"{first:02d}:00–{last:02d}:59 (Korean time)"}
    codes["weekday"] = {"ko": "주중", "en": "weekday"}
    codes["weekend"] = {"ko": "주말", "en": "weekend"}
    for fund in contract.column("policy_fund").allowed or []:
        codes[fund] = {"ko": fund, "en": _FUNDS.get(fund, fund)}
    codes["none"] = {"ko": "본인 부담 (정책수당 아님)", "en": "own money (no policy fund)"}
    return codes

PRODUCT = Product(
    name="spending",
    title_ko="지역화폐 소비 현황 (시군 × 업종 × 월)",
    title_en="Local-currency spending by city/county, industry and month",
    description_ko="경기지역화폐 결제액(환불 차감), 결제 건수, 이용자 수, 가맹점 수를 시군·업종·월별로 집계하고 "
                   "연령대, 성별, 시간대, 주중/주말, 정책수당별 분포를 함께 제공합니다. 개인이나 개별 가맹점을 알아볼 수 있는 "
                   "칸은 공개하지 않습니다.",
    description_en="Payments net of refunds, payment counts, distinct cardholders and distinct merchants per "
                   "city/county, industry and month, with the age band, gender, hour band, weekday/weekend and policy-fund "
                   "distribution by region and by industry. Cells that could single out a person or a merchant "
                   "are suppressed.",
    grain="month × table (breakdown) × category × region × industry; the breakdown tables are region × category "
          "and industry × category",
    dimensions=[
        month_column(),
        ProductColumn(name="breakdown", type="string", title_ko="분류", title_en="breakdown",
                      description="total (the region × industry table), age_band, gender, hour_band, day_type or fund "
                                  "(the policy fund paid with, none for own money)",
                      description_ko="total(시군 × 업종 표), age_band(연령대), gender(성별), hour_band(시간대), "
                                     "day_type(주중/주말), fund(정책수당; none은 본인 부담)",
                      codes=BREAKDOWN_NAMES),
        ProductColumn(name="category", type="string", title_ko="구분", title_en="category",
                      description=f"the breakdown's value as the data holds it ({', '.join(list(category_codes())[1:])}); "
                                  f"{ALL} in the total table; null: not reported",
                      description_ko=f"분류의 값 ({', '.join(list(category_codes())[1:])}); 합계 표에서는 {ALL}; "
                                     "빈 값: 알 수 없음",
                      codes=category_codes()),
        region_column(), industry_column(),
    ],
    attributes=[
        ProductColumn(name="breakdown_name", type="string", title_ko="분류명", title_en="breakdown name",
                      description="the breakdown's Korean name", description_ko="분류 이름", names="breakdown"),
        ProductColumn(name="category_name", type="string", title_ko="구분명", title_en="category name",
                      description="the category's Korean name", description_ko="구분 이름", names="category"),
        region_name_column(), industry_name_column(),
    ],
    additive={"sigun_cd": {}, "industry_code": {}, "category": {"breakdown": "total"}},
    measures=[
        ProductColumn(name="spending", type="int", title_ko="결제액(원)", title_en="spending (KRW)", unit="won",
                      description="payments net of their refunds", description_ko="환불을 차감한 결제액"),
        ProductColumn(name="transactions", type="int", title_ko="결제 건수", title_en="payments", unit="payments",
                      description="payments (refunds not counted)", description_ko="결제 건수 (환불 제외)"),
        ProductColumn(name="cardholders", type="int", title_ko="이용자 수", title_en="distinct cardholders",
                      unit="people", description="distinct cards that paid", description_ko="결제한 서로 다른 카드 수"),
        ProductColumn(name="merchants", type="int", title_ko="가맹점 수", title_en="distinct merchants",
                      unit="merchants", description="distinct merchants paid", description_ko="결제를 받은 서로 다른 가맹점 수"),
    ],
    protected_measure="spending",
    margins=["per month: every region of an industry, every industry of a region, and the province",
             "each breakdown: every category of a region or an industry is that cell of the total table"],
    rules=DisclosureRules(min_contributors={"cardholders": 5, "merchants": 3}, max_top_share=0.6, protection=0.2),
)


def cells(inputs: dict[str, DataFrame], stage=lambda df: df) -> pd.DataFrame:
    """The product's cells with their contributors (``top_share``: the largest merchant's share)."""
    return contributors.spending_cells(contributors.payments(inputs["silver.transactions"]), stage)

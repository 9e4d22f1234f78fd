"""``spending``: local-currency spending by region × industry × month, with breakdowns by
age band, gender, hour band and weekday/weekend, and every margin a user expects."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame

from jobs.exports import contributors
from lcdp.exports.disclosure import ALL, DisclosureRules
from lcdp.exports.product import (
    Product, ProductColumn, industry_column, month_column, region_column, region_name_column,
)

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
                                  "(the policy fund paid with, none for own money)"),
        ProductColumn(name="category", type="string", title_ko="구분", title_en="category",
                      description=f"the breakdown's value (20대, F, 11-13, weekend…); {ALL} in the total table; "
                                  "null: not reported"),
        region_column(), industry_column(),
    ],
    attributes=[region_name_column()],
    additive={"sigun_cd": {}, "industry_code": {}, "category": {"breakdown": "total"}},
    measures=[
        ProductColumn(name="spending", type="int", title_ko="결제액(원)", title_en="spending (KRW)",
                      description="payments net of their refunds"),
        ProductColumn(name="transactions", type="int", title_ko="결제 건수", title_en="payments"),
        ProductColumn(name="cardholders", type="int", title_ko="이용자 수", title_en="distinct cardholders"),
        ProductColumn(name="merchants", type="int", title_ko="가맹점 수", title_en="distinct merchants"),
    ],
    protected_measure="spending",
    margins=["per month: every region of an industry, every industry of a region, and the province",
             "each breakdown: every category of a region or an industry is that cell of the total table"],
    rules=DisclosureRules(min_contributors={"cardholders": 5, "merchants": 3}, max_top_share=0.6, protection=0.2),
)


def cells(inputs: dict[str, DataFrame], stage=lambda df: df) -> pd.DataFrame:
    """The product's cells with their contributors (``top_share``: the largest merchant's share)."""
    return contributors.spending_cells(contributors.payments(inputs["silver.transactions"]), stage)

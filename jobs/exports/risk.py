"""``risk``: the share of small businesses in each credit-risk band, by region × industry × month."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lcdp.exports.disclosure import ALL, DisclosureRules
from lcdp.exports.product import (
    Product, ProductColumn, industry_column, industry_name_column, month_column, region_column, region_name_column,
)

#: the bands' codes (the first letter of the credit-risk scores' band) and their names
RISK_BANDS = {
    "A": {"ko": "매우 낮음", "en": "very low"},
    "B": {"ko": "낮음", "en": "low"},
    "C": {"ko": "보통", "en": "moderate"},
    "D": {"ko": "높음", "en": "high"},
    "E": {"ko": "매우 높음", "en": "very high"},
    ALL: {"ko": "전체 등급", "en": "every band"},
}

#: the fewest businesses a published cell may have (the rule and the descriptions say the same)
MIN_BUSINESSES = 3

PRODUCT = Product(
    name="risk",
    title_ko="소상공인 신용위험 등급 분포 (시군 × 업종 × 월)",
    title_en="Small-business credit-risk bands by city/county, industry and month",
    description_ko="신용위험 모형이 매긴 향후 12개월 위험 등급(A 매우 낮음 ~ E 매우 높음)별 사업체 수와 비중을 "
                   f"시군·업종·월별로 집계합니다. 사업체가 {MIN_BUSINESSES}곳 미만인 칸은 공개하지 않습니다.",
    description_en="Businesses per 12-month credit-risk band (A very low … E very high) from the champion "
                   "credit-risk model, and their share of the cell's businesses, per city/county, industry and "
                   f"month. Cells of fewer than {MIN_BUSINESSES} businesses are suppressed.",
    grain="month × region × industry × risk band",
    dimensions=[
        month_column(), region_column(), industry_column(),
        ProductColumn(name="risk_band", type="string", title_ko="위험 등급", title_en="risk band",
                      description=f"A (very low) … E (very high); {ALL}: every band",
                      description_ko=f"A(매우 낮음) … E(매우 높음); {ALL}: 전체 등급", codes=RISK_BANDS),
    ],
    attributes=[region_name_column(), industry_name_column(),
                ProductColumn(name="risk_band_name", type="string", title_ko="위험 등급명", title_en="risk band name",
                              description="the band's Korean name (매우 낮음 … 매우 높음)",
                              description_ko="위험 등급 이름 (매우 낮음 … 매우 높음)", names="risk_band")],
    additive={"sigun_cd": {}, "industry_code": {}, "risk_band": {}},
    measures=[
        ProductColumn(name="businesses", type="int", title_ko="사업체 수", title_en="businesses", unit="businesses",
                      description="distinct businesses scored in the month", description_ko="해당 월에 평가된 사업체 수"),
        ProductColumn(name="share", type="double", title_ko="비중", title_en="share", unit="ratio",
                      description="businesses in the band over the cell's businesses (null when that total is "
                                  "suppressed: it would give the total away)",
                      description_ko="칸의 전체 사업체 중 해당 등급 사업체의 비중 (전체가 비공개이면 빈 값: 전체를 "
                                     "드러내므로)"),
    ],
    protected_measure="businesses",
    margins=["per month: every region, every industry, the province, and every band"],
    rules=DisclosureRules(min_contributors={"businesses": MIN_BUSINESSES}, max_top_share=None, protection=0.2),
)


def cells(inputs: dict[str, DataFrame], stage=lambda df: df) -> pd.DataFrame:
    """Businesses per band and cell, every margin counted from the businesses themselves."""
    # the band's code: the scores name it "A (very low)", the product's name column in Korean
    scores = inputs["gold.credit_risk_scores"].select(
        "business_key", "month", F.split(F.col("risk_band"), " ").getItem(0).alias("risk_band"))
    places = inputs["gold.merchant_month_features"].select("business_key", "month", "sigun_cd", "industry_code")
    rows = stage(scores.join(places, on=["business_key", "month"], how="left"))
    frames = []
    for dims in (["sigun_cd", "industry_code"], ["sigun_cd"], ["industry_code"], []):
        for band in (True, False):
            by = ["month", *dims, *(["risk_band"] if band else [])]
            part = rows.groupBy(*by).agg(F.countDistinct("business_key").cast("bigint").alias("businesses")).toPandas()
            for dim in ("sigun_cd", "industry_code", "risk_band"):
                if dim not in by:
                    part[dim] = ALL
            frames.append(part)
    return pd.concat(frames, ignore_index=True)


def finish(published: pd.DataFrame) -> pd.DataFrame:
    """Shares, from published counts only."""
    totals = published[published["risk_band"] == ALL][["month", "sigun_cd", "industry_code", "businesses"]]
    merged = published.merge(totals.rename(columns={"businesses": "_total"}), how="left",
                             on=["month", "sigun_cd", "industry_code"])
    merged["share"] = (merged["businesses"] / merged["_total"]).where(merged["_total"] > 0)
    return merged.drop(columns="_total")

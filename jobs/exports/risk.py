"""``risk``: the share of small businesses in each credit-risk band, by region × industry × month."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lcdp.exports.disclosure import ALL, DisclosureRules
from lcdp.exports.product import (
    Product, ProductColumn, industry_column, month_column, region_column, region_name_column,
)

PRODUCT = Product(
    name="risk",
    title_ko="소상공인 신용위험 등급 분포 (시군 × 업종 × 월)",
    title_en="Small-business credit-risk bands by city/county, industry and month",
    description_ko="신용위험 모형이 매긴 향후 12개월 위험 등급(A 매우 낮음 ~ E 매우 높음)별 사업체 수와 비중을 "
                   "시군·업종·월별로 집계합니다. 사업체가 3곳 미만인 칸은 공개하지 않습니다.",
    description_en="Businesses per 12-month credit-risk band (A very low … E very high) from the champion "
                   "credit-risk model, and their share of the cell's businesses, per city/county, industry and "
                   "month. Cells of fewer than 3 businesses are suppressed.",
    grain="month × region × industry × risk band",
    dimensions=[
        month_column(), region_column(), industry_column(),
        ProductColumn(name="risk_band", type="string", title_ko="위험 등급", title_en="risk band",
                      description=f"A (very low) … E (very high); {ALL}: every band"),
    ],
    attributes=[region_name_column()],
    additive={"sigun_cd": {}, "industry_code": {}, "risk_band": {}},
    measures=[
        ProductColumn(name="businesses", type="int", title_ko="사업체 수", title_en="businesses"),
        ProductColumn(name="share", type="double", title_ko="비중", title_en="share",
                      description="businesses in the band over the cell's businesses (null when that total is "
                                  "suppressed: it would give the total away)"),
    ],
    protected_measure="businesses",
    margins=["per month: every region, every industry, the province, and every band"],
    rules=DisclosureRules(min_contributors={"businesses": 3}, max_top_share=None, protection=0.2),
)


def cells(inputs: dict[str, DataFrame], stage=lambda df: df) -> pd.DataFrame:
    """Businesses per band and cell, every margin counted from the businesses themselves."""
    scores = inputs["gold.credit_risk_scores"].select("business_key", "month", "risk_band")
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

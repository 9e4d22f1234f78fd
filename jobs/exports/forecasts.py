"""``forecasts``: spending forecasts for the next three months by region × industry, with
their prediction intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.exports import contributors
from lcdp.exports.disclosure import ALL, DisclosureRules
from lcdp.exports.product import (
    Product, ProductColumn, industry_column, industry_name_column, month_column, region_column, region_name_column,
)

PRODUCT = Product(
    name="forecasts",
    title_ko="지역화폐 소비 예측 (시군 × 업종, 향후 3개월)",
    title_en="Local-currency spending forecasts by city/county and industry (next three months)",
    description_ko="소비 패턴 모형이 예측한 향후 3개월 결제액과 80% 예측 구간입니다. 시군·업종 예측을 더하면 "
                   "시군 예측이, 시군 예측을 더하면 경기도 전체 예측이 됩니다. 모형이 학습한 기간 중 한 달이라도 "
                   "공개되지 않는 칸의 예측은 공개하지 않습니다.",
    description_en="Expected spending for the next three months from the champion spending-pattern model, with "
                   "its 80 % prediction interval. Cells add up to their region, regions to the province, and "
                   "industries' totals are the sums over regions. A series with any month the model learnt from "
                   "that would be suppressed (too few cardholders or merchants, or one dominant merchant) is "
                   "suppressed in every forecast month.",
    grain="forecast month × region × industry",
    dimensions=[month_column(), region_column(), industry_column()],
    attributes=[region_name_column(), industry_name_column(),
                ProductColumn(name="origin", type="date", title_ko="기준월", title_en="origin",
                              description="the last month of data the forecast starts from",
                              description_ko="예측의 출발점이 된 마지막 데이터 월")],
    additive={"sigun_cd": {}, "industry_code": {}},
    measures=[
        ProductColumn(name="forecast", type="int", title_ko="예측 결제액(원)", title_en="forecast (KRW)", unit="won",
                      description="expected spending, rounded to the won; a margin is the sum of its rounded parts",
                      description_ko="예측 결제액 (원 단위 반올림); 합계는 반올림한 칸들의 합"),
        ProductColumn(name="lower", type="int", title_ko="예측 하한(원)", title_en="lower (KRW)", unit="won",
                      description="lower end of the 80 % interval, rounded to the won (null for industries' totals "
                                  "over regions)",
                      description_ko="80% 예측 구간의 하한 (원 단위 반올림; 업종별 경기도 합계는 빈 값)"),
        ProductColumn(name="upper", type="int", title_ko="예측 상한(원)", title_en="upper (KRW)", unit="won",
                      description="upper end of the 80 % interval, rounded to the won (null for industries' totals "
                                  "over regions)",
                      description_ko="80% 예측 구간의 상한 (원 단위 반올림; 업종별 경기도 합계는 빈 값)"),
    ],
    protected_measure="forecast",
    nonnegative=False,  # a reconciled forecast may dip below zero: the attacker cannot assume it does not
    margins=["per month: every industry of a region, every region (the province), and every region of an industry"],
    rules=DisclosureRules(min_contributors={"cardholders": 5, "merchants": 3}, max_top_share=0.6, protection=0.2),
)


def in_won(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Forecasts and their intervals rounded to the won, each region's forecast the sum of its
    rounded cells and the province's the sum of its regions: rounding each level on its own
    would leave margins a few won off their parts, which the audit refuses."""
    out = forecasts.copy()
    for column in ("forecast", "lower", "upper"):
        out[column] = out[column].round()
    for level, parts, by in (("region", "cell", ["month", "sigun_cd"]), ("province", "region", ["month"])):
        sums = out[out["level"] == parts].groupby(by, dropna=False)["forecast"].sum().rename("_sum").reset_index()
        merged = out.merge(sums, on=by, how="left")
        margin = (merged["level"] == level) & merged["_sum"].notna()
        out["forecast"] = merged["forecast"].where(~margin, merged["_sum"]).to_numpy()
    return out


def cells(inputs: dict[str, DataFrame], stage=lambda df: df) -> pd.DataFrame:
    """Forecast cells with the contributors of their series over the months the model saw.

    A forecast is a function of its series' whole history, so it is a release of that history:
    a series that had a month with too few cardholders or merchants, or one merchant above the
    share, is withheld in every month it forecasts (its contributors are its worst month's:
    the fewest cardholders, the fewest merchants, the largest share). Judged at the origin
    month alone, a forecast of a series whose earlier actual values were suppressed landed
    within 20 % of them."""
    forecasts = inputs["gold.spending_forecasts"].toPandas()
    if forecasts.empty:
        return forecasts
    forecasts = in_won(forecasts)
    forecasts["sigun_cd"] = forecasts["sigun_cd"].where(forecasts["level"] != "province", ALL)
    forecasts["industry_code"] = forecasts["industry_code"].where(forecasts["level"] == "cell", ALL)
    keep = ["month", "sigun_cd", "industry_code", "origin", "forecast", "lower", "upper"]
    forecasts = forecasts[keep]
    # industries' totals over regions: the sums of the reconciled cells
    by_industry = (forecasts[(forecasts["sigun_cd"] != ALL) & (forecasts["industry_code"] != ALL)]
                   .groupby(["month", "industry_code"], dropna=False)
                   .agg(forecast=("forecast", "sum"), origin=("origin", "first")).reset_index()
                   .assign(sigun_cd=ALL, lower=np.nan, upper=np.nan))
    cells_ = pd.concat([forecasts, by_industry[keep]], ignore_index=True)
    origin = cells_["origin"].max()
    seen = contributors.payments(inputs["silver.transactions"]).where(F.col("month") <= F.lit(origin))
    history = contributors.total_cells(seen, stage)
    stats = (history.groupby(["sigun_cd", "industry_code"], dropna=False)
             .agg(cardholders=("cardholders", "min"), merchants=("merchants", "min"), top_share=("top_share", "max"))
             .reset_index())
    out = cells_.merge(stats, on=["sigun_cd", "industry_code"], how="left")
    return out.fillna({"cardholders": 0, "merchants": 0, "top_share": 0.0})

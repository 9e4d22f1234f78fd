"""The dashboard's words in Korean (first) and English, and how it writes numbers.

Amounts follow Korean usage in Korean (만원 below 1억, then 억원: ``12.3억원``), and
international usage in English (``KRW 1.23 bn``); a chart's axis and legend use the same
units (``Text.money_unit``). A suppressed cell is written as suppressed (비공개, "withheld"),
never as a number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from lcdp.contracts import reference

LANGS = ("ko", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("경기지역화폐 정책 대시보드", "Gyeonggi local currency policy dashboard"),
    "overview": ("개요", "Overview"),
    "region": ("시군", "Region"),
    "risk": ("위험", "Risk"),
    "health": ("데이터 상태", "Data health"),
    "sign_in": ("로그인", "Sign in"),
    "sign_out": ("로그아웃", "Sign out"),
    "api_key": ("API 키", "API key"),
    "sign_in_help": ("플랫폼 관리자에게 받은 소비자 또는 관리자 API 키를 입력하세요.",
                     "Enter the consumer or admin API key the platform's operators gave you."),
    "cross_site": ("다른 사이트에서 보낸 요청은 받지 않습니다. 대시보드에서 직접 다시 시도하세요",
                   "A request sent from another site is refused; try again from the dashboard itself"),
    "bad_key": ("API 키가 맞지 않거나 만료되었거나 폐기되었습니다.", "The API key is wrong, expired or revoked."),
    "partner_key": ("대시보드는 소비자와 관리자 키로만 볼 수 있습니다.", "The dashboard is for consumer and admin keys."),
    "signed_in_as": ("로그인", "Signed in as"),
    "month": ("기준월", "Month"),
    "show": ("보기", "Show"),
    "spending": ("결제액", "Spending"),
    "transactions": ("결제 건수", "Payments"),
    "cardholders": ("이용자 수", "Cardholders"),
    "merchants": ("가맹점 수", "Merchants"),
    "yoy": ("전년 동월 대비", "Change over a year"),
    "province": ("경기도 전체", "Gyeonggi-do"),
    "map_spending": ("시군별 결제액", "Spending by city/county"),
    "map_yoy": ("시군별 결제액 증감률 (전년 동월 대비)", "Change in spending by city/county over a year"),
    "map_help": ("지도에서 시군을 누르면 그 시군의 화면이 열립니다.", "Click a city or county on the map to open it."),
    "top_regions": ("결제액 상위 시군", "Top regions by spending"),
    "bottom_regions": ("결제액 하위 시군", "Bottom regions by spending"),
    "top_industries": ("결제액 상위 업종", "Top industries by spending"),
    "bottom_industries": ("결제액 하위 업종", "Bottom industries by spending"),
    "industry": ("업종", "Industry"),
    "by_industry": ("업종별 결제액 추이", "Spending by industry over time"),
    "forecast_title": ("시군 전체 결제액과 향후 3개월 예측 (80% 구간)",
                       "The region's spending and the next three months' forecast (80 % interval)"),
    "actual": ("실적", "actual"),
    "forecast": ("예측", "forecast"),
    "lower": ("하한", "lower"),
    "upper": ("상한", "upper"),
    "no_forecast": ("예측 상품(forecasts)이 이 키에 허용되지 않았습니다.", "The forecasts product is not granted to this key."),
    "who": ("누가 쓰나: 연령대와 성별", "Who spends: age band and gender"),
    "age_band": ("연령대", "Age band"),
    "gender": ("성별", "Gender"),
    "when": ("언제 쓰나: 시간대와 주중/주말", "When: hour band and weekday/weekend"),
    "hour_band": ("시간대", "Hour band"),
    "day_type": ("주중/주말", "Weekday/weekend"),
    "fund": ("정책수당 결제 비중", "Policy-fund share"),
    "fund_share": ("정책수당 비중", "Policy-fund share"),
    "risk_map": ("시군별 고위험(D·E 등급) 사업체 비중", "Share of businesses in the high-risk bands (D, E) by region"),
    "risk_industry": ("업종별 위험 등급 분포", "Risk bands by industry"),
    "risk_trend": ("경기도 위험 등급 분포 추이", "Risk bands in the province over time"),
    "risk_band": ("위험 등급", "Risk band"),
    "share": ("비중", "Share"),
    "businesses": ("사업체 수", "Businesses"),
    "high_risk_share": ("고위험 비중", "High-risk share"),
    "band_backtest": ("위험 등급 검증: 검증 기간의 등급별 예측과 실제 사고율",
                      "Risk bands on the holdout: predicted against observed event rate"),
    "band_range": ("확률 구간", "Probability range"),
    "band_share": ("사업체-월 비중", "Share of business-months"),
    "band_events": ("사고", "Events"),
    "band_observed": ("실제 사고율", "Observed rate"),
    "band_predicted": ("예측 사고율", "Predicted rate"),
    "risk_scale": ("고위험(D·E 등급): 신용위험 모형 v{version}이 향후 12개월 안에 보증 사고나 폐업이 날 확률을 "
                   "{high_from} 이상으로 본 사업체입니다. 등급 구간은 학습 때 정해져 고정되며(마스터 스케일), D·E는 "
                   "학습 자료의 위험이 가장 높은 {share}에 해당합니다.",
                   "High risk (bands D and E): businesses credit-risk model v{version} gives a {high_from} or "
                   "higher probability of a guarantee default or closure in the next 12 months. The bands' "
                   "cut-offs are fixed when the model is trained (its master scale); D and E hold the riskiest "
                   "{share} of its training business-months."),
    "table_view": ("표로 보기", "Table view"),
    "download": ("CSV 내려받기", "Download CSV"),
    "suppressed": ("비공개", "withheld"),
    "suppressed_note": ("비공개: 개인이나 개별 가맹점이 드러날 수 있어 공개하지 않는 칸 (0이 아님)",
                        "Withheld: cells that could single out a person or a merchant (not zero)"),
    "not_granted": ("이 화면의 데이터 상품이 이 키에 허용되지 않았습니다", "This page's data product is not granted to this key"),
    "not_built": ("데이터 상품이 아직 만들어지지 않았습니다 (lcdp export).", "The data product has not been built yet (lcdp export)."),
    "admin_only": ("데이터 상태는 관리자만 볼 수 있습니다.", "Data health is for admins only."),
    "not_found": ("그런 시군이 없습니다.", "There is no such region."),
    "feeds": ("피드별 마지막 수신", "Every feed's last delivery"),
    "feed": ("피드", "Feed"),
    "last_delivery": ("마지막 수신", "Last delivery"),
    "uploads": ("수신 건수", "Deliveries"),
    "rows_in": ("수신 행", "Rows in"),
    "rows_quarantined": ("격리 행", "Quarantined"),
    "top_reasons": ("주요 격리 사유", "Top reasons"),
    "tables": ("테이블 최신성과 버전", "Table freshness and versions"),
    "table": ("테이블", "Table"),
    "rows": ("행 수", "Rows"),
    "version": ("버전", "Version"),
    "last_write": ("마지막 기록", "Last write"),
    "dag_runs": ("최근 DAG 실행", "The last DAG runs"),
    "dag": ("DAG", "DAG"),
    "state": ("상태", "State"),
    "started": ("시작", "Started"),
    "ended": ("종료", "Ended"),
    "no_dag_runs": ("기록된 DAG 실행이 없습니다.", "No DAG runs recorded."),
    "models": ("챔피언 모형과 지표 (오라클 대비)", "Champion models and their metrics beside the oracle"),
    "model": ("모형", "Model"),
    "alias": ("별칭", "Alias"),
    "metric": ("지표", "Metric"),
    "value": ("값", "Value"),
    "oracle": ("오라클", "Oracle"),
    "no_models": ("등록된 모형이 없습니다.", "No registered models."),
    "none": ("없음", "none"),
    "language": ("English", "한국어"),
    "data_from": ("데이터: 공개 통제를 거친 데이터 상품", "Data: the disclosure-controlled data products"),
    "interval": ("예측 구간", "interval"),
    "monitoring": ("시간에 따른 모형: 드리프트와 실현 성능", "Models over time: drift and realized performance"),
    "monitoring_none": ("아직 측정 결과가 없습니다. 챔피언이 점수를 매긴 뒤 모형 DAG의 monitor 작업(또는 lcdp monitor)이 측정합니다.",
                        "Nothing measured yet: the models DAG's monitor task (or lcdp monitor) measures the champions "
                        "once they have scored the lake."),
    "monitoring_about": ("{model} v{version}의 학습 기간은 {through}까지입니다. PSI는 각 월의 분포를 학습 기간과 비교합니다: "
                         "0.1 초과는 주의, 0.25 초과는 경보(모집단이 바뀜).",
                         "{model} v{version} trained on months up to {through}. PSI compares each month's population "
                         "with that training window: above 0.1 worth a look, above 0.25 flagged (the population has moved)."),
    "measured_at": ("측정: {when} (gold.model_monitoring v{version})", "Measured {when} (gold.model_monitoring v{version})"),
    "not_measured": ("{model}: 측정하지 못함: {why}", "{model}: not measured: {why}"),
    "psi_heatmap": ("월별 특성 PSI (학습 기간 대비)", "PSI of each feature by month, against the training window"),
    "psi_lines": ("점수와 경보 특성의 PSI 추이", "PSI of the score and the flagged features over time"),
    "psi": ("PSI", "PSI"),
    "feature": ("특성", "Feature"),
    "flag_state": ("상태", "State"),
    "flag_ok": ("정상", "ok"),
    "flag_watch": ("주의", "watch"),
    "flag_flagged": ("경보", "flagged"),
    "flagged_in": ("{month} 경보 (PSI > 0.25), 모형이 학습한 어느 달보다도 멀리 벗어남",
                   "Flagged in {month} (PSI > 0.25), further than any month the model learned from"),
    "flagged_within_in": ("{month} PSI > 0.25이지만 모형이 학습한 달에도 그만큼 달랐던 특성",
                          "Above 0.25 in {month}, but as far in months the model learned from"),
    "watch_in": ("{month} 주의 (PSI > 0.1)", "Watch in {month} (PSI > 0.1)"),
    "within_training": ("학습 기간의 달에도 최대 {value}", "its training months reached {value}"),
    "within_training_note": ("괄호 안의 값은 그 특성이 모형이 학습한 달들에서 이미 보인 최대 PSI입니다. 사업 기간이나 분기별 정책수당 지급처럼 "
                             "달력이나 나이를 따르는 특성은 학습 기간 안에서도 달마다 그만큼 다릅니다. 그보다 멀리 벗어난 경보가 모형이 보지 못한 변화입니다.",
                             "The value in brackets is the highest PSI the feature already had in the months the model "
                             "learned from: features that follow the calendar or the businesses' age (months active, "
                             "the quarterly policy-fund payouts) differ that much from month to month inside the "
                             "training window too. A flag beyond it is a change the model has not seen."),
    "none_flagged": ("{month}에는 모형이 학습한 달들보다 멀리 벗어난 경보(PSI > 0.25)가 없습니다.",
                     "In {month} no feature is flagged (PSI > 0.25) further than the months the model learned from."),
    "score_feature": ("점수 (모형 확률)", "score (the model's probability)"),
    "watch_line": ("주의 0.1", "watch 0.1"),
    "flag_line": ("경보 0.25", "flagged 0.25"),
    "training_end": ("학습 끝", "training ends"),
    "realized_auc": ("실현 AUC (12개월 결과가 완결된 월)", "Realized AUC (months whose 12-month outcomes are known)"),
    "calibration": ("보정: 예측 평균 확률과 실제 사건 발생률", "Calibration: mean predicted probability and the observed event rate"),
    "predicted": ("예측 평균", "mean predicted"),
    "observed": ("실제 발생률", "observed rate"),
    "period": ("기간", "Period"),
    "in_training": ("학습 기간 (표본 내)", "training window (in-sample)"),
    "after_training": ("학습 이후", "after training"),
    "in_sample_note": ("학습 기간 안의 월은 모형이 학습한 행이므로 표본 내 성능입니다; 학습 이후의 월이 실제 성능입니다.",
                       "Months inside the training window are rows the model learned from (in-sample); the months "
                       "after it are its realized performance."),
    "holdout_reference": ("학습 시 홀드아웃 {value}", "holdout at training {value}"),
    "no_realized_credit": ("12개월 결과가 완결된 월이 아직 없습니다.", "No month has its 12-month outcomes yet."),
    "realized_wape": ("실현 WAPE (실적이 도착한 예측 월)", "Realized WAPE (forecast months whose actuals have arrived)"),
    "wape_note": ("발행된 그대로의 예측(gold.spending_forecasts의 각 버전)을, 그 달의 실적이 도착한 뒤 셀(시군 × 업종)의 실적과 비교합니다.",
                  "Each forecast as it was published (every version of gold.spending_forecasts), against the "
                  "cells' (시군 × industry) actuals once its month has arrived."),
    "no_realized_wape": ("실적이 도착한 예측 월이 아직 없습니다.", "No forecast month has its actuals yet."),
    "horizon": ("예측 시점", "Horizon"),
    "months_ahead": ("{h}개월 앞", "{h} month(s) ahead"),
    "business_months": ("사업체-월", "Business-months"),
    "cells": ("셀", "Cells"),
}

#: a chart's money units per language, largest first: (won in one unit, its name); the same
#: steps as ``Text.won``
MONEY_UNITS: dict[str, tuple[tuple[float, str], ...]] = {
    "ko": ((1e8, "억원"), (1e4, "만원"), (1, "원")),
    "en": ((1e9, "KRW bn"), (1e6, "KRW M"), (1, "KRW")),
}


@dataclass(frozen=True)
class MoneyUnit:
    """The unit a chart draws amounts in: ``name`` for its titles, ``won`` won to one unit."""

    name: str
    won: float

    def __call__(self, amount: float | int | None) -> float | None:
        """``amount`` (won) in this unit; None (suppressed) stays None."""
        return None if amount is None else float(amount) / self.won

    def title(self, measure: str) -> str:
        """An axis or legend title: ``결제액 (억원)``."""
        return f"{measure} ({self.name})"


CATEGORIES: dict[str, tuple[str, str]] = {
    "M": ("남성", "men"), "F": ("여성", "women"), "남": ("남성", "men"), "여": ("여성", "women"),
    "weekday": ("주중", "weekday"), "weekend": ("주말", "weekend"), "none": ("본인 부담", "own money"),
}


class Text:
    """The words and number formats of one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "ko"
        self._i = LANGS.index(self.lang)

    def __call__(self, key: str) -> str:
        return WORDS[key][self._i]

    def won(self, amount: float | int | None) -> str:
        if amount is None:
            return self("suppressed")
        x = float(amount)
        if self.lang == "ko":
            if abs(x) >= 1e8:
                return f"{x / 1e8:,.1f}억원"
            if abs(x) >= 1e4:
                return f"{x / 1e4:,.0f}만원"
            return f"{x:,.0f}원"
        if abs(x) >= 1e9:
            return f"KRW {x / 1e9:,.2f} bn"
        if abs(x) >= 1e6:
            return f"KRW {x / 1e6:,.1f} M"
        return f"KRW {x:,.0f}"

    def money_unit(self, amounts: Iterable[float | int | None]) -> MoneyUnit:
        """The unit to draw ``amounts`` in: the largest of the language's units (억원 or 만원;
        KRW bn or M) that the largest amount reaches, so an axis reads 1.2 and 18, not 120M."""
        top = max((abs(float(a)) for a in amounts if a is not None), default=0.0)
        units = MONEY_UNITS[self.lang]
        won, name = next(((won, name) for won, name in units if top >= won), units[-1])
        return MoneyUnit(name, won)

    def count(self, n: int | None) -> str:
        return self("suppressed") if n is None else f"{int(n):,}"

    def percent(self, share: float | None, signed: bool = False) -> str:
        if share is None:
            return self("suppressed")
        return f"{share * 100:+.1f}%" if signed else f"{share * 100:.1f}%"

    def month(self, month: dt.date) -> str:
        return f"{month.year}년 {month.month}월" if self.lang == "ko" else month.strftime("%b %Y")

    def region(self, code: str | None) -> str:
        if code == "ALL":
            return self("province")
        if code is None:
            return "미상" if self.lang == "ko" else "unknown"
        name = reference().sigun.get(code, code)
        return name if self.lang == "ko" else f"{name} ({code})"

    def industry(self, code: str | None) -> str:
        if code is None:
            return "미상" if self.lang == "ko" else "unknown"
        names = reference().industry.get(code)
        return names.get(self.lang, code) if names else code

    def category(self, value: str | None) -> str:
        if value is None:
            return "미상" if self.lang == "ko" else "not reported"
        found = CATEGORIES.get(value)
        return found[self._i] if found else value

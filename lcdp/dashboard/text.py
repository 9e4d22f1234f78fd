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

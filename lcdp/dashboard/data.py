"""The dashboard's figures, read only from the disclosure-controlled export products
(``gold.export_spending``, ``_risk``, ``_forecasts``) at their latest version, by the same code
that serves them through the export API (``version_rows``): a figure on a page is the API's
figure for the same cell. A suppressed cell's measures are None here and "suppressed" on the
page, never zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from lcdp import declarations
from lcdp.contracts import reference
from lcdp.errors import NotBuilt
from lcdp.exports.disclosure import ALL
from lcdp.exports.rows import version_rows
from lcdp.lake import catalog
from lcdp.settings import Settings

HIGH_RISK = ("D", "E")  # the bands' first letters ("D (high)", "E (very high)")


@dataclass(frozen=True)
class Product:
    name: str
    version: int
    rows: pd.DataFrame


@lru_cache(maxsize=8)
def _frame(uri: str, version: int) -> pd.DataFrame:
    frame = version_rows(uri, version).to_pandas()
    published = frame["status"] == "published"
    for column in frame.columns:  # a suppressed cell's measures are None, whatever their type
        if pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(published & frame[column].notna(), None)
    return frame


def product(settings: Settings, name: str) -> Product:
    table = declarations.product(name).table
    version = catalog.version(table, settings)
    if version is None:
        raise NotBuilt(name)
    return Product(name, version, _frame(catalog.table(table).uri(settings), version))


def month_of(text: str | None, months: list[dt.date]) -> dt.date:
    """The month asked for (``YYYY-MM``) when the product has it, else its latest."""
    if text:
        try:
            wanted = dt.datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            wanted = None
        if wanted in months:
            return wanted
    return months[-1]


def year_before(month: dt.date) -> dt.date:
    return month.replace(year=month.year - 1)


def _cells(rows: pd.DataFrame, **where) -> pd.DataFrame:
    mask = pd.Series(True, index=rows.index)
    for column, value in where.items():
        mask &= rows[column].isna() if value is None else rows[column] == value
    return rows[mask]


def _one(rows: pd.DataFrame, **where) -> dict | None:
    found = _cells(rows, **where)
    return found.iloc[0].to_dict() if len(found) else None


def change(now: float | None, before: float | None) -> float | None:
    return None if now is None or not before else now / before - 1


@dataclass
class Ranked:
    code: str | None
    spending: float | None
    yoy: float | None


@dataclass
class Overview:
    version: int
    months: list[dt.date]
    month: dt.date
    headline: dict  # spending, transactions, cardholders, merchants (None: suppressed)
    yoy: float | None
    regions: list[Ranked]  # the 31 시군, in code order
    industries: list[Ranked]
    top_regions: list[Ranked] = field(default_factory=list)
    bottom_regions: list[Ranked] = field(default_factory=list)
    top_industries: list[Ranked] = field(default_factory=list)
    bottom_industries: list[Ranked] = field(default_factory=list)


def _ranked(items: list[Ranked], n: int) -> tuple[list[Ranked], list[Ranked]]:
    shown = sorted((r for r in items if r.spending is not None), key=lambda r: -r.spending)
    return shown[:n], shown[::-1][:n]


def overview(settings: Settings, month: str | None) -> Overview:
    p = product(settings, "spending")
    total = _cells(p.rows, breakdown="total", category=ALL)
    months = sorted(total["month"].unique())
    m = month_of(month, months)
    now, before = total[total["month"] == m], total[total["month"] == year_before(m)]
    province = _one(now, sigun_cd=ALL, industry_code=ALL) or {}
    earlier = _one(before, sigun_cd=ALL, industry_code=ALL) or {}
    headline = {k: province.get(k) for k in ("spending", "transactions", "cardholders", "merchants")}

    def ranked(code_column: str, other: str, codes) -> list[Ranked]:
        out = []
        for code in codes:
            cell = _one(now, **{code_column: code, other: ALL}) or {}
            was = _one(before, **{code_column: code, other: ALL}) or {}
            out.append(Ranked(code, cell.get("spending"), change(cell.get("spending"), was.get("spending"))))
        return out

    regions = ranked("sigun_cd", "industry_code", list(reference().sigun))
    industry_codes = sorted({c for c in now["industry_code"] if c != ALL}, key=lambda c: (c is None, c or ""))
    industries = ranked("industry_code", "sigun_cd", industry_codes)
    view = Overview(p.version, months, m, headline, change(province.get("spending"), earlier.get("spending")),
                    regions, industries)
    view.top_regions, view.bottom_regions = _ranked(regions, 5)
    view.top_industries, view.bottom_industries = _ranked([i for i in industries if i.code is not None], 3)
    return view


@dataclass
class Region:
    code: str
    version: int
    months: list[dt.date]
    month: dt.date
    by_industry: list[dict]  # month, industry_code, spending
    total: list[dict]  # month, spending
    forecasts: list[dict] | None  # month, forecast, lower, upper (None: not granted)
    breakdowns: dict[str, list[dict]]  # breakdown -> [category, spending, cardholders] at the month
    fund_share: list[dict]  # month, share (None: suppressed)


def _fund_share(rows: pd.DataFrame, total: float | None) -> float | None:
    """Spending paid with a policy fund over all spending: from the own-money cell when it is
    published, else from every fund's cell when all are."""
    if total is None or not len(rows):
        return None
    own = rows[rows["category"] == "none"]
    if len(own) and own.iloc[0]["spending"] is not None:
        return 1 - own.iloc[0]["spending"] / total if total else None
    funds = rows[rows["category"] != "none"]
    if len(funds) and funds["spending"].notna().all():
        return funds["spending"].sum() / total if total else None
    return None


def region(settings: Settings, code: str, month: str | None, with_forecasts: bool) -> Region:
    p = product(settings, "spending")
    mine = p.rows[p.rows["sigun_cd"] == code]
    total_rows = _cells(mine, breakdown="total", category=ALL)
    months = sorted(p.rows["month"].unique())
    m = month_of(month, months)
    by_industry = [{"month": r.month, "industry_code": r.industry_code, "spending": r.spending}
                   for r in total_rows[total_rows["industry_code"] != ALL].itertuples()]
    region_total = total_rows[total_rows["industry_code"] == ALL].sort_values("month")
    total = [{"month": r.month, "spending": r.spending} for r in region_total.itertuples()]
    forecasts = None
    if with_forecasts:
        f = product(settings, "forecasts").rows
        f = f[(f["sigun_cd"] == code) & (f["industry_code"] == ALL)].sort_values("month")
        forecasts = [{"month": r.month, "forecast": r.forecast, "lower": r.lower, "upper": r.upper}
                     for r in f.itertuples()]
    region_wide = mine[mine["industry_code"] == ALL]
    breakdowns = {}
    for b in ("age_band", "gender", "hour_band", "day_type", "fund"):
        cells = region_wide[(region_wide["breakdown"] == b) & (region_wide["month"] == m)]
        cells = cells.sort_values("category", na_position="last")
        breakdowns[b] = [{"category": r.category, "spending": r.spending, "cardholders": r.cardholders}
                         for r in cells.itertuples()]
    funds = region_wide[region_wide["breakdown"] == "fund"]
    spent = {r["month"]: r["spending"] for r in total}
    fund_share = [{"month": mo, "share": _fund_share(funds[funds["month"] == mo], spent.get(mo))}
                  for mo in sorted(spent)]
    return Region(code, p.version, months, m, by_industry, total, forecasts, breakdowns, fund_share)


@dataclass
class Risk:
    version: int
    months: list[dt.date]
    month: dt.date
    bands: list[str]
    regions: list[dict]  # sigun_cd, high_share, businesses
    industries: list[dict]  # industry_code, risk_band, share
    trend: list[dict]  # month, risk_band, share
    #: what the high-risk bands mean: the champion's version and where its master scale puts D
    scale: dict | None = None  # version, high_from (probability), high_share_at_training


def _high_share(cells: pd.DataFrame) -> float | None:
    """The share of a cell's businesses in the high-risk bands; None when any count it needs
    is suppressed (a published band beside a suppressed one would be a guess)."""
    everyone = cells[cells["risk_band"] == ALL]
    high = cells[cells["risk_band"].map(lambda band: band != ALL and str(band)[:1] in HIGH_RISK)]
    if not len(everyone) or everyone.iloc[0]["businesses"] is None or high["businesses"].isna().any():
        return None
    n = everyone.iloc[0]["businesses"]
    return float(high["businesses"].sum()) / n if n else None


def risk(settings: Settings, month: str | None) -> Risk:
    p = product(settings, "risk")
    rows = p.rows
    months = sorted(rows["month"].unique())
    m = month_of(month, months)
    now = rows[rows["month"] == m]
    bands = sorted(b for b in rows["risk_band"].dropna().unique() if b != ALL)
    regions = []
    for code in reference().sigun:
        cells = now[(now["sigun_cd"] == code) & (now["industry_code"] == ALL)]
        everyone = cells[cells["risk_band"] == ALL]
        regions.append({"sigun_cd": code, "high_share": _high_share(cells),
                        "businesses": everyone.iloc[0]["businesses"] if len(everyone) else None})
    by_industry = now[(now["sigun_cd"] == ALL) & (now["industry_code"] != ALL) & (now["risk_band"] != ALL)]
    industries = [{"industry_code": r.industry_code, "risk_band": r.risk_band, "share": r.share}
                  for r in by_industry.sort_values(["industry_code", "risk_band"], na_position="last").itertuples()]
    province = rows[(rows["sigun_cd"] == ALL) & (rows["industry_code"] == ALL) & (rows["risk_band"] != ALL)]
    trend = [{"month": r.month, "risk_band": r.risk_band, "share": r.share}
             for r in province.sort_values(["month", "risk_band"]).itertuples()]
    return Risk(p.version, months, m, bands, regions, industries, trend, high_risk_scale(settings))


def high_risk_scale(settings: Settings) -> dict | None:
    """Where the champion's master scale starts the high-risk bands, and the share of its
    training business-months they were cut to hold; None without a champion."""
    from models.credit_risk.score import scorecard_of

    found = scorecard_of(settings)
    if found is None:
        return None
    version, scorecard = found
    limits = [0.0, *scorecard.bands.values()]
    first = next(k for k, name in enumerate(scorecard.bands) if name[:1] in HIGH_RISK)
    shares = scorecard.band_shares
    return {"version": version, "high_from": limits[first],
            "high_share_at_training": sum(v for name, v in shares.items() if name[:1] in HIGH_RISK) / sum(shares.values())}

"""From a probability to what a loan officer reads: scorecard points, a risk band, and the
top reasons in words.

Points follow the usual scorecard scaling: ``base_points`` at ``base_odds`` good:bad odds,
and ``points_to_double`` more points each time the odds of staying good double (600 points at
50:1 and 20 points to double by default). Reasons come from XGBoost's own per-row feature
contributions (``pred_contribs``): the features that pushed this business's log-odds of an
event up the most, each said with its value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from lcdp.contracts import reference


#: the master scale's bands and the share of the training business-months each is cut to hold
BAND_SHARES: dict[str, float] = {"A (very low)": 0.25, "B (low)": 0.30, "C (moderate)": 0.25, "D (high)": 0.12,
                                 "E (very high)": 0.08}


class ScorecardConfig(BaseModel):
    base_points: float = 600.0
    base_odds: float = 50.0  # good:bad
    points_to_double: float = 20.0
    #: the master scale: risk band → highest 12-month probability of an event in it (the last
    #: band takes the rest). Training learns it (``master_scale``) and keeps it in the run's
    #: configuration, so a model version bands with the cut-offs it was trained with, month
    #: after month; these are the defaults of a scorecard that was never trained.
    bands: dict[str, float] = Field(default_factory=lambda: {
        "A (very low)": 0.01, "B (low)": 0.03, "C (moderate)": 0.07, "D (high)": 0.15, "E (very high)": 1.0})
    #: the share of the training business-months each band is cut to hold
    band_shares: dict[str, float] = Field(default_factory=lambda: dict(BAND_SHARES))
    reasons: int = 3


def master_scale(probability: np.ndarray, shares: dict[str, float]) -> dict[str, float]:
    """The bands' cut-offs: the probabilities below which the training rows reach each band's
    cumulative share, rounded to two significant digits (a scale people quote: "B: 2.1 % to
    4.8 %"). Cut-offs that would coincide after rounding keep one thousandth apart, so no
    band is empty by construction."""
    names = list(shares)
    total = sum(shares.values())
    cumulative = np.cumsum([shares[n] / total for n in names])[:-1]
    cuts = [float(f"{q:.2g}") for q in np.quantile(np.asarray(probability, dtype=float), cumulative)]
    for k in range(1, len(cuts)):
        cuts[k] = max(cuts[k], round(cuts[k - 1] + 0.001, 6))
    return {**dict(zip(names[:-1], cuts)), names[-1]: 1.0}


def band_ranges(config: ScorecardConfig) -> dict[str, tuple[float, float]]:
    """Each band's probability range [low, high)."""
    limits = [0.0, *config.bands.values()]
    return {name: (limits[k], limits[k + 1]) for k, name in enumerate(config.bands)}


def points(probability: np.ndarray, config: ScorecardConfig) -> np.ndarray:
    """Scorecard points (higher = safer), rounded to whole points."""
    p = np.clip(np.asarray(probability, dtype=float), 1e-9, 1 - 1e-9)
    factor = config.points_to_double / math.log(2)
    offset = config.base_points - factor * math.log(config.base_odds)
    return np.round(offset + factor * np.log((1 - p) / p)).astype(int)


def bands(probability: np.ndarray, config: ScorecardConfig) -> np.ndarray:
    names = list(config.bands)
    limits = np.array(list(config.bands.values())[:-1])
    return np.array(names, dtype=object)[np.searchsorted(limits, np.asarray(probability, dtype=float), side="left")]


def _pct(v: float) -> str:
    return f"{abs(v) * 100:.0f} %"


def _won(v: float) -> str:
    return f"₩{v:,.0f}"


def _region(v: object) -> str:
    return f"trades in {reference().sigun.get(str(v), str(v))} ({v})"


#: feature → how to say its value; what is missing says itself (``MISSING``).
PHRASES: dict[str, Callable[[float], str]] = {
    "sales_growth_3m": lambda v: f"sales {'fell' if v < 0 else 'rose'} {_pct(v)} over 3 months",
    "sales_growth_1m": lambda v: f"sales {'fell' if v < 0 else 'rose'} {_pct(v)} on the month before",
    "sales_volatility_6m": lambda v: f"monthly sales swing {_pct(v)} around their 6-month average",
    "sales_amount": lambda v: f"local-currency sales of {_won(v)} this month",
    "payments": lambda v: f"{v:,.0f} card payments this month",
    "customers": lambda v: f"{v:,.0f} paying customers this month",
    "repeat_customer_ratio": lambda v: f"{_pct(v)} of customers came back within 3 months",
    "policy_fund_share": lambda v: f"{_pct(v)} of sales paid from policy funds",
    "months_active": lambda v: f"{v:.0f} months of activity on record",
    "credit_grade": lambda v: f"bureau grade {v:.0f} (1 best, 10 worst)",
    "credit_grade_avg_12m": lambda v: f"bureau grade averaged {v:.1f} over 12 months (1 best, 10 worst)",
    "delinquency_count": lambda v: f"{v:.0f} delinquencies at the bureau",
    "delinquency_count_avg_12m": lambda v: f"{v:.1f} delinquencies a month over 12 months",
    "delinquency_days": lambda v: f"{v:.0f} days past due at the bureau",
    "loan_balance": lambda v: f"loans of {_won(v)} outstanding",
    "years_in_business": lambda v: f"{v:.1f} years in business",
    "guarantees_active": lambda v: f"{v:.0f} active credit guarantee(s)",
    "guarantee_amount_active": lambda v: f"{_won(v)} under active guarantees",
    "guarantee_defaults_to_date": lambda v: f"{v:.0f} guarantee default(s) to date",
    "insured_employees": lambda v: f"{v:.0f} insured employees",
    "hires": lambda v: f"{v:.0f} hires this month",
    "separations": lambda v: f"{v:.0f} staff departures this month",
    "separations_avg_12m": lambda v: f"{v:.1f} staff departures a month over 12 months",
    "job_postings": lambda v: f"{v:.0f} job postings this month",
    "employees_change_3m": lambda v: f"staff {'down' if v < 0 else 'up'} {abs(v):.0f} over 3 months",
    "sigun_cd": _region,
    "industry_code": lambda v: f"industry {v}",
    "registry_status": lambda v: f"registry status {v}",
}
MISSING: dict[str, str] = {
    "credit_grade": "no bureau report in the last 3 months",
    "insured_employees": "no employment report in the last 3 months",
    "sales_growth_3m": "under 6 months of sales history",
    "sales_volatility_6m": "under 3 months of sales history",
    "registry_status": "not yet in the merchant registry",
}


def phrase(feature: str, value: object) -> str:
    """One feature's value in words; a feature we do not know is named as it is."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING.get(feature, f"{feature} not reported")
    say = PHRASES.get(feature)
    if say is None:
        return f"{feature} = {value}"
    return say(float(value)) if isinstance(value, (int, float, np.number)) else say(value)  # type: ignore[arg-type]


def reason_codes(contributions: pd.DataFrame, features: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """Per row, the ``top`` features that raised its risk most, in words (fewer when fewer
    raised it at all)."""
    values = contributions.drop(columns=["bias"], errors="ignore")
    names = np.array(values.columns)
    order = np.argsort(-values.to_numpy(), axis=1)[:, :top]
    out: list[list[str]] = []
    for row, picks in enumerate(order):
        raised = [names[k] for k in picks if values.iat[row, k] > 0]
        out.append([phrase(f, features[f].iat[row]) for f in raised])
    return out

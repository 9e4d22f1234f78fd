"""The synthetic spending process's day shape (the generator's own, not a fact of the calendar)."""

from __future__ import annotations

import datetime as dt

from lcdp.calendar import POLICY_FUND_MONTHS


def day_factor(day: dt.date, holidays: list[dt.date]) -> float:
    """Spending multiplier of a day: weekday shape, with peaks in the days before 설날/추석."""
    factor = (0.95, 0.95, 1.0, 1.0, 1.15, 1.25, 0.9)[day.weekday()]
    for holiday in holidays:
        delta = (holiday - day).days
        if 1 <= delta <= 5:
            factor *= 2.0  # shopping before the holiday
        elif -2 <= delta <= 0:
            factor *= 0.5  # the holiday itself: shops closed, people away
    if day.month in POLICY_FUND_MONTHS and day.day <= 20:
        factor *= 1.15
    return factor

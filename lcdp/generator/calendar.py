"""Korean calendar facts the spending process follows: holidays and policy-fund payouts."""

from __future__ import annotations

import datetime as dt

#: 설날 and 추석 (first day of each three-day holiday), 2019–2027.
HOLIDAYS = {
    2019: ("2019-02-04", "2019-09-12"),
    2020: ("2020-01-24", "2020-09-30"),
    2021: ("2021-02-11", "2021-09-20"),
    2022: ("2022-01-31", "2022-09-09"),
    2023: ("2023-01-21", "2023-09-28"),
    2024: ("2024-02-09", "2024-09-16"),
    2025: ("2025-01-28", "2025-10-05"),
    2026: ("2026-02-16", "2026-09-24"),
    2027: ("2027-02-06", "2027-09-14"),
}

#: Youth basic income (청년기본소득) is paid quarterly, in these months.
POLICY_FUND_MONTHS = (1, 4, 7, 10)


def holiday_dates() -> list[dt.date]:
    return [dt.date.fromisoformat(d) for pair in HOLIDAYS.values() for d in pair]


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

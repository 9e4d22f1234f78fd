"""Korean calendar facts spending follows: 설날/추석 holidays and policy-fund payout months
(the generator draws payments by them; the spending model forecasts with them)."""

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

#: A generated world's own calendar: a history starts in ``DEFAULT_START`` and, when it is too
#: long to end by ``DEFAULT_LAST``, starts early enough to end there. Fixed, never today's
#: date, so a seed gives the same world (and the same figures) whenever it is generated.
DEFAULT_START = "2023-01"
DEFAULT_LAST = "2025-12"

#: Youth basic income (청년기본소득) is paid quarterly, in these months.
POLICY_FUND_MONTHS = (1, 4, 7, 10)


def holiday_dates() -> list[dt.date]:
    return [dt.date.fromisoformat(d) for pair in HOLIDAYS.values() for d in pair]


def holiday_days(year: int, month: int) -> tuple[int, int]:
    """In one month: (days in the five days before 설날/추석, days of the holidays themselves
    (the first day and the two after)), the calendar features a forecaster uses."""
    import calendar as pycal

    before = during = 0
    for day in range(1, pycal.monthrange(year, month)[1] + 1):
        date = dt.date(year, month, day)
        for holiday in holiday_dates():
            delta = (holiday - date).days
            before += 1 <= delta <= 5
            during += -2 <= delta <= 0
    return before, during


def month_index(month: str) -> int:
    """``YYYY-MM`` as a count of months, so months can be added and subtracted."""
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def month_name(index: int) -> str:
    return f"{index // 12}-{index % 12 + 1:02d}"


def default_start(months: int) -> str:
    """The first month of a generated history of ``months``: ``DEFAULT_START``, or for a
    history too long to end by ``DEFAULT_LAST`` from there, the month from which it does
    (36 months: 2023-01 to 2025-12; 72 months: 2020-01 to 2025-12)."""
    return month_name(min(month_index(DEFAULT_START), month_index(DEFAULT_LAST) - months + 1))

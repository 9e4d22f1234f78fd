"""What the platform knows at a forecast's origin that a univariate forecaster does not, turned
into a *structural* forecast of every series.

A cell's spending is the sum of its businesses' spending. At the origin the lake knows which
businesses trade in each cell (their payments and the registry), how much each one sells in a
typical month once the calendar is taken out, and how many businesses close in a month. So:

    structural(cell, T) = calendar(T) · Σ_{b trading in the cell at the origin} level_b · trend_b · survival^h · k_cell

- ``calendar`` is a trading-day regression (as statistics offices adjust retail sales): the
  log of a chain index of like-for-like spending (the same businesses in consecutive months)
  on the month's shares of weekdays, Fridays, Saturdays and Sundays, the days before and of
  설날/추석, the policy-fund payout months, and a linear trend. It is fitted on the months up to
  the origin and known for any month ahead.
- ``level_b`` is the business's spending per month over the last ``window`` months (from its
  first payment in the window), each month divided by its calendar index; it is carried from
  the window's middle month to the target by the business's own trend (its growth over the
  last two years, shrunk towards none by how sure the estimate is: a business's spending
  drifts as its fortunes do, and a year of noisy months says only so much about it).
- ``survival`` is one minus the share of trading businesses that stopped trading in a month
  (no payment that month nor the next), over the last year before the origin.
- ``k_cell`` reconciles the business-level table with the cube (payments the features table
  attributes to another cell of a business with shops in two places): the cube's spending over
  the window divided by the businesses' spending over it.

Regions and the province are sums of their cells. The forecaster (``train``) learns what this
leaves out (openings, each cell's drift) as a correction of the log ratio.
"""

from __future__ import annotations

import calendar as pycal
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lcdp.calendar import POLICY_FUND_MONTHS, holiday_days
from models.spending_pattern.series import PROVINCE

#: the calendar regression's terms (besides the intercept and the trend)
CALENDAR_TERMS = ("monday_tuesday", "friday", "saturday", "sunday", "pre_holiday", "holiday", "policy_month")


def calendar_terms(month: pd.Timestamp) -> np.ndarray:
    """A month's share of days that are each kind (the regression's regressors)."""
    days = pycal.monthrange(month.year, month.month)[1]
    weekdays = [dt.date(month.year, month.month, d).weekday() for d in range(1, days + 1)]
    before, during = holiday_days(month.year, month.month)
    return np.array([(weekdays.count(0) + weekdays.count(1)) / days, weekdays.count(4) / days,
                     weekdays.count(5) / days, weekdays.count(6) / days, before / days, during / days,
                     float(month.month in POLICY_FUND_MONTHS)])


@dataclass
class Book:
    """The businesses' monthly spending as a matrix (businesses × the series' months), each
    business's cell, and the cube's cells: everything the structural forecast reads."""

    months: list[pd.Timestamp]
    sales: np.ndarray  # businesses × months, KRW (0 where nothing was sold)
    cell: np.ndarray  # the business's cell id (``41/<sigun>/<industry>``)
    cells: pd.DataFrame  # the cube's cells wide: cell ids × months (KRW)

    @classmethod
    def of(cls, merchants: pd.DataFrame, Y_df: pd.DataFrame, cell_ids: list[str]) -> Book:
        months = sorted(pd.Timestamp(m) for m in Y_df["ds"].unique())
        placed = merchants[merchants["sigun_cd"].notna() & merchants["industry_code"].notna()].copy()
        placed["month"] = pd.to_datetime(placed["month"])
        placed["cell"] = PROVINCE + "/" + placed["sigun_cd"].astype(str) + "/" + placed["industry_code"].astype(str)
        wide = (placed.pivot_table(index=["business_key", "cell"], columns="month", values="sales_amount",
                                   aggfunc="sum", fill_value=0.0)
                .reindex(columns=months, fill_value=0.0))
        cells = (Y_df[Y_df["unique_id"].isin(cell_ids)].pivot(index="unique_id", columns="ds", values="y")
                 .reindex(columns=months, fill_value=0.0))
        return cls(months=months, sales=np.clip(wide.to_numpy(dtype=float), 0, None),
                   cell=wide.index.get_level_values("cell").to_numpy(), cells=cells)


@dataclass
class Calendar:
    """The trading-day regression fitted up to an origin: ``log_index(month)``."""

    coefficients: np.ndarray  # intercept, trend, CALENDAR_TERMS
    first: pd.Timestamp

    def log_index(self, month: pd.Timestamp) -> float:
        t = (month.year - self.first.year) * 12 + month.month - self.first.month
        return float(self.coefficients @ np.concatenate([[1.0, t], calendar_terms(month)]))


def fit_calendar(book: Book, origin: int) -> Calendar:
    """The regression on the chain index of months ``0 … origin`` (positions in ``book.months``)."""
    chain = [0.0]
    for m in range(1, origin + 1):
        both = (book.sales[:, m - 1] > 0) & (book.sales[:, m] > 0)
        before, now = book.sales[both, m - 1].sum(), book.sales[both, m].sum()
        chain.append(chain[-1] + (np.log(now / before) if before > 0 and now > 0 else 0.0))
    X = np.array([np.concatenate([[1.0, m], calendar_terms(book.months[m])]) for m in range(origin + 1)])
    # a short history cannot separate every term: lstsq takes the smallest solution
    coefficients = np.linalg.lstsq(X, np.array(chain), rcond=None)[0]
    return Calendar(coefficients=coefficients, first=book.months[0])


@dataclass
class Structure:
    """At one origin: the businesses trading, each with its calendar-adjusted level (at the
    middle month of the window it was measured on) and trend, and per cell the quantities the
    forecaster's correction reads."""

    origin: int
    calendar: Calendar
    businesses: pd.DataFrame  # cell, level, slope, middle: the businesses trading at the origin
    k: pd.Series  # cell → the cube's spending over the businesses' (see the module's docstring)
    own: pd.Series  # cell → the cube's own level where the businesses table holds none (else NaN)
    level: pd.Series  # cell → Σ level_b · k_cell of the businesses trading at the origin (KRW per calendar unit)
    survival: float  # monthly
    merchants: pd.Series  # cell → businesses trading at the origin
    closed_share: pd.Series  # cell → share of the window's level from businesses no longer trading
    new_share: pd.Series  # cell → share of the level from businesses whose first payment is in the window

    def forecast(self, target: pd.Timestamp, h: int) -> pd.Series:
        """cell → structural forecast for ``target`` (KRW)."""
        b = self.businesses
        grown = b["level"] * np.exp(b["slope"] * (self.origin + h - b["middle"]))
        by_cell = grown.groupby(b["cell"]).sum().reindex(self.k.index, fill_value=0.0) * self.k
        by_cell = by_cell.where(self.own.isna(), self.own)
        return by_cell * np.exp(self.calendar.log_index(target)) * self.survival ** h


def structure(book: Book, origin: int, window: int = 12, trend_window: int = 24) -> Structure:
    """The structure at position ``origin`` of ``book.months`` (see the module's docstring)."""
    calendar = fit_calendar(book, origin)
    log_index = np.array([calendar.log_index(m) for m in book.months[:origin + 1]])
    start = max(0, origin - window + 1)
    sales = book.sales[:, start:origin + 1]
    counted = _since_first_payment(sales)
    per_unit = np.where(counted, sales / np.exp(log_index[start:]), 0.0)
    months_counted = counted.sum(axis=1)
    level = per_unit.sum(axis=1) / np.maximum(months_counted, 1)
    # the level is the window's mean: it stands at the window's middle month, not at the origin
    middle = np.where(months_counted > 0, (counted * np.arange(start, origin + 1)).sum(axis=1)
                      / np.maximum(months_counted, 1), origin)
    slope = _trends(book.sales, log_index, origin, trend_window)
    traded = counted.any(axis=1)
    trading = book.sales[:, origin] > 0
    first_ever = np.argmax(book.sales > 0, axis=1)
    new = trading & (first_ever > origin - 3)

    frame = pd.DataFrame({"cell": book.cell, "level": level * trading, "all": level * traded,
                          "new": level * new, "trading": trading.astype(int),
                          "window_sales": sales.sum(axis=1)})
    by_cell = frame.groupby("cell")[["level", "all", "new", "trading", "window_sales"]].sum()
    by_cell = by_cell.reindex(book.cells.index, fill_value=0.0)
    cube_window = book.cells.iloc[:, start:origin + 1].to_numpy()
    k = np.clip(np.divide(cube_window.sum(axis=1), by_cell["window_sales"].to_numpy(),
                          out=np.ones(len(by_cell)), where=by_cell["window_sales"].to_numpy() > 0), 0.5, 2.0)
    all_level = by_cell["all"].replace(0, np.nan)
    return Structure(origin=origin, calendar=calendar, businesses=pd.DataFrame(
                         {"cell": book.cell, "level": level * trading, "slope": slope, "middle": middle})[trading],
                     k=pd.Series(k, index=by_cell.index),
                     own=pd.Series((cube_window / np.exp(log_index[start:])).mean(axis=1), index=by_cell.index)
                     .where(by_cell["window_sales"] <= 0, np.nan),
                     level=pd.Series(by_cell["level"].to_numpy() * k, index=by_cell.index),
                     survival=_survival(book, origin), merchants=by_cell["trading"],
                     closed_share=(1 - by_cell["level"] / all_level).fillna(0.0).clip(0, 1),
                     new_share=(by_cell["new"] / by_cell["level"].replace(0, np.nan)).fillna(0.0).clip(0, 1))


def _since_first_payment(sales: np.ndarray) -> np.ndarray:
    """Business × month: the months from the business's first payment in ``sales`` on."""
    paid = sales > 0
    first = np.argmax(paid, axis=1)
    return (np.arange(sales.shape[1])[None, :] >= first[:, None]) & paid.any(axis=1)[:, None]


def _trends(sales: np.ndarray, log_index: np.ndarray, origin: int, months: int) -> np.ndarray:
    """Each business's monthly growth of its calendar-adjusted spending over the last
    ``months`` months, shrunk towards none by how sure it is (empirical Bayes: the spread of
    true trends over the spread plus the estimate's own variance)."""
    start = max(0, origin - months + 1)
    window = sales[:, start:origin + 1]
    paid = window > 0
    t = np.arange(start, origin + 1, dtype=float)[None, :].repeat(len(window), axis=0)
    y = np.where(paid, np.log(np.where(paid, window, 1.0)) - log_index[start:][None, :], 0.0)
    n = paid.sum(axis=1)
    usable = n >= 4
    n_safe = np.maximum(n, 1)
    t_mean = (t * paid).sum(axis=1) / n_safe
    y_mean = (y * paid).sum(axis=1) / n_safe
    dt_ = np.where(paid, t - t_mean[:, None], 0.0)
    sxx = (dt_ ** 2).sum(axis=1)
    usable &= sxx > 0
    slope = np.where(usable, (dt_ * (y - y_mean[:, None])).sum(axis=1) / np.where(sxx > 0, sxx, 1.0), 0.0)
    residual = np.where(paid, y - y_mean[:, None] - slope[:, None] * dt_, 0.0)
    variance = np.where(usable, (residual ** 2).sum(axis=1) / np.maximum(n - 2, 1) / np.where(sxx > 0, sxx, 1.0), np.inf)
    if usable.sum() < 2:
        return np.zeros(len(sales))
    spread = max(float(np.var(slope[usable]) - np.mean(variance[usable])), 1e-8)
    return np.where(usable, slope * spread / (spread + variance), 0.0)


def _survival(book: Book, origin: int, months: int = 12) -> float:
    """One minus the monthly share of trading businesses that stop (no payment in a month nor
    the next), over the last ``months`` months whose next month is known by the origin."""
    stopped = trading = 0
    for m in range(max(1, origin - months), origin):
        was = book.sales[:, m - 1] > 0
        trading += int(was.sum())
        stopped += int((was & (book.sales[:, m] <= 0) & (book.sales[:, m + 1] <= 0)).sum())
    return 1.0 - (stopped / trading if trading else 0.0)

"""The spending forecaster's pieces on small frames whose answers are known: the trading-day
regression, the businesses' structure, the origins, the conformal intervals and the judged
figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.spending_pattern import intervals, judging, knowledge
from models.spending_pattern.train import SpendingConfig, plan

MONTHS = list(pd.date_range("2023-01-01", periods=30, freq="MS"))
TRUE = np.array([0.0, 0.0, -0.3, 0.8, 1.1, -0.4, 2.5, -1.2, 0.12])  # intercept, trend, CALENDAR_TERMS


def _book(sales: np.ndarray, cells: list[str]) -> knowledge.Book:
    wide = pd.DataFrame(sales, columns=MONTHS[:sales.shape[1]])
    cube = wide.groupby(np.asarray(cells)).sum()
    return knowledge.Book(months=MONTHS[:sales.shape[1]], sales=sales, cell=np.asarray(cells), cells=cube)


def _calendar_effect(months: list[pd.Timestamp]) -> np.ndarray:
    return np.exp([TRUE[2:] @ knowledge.calendar_terms(m) for m in months])


def test_the_trading_day_regression_recovers_a_planted_calendar():
    levels = np.array([1e6, 3e6, 5e5, 2e6])
    sales = levels[:, None] * _calendar_effect(MONTHS)[None, :]
    fitted = knowledge.fit_calendar(_book(sales, ["a", "a", "b", "b"]), len(MONTHS) - 1)
    # the index is known up to a constant: ratios between any two months are the planted ones
    for m in (MONTHS[1], MONTHS[7], MONTHS[20]):
        expected = np.log(_calendar_effect([m])[0] / _calendar_effect([MONTHS[0]])[0])
        assert fitted.log_index(m) - fitted.log_index(MONTHS[0]) == pytest.approx(expected, abs=1e-6)


def test_the_structure_counts_only_businesses_still_trading_and_their_survival():
    effect = _calendar_effect(MONTHS[:12])
    sales = np.array([2e6 * effect, 1e6 * effect, 1e6 * effect])
    sales[2, 9:] = 0.0  # the third business stopped trading in the tenth month
    book = _book(sales, ["a", "a", "b"])
    st = knowledge.structure(book, origin=11, window=6)
    ratio = np.exp(st.calendar.log_index(MONTHS[11]))
    assert st.level["a"] * ratio == pytest.approx(3e6 * effect[11], rel=1e-6)  # the nowcast of the origin month
    assert st.level["b"] == 0.0 and st.merchants.to_dict() == {"a": 2, "b": 0}
    assert st.closed_share["b"] == 1.0 and st.closed_share["a"] == 0.0
    # months 1…10 are those whose month before and month after are known: 9 × 3 + 1 × 2
    # business-months trading the month before, one of which stopped
    assert st.survival == pytest.approx(1 - 1 / 29, rel=1e-9)
    ahead = st.forecast(MONTHS[13], 2)["a"]  # two months on: the calendar of then, two months of survival
    assert ahead == pytest.approx(3e6 * _calendar_effect([MONTHS[13]])[0] * st.survival ** 2, rel=1e-6)


def test_the_origins_fall_on_the_last_months_whose_horizons_arrived():
    config = SpendingConfig()
    at_36 = plan(36, config)
    assert at_36.judged == [27, 28, 29, 30, 31, 32] and at_36.calibration == list(range(11, 27))
    at_48 = plan(48, config)  # the demo's world: 16 calibration origins
    assert at_48.judged == [39, 40, 41, 42, 43, 44] and at_48.calibration == list(range(23, 39))
    at_18 = plan(18, config)  # the shortest history the forecaster takes: one judged origin
    # ... and calibration origins back to the first with a few origins to learn from
    assert at_18.judged == [14] and at_18.calibration == list(range(8, 14))


def test_intervals_take_each_level_and_horizon_and_borrow_below_when_too_few():
    rng = np.random.default_rng(0)
    cells = pd.DataFrame({"level": "cell", "h": 1, "y": np.exp(rng.normal(0, 0.1, 1000)), "forecast": 1.0})
    one = pd.DataFrame({"level": "province", "h": 1, "y": [1.5], "forecast": [1.0]})
    table = intervals.quantiles(pd.concat([cells, one]), 0.8)
    low, high = table["cell/1"]
    assert low == -high  # symmetric: the share's quantile of the absolute log ratios
    assert low == pytest.approx(np.log1p(np.exp(-0.128)) - np.log1p(1.0), abs=0.01)
    assert high == pytest.approx(np.log1p(np.exp(0.128)) - np.log1p(1.0), abs=0.01)
    # one province forecast is too few: it borrows from the level below, which borrowed from the cells
    assert table["province/1"] == table["region/1"] == table["cell/1"]
    rows = pd.DataFrame({"level": ["cell", "cell"], "h": [1, 3], "forecast": [100.0, 100.0]})
    lower, upper = intervals.bounds(rows, table)
    assert lower[0] < 100 < upper[0] and np.isnan(lower[1]) and np.isnan(upper[1])


def test_coverage_and_pinball_loss_of_known_intervals():
    frame = pd.DataFrame({"level": "cell", "h": 1, "unique_id": list("abcd"), "y": [1.0, 5.0, 10.0, 20.0],
                          "lower": [0.0, 4.0, 11.0, 15.0], "upper": [2.0, 6.0, 12.0, 25.0]})
    got = intervals.coverage(frame)
    assert got.loc[0, "coverage"] == 0.75 and got.loc[0, "series"] == 4
    # only the third actual is outside: below its lower end by 1 → loss 0.9 at q = 0.1
    losses = [0.1 * 1, 0.1 * 1, 0.9 * 1, 0.1 * 5]  # lower ends (q = 0.1)
    losses_high = [0.1 * 1, 0.1 * 1, 0.1 * 2, 0.1 * 5]  # upper ends (q = 0.9: above by 1, 1, 2, 5)
    expected = np.mean((np.array(losses) + np.array(losses_high)) / 2) / np.mean([1, 5, 10, 20])
    assert judging.pinball(frame["y"].to_numpy(), frame["lower"].to_numpy(), frame["upper"].to_numpy(), 0.8) \
        == pytest.approx(expected)


def test_mase_scales_are_the_seasonal_naive_in_sample_error():
    wide = pd.DataFrame([np.arange(26, dtype=float), np.full(26, 7.0)], index=["up", "flat"])
    scale = judging.mase_scales(wide, origin=25)
    assert scale["up"] == 12.0 and scale["flat"] == 0.0
    assert judging.mase_scales(wide, origin=5)["up"] == 1.0  # less than a season: last month's error


def test_the_headline_intervals_resample_whole_series():
    rng = np.random.default_rng(1)
    ids = np.repeat([f"s{i}" for i in range(60)], 6)
    y = rng.uniform(50, 150, len(ids))
    cells = pd.DataFrame({"unique_id": ids, "y": y, "forecast": y * rng.normal(1, 0.1, len(ids)),
                          "oracle": y * rng.normal(1, 0.08, len(ids)), "lower": y * 0.9, "upper": y * 1.1})
    figures = judging.headline(cells, replicates=300)
    ratio = figures["model_over_oracle_wape"]
    assert ratio.low < ratio.value < ratio.high
    assert ratio.value == pytest.approx(figures["model_wape"].value / figures["oracle_wape"].value, abs=1e-4)
    assert figures["coverage"].value == 1.0  # every actual is inside its ±10 % interval

"""The growth curve's arithmetic: exponents between the two largest sizes, the check that
names a stage growing worse than linearly, and the province-year extrapolation."""

from __future__ import annotations

import pytest

from lcdp.bench.growth import LINEAR_TOLERANCE, PROVINCE_MERCHANTS, STAGES, exponents, extrapolate, plot


def size(merchants: int, seconds: dict[str, float], months: int = 24, rows_per_merchant_month: int = 50) -> dict:
    rows = merchants * months * rows_per_merchant_month
    return {"merchants": merchants, "months": months, "input_rows": rows, "payments": rows * 9 // 10,
            "stages": {s: {"seconds": seconds.get(s, 1.0), "peak_rss_mib": 100.0 + merchants / 10} for s in STAGES}}


def curve(cost) -> list[dict]:
    """Three sizes at 1×, 4×, 16× whose stage seconds follow ``cost(merchants)``."""
    return [size(m, {s: cost(s, m) for s in STAGES}) for m in (100, 400, 1600)]


def test_linear_stages_have_exponent_one_and_a_fixed_cost_pulls_it_below():
    grow = exponents(curve(lambda s, m: 2 + m / 10 if s == "train" else m / 10))
    assert grow["fuse"] == grow["ingest"] == 1.0
    assert 0.9 < grow["train"] < 1.0  # 2 s fixed still weighs at 400 merchants


def test_a_stage_growing_with_the_square_of_the_input_is_named():
    sizes = curve(lambda s, m: (m / 100) ** 2 if s == "export" else m / 100)
    grow = exponents(sizes)
    assert grow["export"] == pytest.approx(2.0)
    assert [s for s in STAGES if grow[s] > LINEAR_TOLERANCE] == ["export"]


def test_the_province_year_lies_on_the_line_through_the_two_largest_sizes():
    sizes = curve(lambda s, m: 5 + m / 100)  # 5 s fixed, 10 ms per merchant
    year = extrapolate(sizes)
    per_merchant_month = 50
    assert year["input_rows"] == PROVINCE_MERCHANTS * 12 * per_merchant_month
    # 1 s per 100 merchants at 24 months = per 120,000 rows
    expected = 5 + year["input_rows"] / 120_000
    assert year["seconds"]["fuse"] == pytest.approx(expected, abs=0.1)
    assert year["seconds"]["total"] == pytest.approx(len(STAGES) * expected, abs=0.5)
    assert year["hours"] == pytest.approx(year["seconds"]["total"] / 3600, abs=0.01)


def test_the_plot_is_a_png(tmp_path):
    sizes = curve(lambda s, m: m / 100)
    path = plot({"sizes": sizes}, tmp_path / "growth.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_a_growth_the_models_cannot_train_on_is_refused_before_any_work(tmp_path):
    from lcdp.bench.growth import bench_growth

    with pytest.raises(ValueError, match="at least 18 months"):
        bench_growth(10, months=12, work=tmp_path)
    with pytest.raises(ValueError, match="two distinct factors"):
        bench_growth(10, factors=(4, 1), work=tmp_path)
    assert not any(tmp_path.iterdir())

"""Watching the models after promotion (``models.monitoring``): PSI flags a population that
moved and not one that did not, realized AUC and calibration only where the 12-month outcome
window is complete, realized WAPE as the cells' weighted error."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models import monitoring
from models.credit_risk import labels
from models.gate import psi as gate_psi
from models.monitoring import Flag, Measure

MONTHS = pd.date_range("2023-01-01", "2025-06-01", freq="MS")  # 30 months
TRAINED_THROUGH = "2024-03"


def world(businesses: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of every business in every month (a bureau grade, sales, a region) and each
    business's credit event: riskier grades have more events."""
    rng = np.random.default_rng(seed)
    grade = rng.integers(1, 9, businesses)
    keys = [f"b{i:05d}" for i in range(businesses)]
    frame = pd.DataFrame({"business_key": np.repeat(keys, len(MONTHS)),
                          "month": pd.DatetimeIndex(np.tile(MONTHS, businesses)).date,
                          "credit_grade": np.clip(np.repeat(grade, len(MONTHS))
                                                  + rng.integers(-1, 2, businesses * len(MONTHS)), 1, 10),
                          "sales_amount": rng.lognormal(15, 0.6, businesses * len(MONTHS)).round(),
                          "sigun_cd": rng.choice(["41110", "41130", "41150"], businesses * len(MONTHS), p=[0.5, 0.3, 0.2])})
    has_event = rng.random(businesses) < grade / 40
    event_month = MONTHS[rng.integers(0, len(MONTHS), businesses)]
    events = pd.DataFrame({"business_key": keys, "event_month": event_month, "event_kind": "default"})[has_event]
    return frame, events.reset_index(drop=True)


def scored(features: pd.DataFrame) -> pd.DataFrame:
    """A model's probabilities: rising with the grade."""
    logit = -4.5 + 0.35 * features["credit_grade"].astype(float)
    return features[["business_key", "month"]].assign(probability=1 / (1 + np.exp(-logit)))


def measured(features: pd.DataFrame, events: pd.DataFrame, scores: pd.DataFrame | None = None,
             reference_features: pd.DataFrame | None = None) -> pd.DataFrame:
    reference = monitoring.training_rows(features if reference_features is None else reference_features, events,
                                         TRAINED_THROUGH)
    return monitoring.credit_monitoring(monitoring.population(features, events), reference,
                                        scored(features) if scores is None else scores,
                                        ["credit_grade", "sales_amount", "sigun_cd"], TRAINED_THROUGH,
                                        "lcdp-credit-risk", 3, holdout_auc=0.8)


def psi_of(table: pd.DataFrame, month: str) -> dict[str, tuple[float, str]]:
    rows = table[(table["measure"] == Measure.PSI) & (table["month"] == pd.Timestamp(f"{month}-01").date())]
    return {r.feature: (r.value, r.flag) for r in rows.itertuples()}


def test_feature_psi_is_the_gates_psi_on_numbers_and_counts_missing_values_and_new_categories():
    rng = np.random.default_rng(1)
    expected, actual = pd.Series(rng.normal(0, 1, 5000)), pd.Series(rng.normal(0.4, 1, 3000))
    assert monitoring.feature_psi(expected, actual) == gate_psi(expected.to_numpy(), actual.to_numpy())
    assert monitoring.feature_psi(expected, expected.sample(frac=1.0, random_state=0)) == 0.0
    # half the values missing where none were: the population has moved
    holes = actual.where(rng.random(len(actual)) < 0.5)
    assert monitoring.feature_psi(expected, holes) > monitoring.PSI_FLAG
    # text over its categories; a category the training window never saw counts
    regions = pd.Series(rng.choice(["41110", "41130"], 4000))
    assert monitoring.feature_psi(regions, regions.iloc[:2000]) < monitoring.PSI_WATCH
    assert monitoring.feature_psi(regions, pd.Series(["41110", "41820"] * 1000)) > monitoring.PSI_FLAG
    assert [monitoring.flag(v) for v in (0.05, 0.1, 0.2, 0.25, 0.3)] == [Flag.OK, Flag.OK, Flag.WATCH, Flag.WATCH,
                                                                          Flag.FLAGGED]


def test_a_planted_shift_is_flagged_in_its_month_and_an_unshifted_copy_flags_nothing():
    features, events = world()
    plain = measured(features, events)
    latest = MONTHS[-1].date()
    shifted = features.copy()
    in_latest = shifted["month"] == latest
    # the latest month's businesses all three bureau grades worse, and a region's shops moved
    shifted.loc[in_latest, "credit_grade"] = np.clip(shifted.loc[in_latest, "credit_grade"] + 3, 1, 10)
    shifted.loc[in_latest & (shifted["sigun_cd"] == "41150"), "sigun_cd"] = "41110"
    drifted = measured(shifted, events, reference_features=features)

    before, after = psi_of(plain, "2025-06"), psi_of(drifted, "2025-06")
    assert all(flag == Flag.OK for _, flag in before.values()), before
    assert after["credit_grade"][1] == after["score"][1] == Flag.FLAGGED, after
    assert after["sigun_cd"][1] in (Flag.WATCH, Flag.FLAGGED) and after["sales_amount"][1] == Flag.OK, after
    # the months before it are as they were
    assert psi_of(drifted, "2025-05") == psi_of(plain, "2025-05")
    # named as the latest month's flags, further than any month of the training window went
    assert monitoring.latest_drift(plain).flagged == []
    named = {d.feature: d for d in monitoring.latest_drift(drifted).flagged}
    assert {"credit_grade", "score"} <= set(named) and named["credit_grade"].beyond_training
    assert named["credit_grade"].training_max < 0.1
    psi = drifted[drifted["measure"] == Measure.PSI]
    assert set(psi["threshold"]) == {0.25} and set(psi["watch"]) == {0.1}
    assert set(psi.loc[psi["flag"] == Flag.FLAGGED, "month"]) == {latest}


def test_realized_auc_and_calibration_only_for_months_whose_outcome_window_is_complete():
    features, events = world()
    table = measured(features, events)
    realized = table[table["measure"].isin([Measure.AUC, Measure.PREDICTED_RATE, Measure.OBSERVED_RATE])]
    # the data end in 2025-06: a 12-month window is complete up to 2024-06
    complete = {m.date() for m in MONTHS if m <= pd.Timestamp("2024-06-01")}
    assert set(realized["month"]) == complete
    trained = {m for m in complete if m <= pd.Timestamp("2024-03-01").date()}
    assert set(realized.loc[realized["in_training"], "month"]) == trained
    auc = realized[realized["measure"] == Measure.AUC]
    assert (auc["value"] > 0.55).all() and set(auc["reference"]) == {0.8}
    assert realized.loc[realized["measure"] != Measure.AUC, "reference"].isna().all()
    # observed: the labelled business-months' event rate, counted by hand for one month
    month = pd.Timestamp("2024-01-01")
    rows = labels.label_rows(features, events)
    rows = rows[(pd.to_datetime(rows["month"]) == month) & (rows["label_status"] == labels.LABELLED)]
    observed = realized[(realized["measure"] == Measure.OBSERVED_RATE) & (realized["month"] == month.date())]
    assert observed["value"].item() == pytest.approx(rows["label"].astype(int).mean(), abs=1e-5)
    assert observed["rows"].item() == len(rows)


def test_the_training_window_is_the_rows_the_model_was_fitted_on():
    features, events = world(400)
    reference = monitoring.training_rows(features, events, TRAINED_THROUGH)
    assert reference["month"].max() == pd.Timestamp(f"{TRAINED_THROUGH}-01")
    assert (reference["label_status"] == labels.LABELLED).all()
    # no business-month after its business's event is in it, nor in any month's population
    population = monitoring.population(features, events)
    with_event = population.merge(events.rename(columns={"event_month": "event"}), on="business_key")
    assert len(with_event) and not (pd.to_datetime(with_event["event"]) <= with_event["month"]).any()


def test_realized_wape_judges_each_published_forecast_once_its_month_has_arrived():
    def version(origin: str, model_version: int, forecasts: dict) -> pd.DataFrame:
        """A version of gold.spending_forecasts: a province row, and cells ``(sigun, industry, month) → forecast``."""
        rows = [{"level": "province", "sigun_cd": None, "industry_code": None, "month": dt.date(2025, 4, 1),
                 "origin": dt.date.fromisoformat(origin), "forecast": 1e9, "model_version": model_version}]
        rows += [{"level": "cell", "sigun_cd": s, "industry_code": i, "month": dt.date.fromisoformat(m),
                  "origin": dt.date.fromisoformat(origin), "forecast": f, "model_version": model_version}
                 for (s, i, m), f in forecasts.items()]
        return pd.DataFrame(rows)

    newest = version("2025-04-01", 2, {("41110", "x", "2025-05-01"): 150.0, ("41110", "y", "2025-05-01"): 10.0,
                                       ("41110", "x", "2025-06-01"): 260.0, ("41110", "x", "2025-07-01"): 1.0})
    older = version("2025-03-01", 1, {("41110", "x", "2025-04-01"): 110.0, ("41110", "y", "2025-04-01"): 270.0,
                                      ("41110", "x", "2025-05-01"): 999.0})
    superseded = version("2025-03-01", 1, {("41110", "x", "2025-04-01"): 5.0})  # the same origin, published before
    cells = monitoring.published_cells([newest, older, superseded])
    assert set(cells["h"]) == {1, 2, 3} and len(cells) == 7
    # the cube: spending per row of region × industry × month (and a payment at no known shop)
    cube = pd.DataFrame({"sigun_cd": ["41110", "41110", "41110", "41110", None, "41110"],
                         "industry_code": ["x", "y", "x", "x", None, "x"],
                         "month": [dt.date(2025, 4, 1), dt.date(2025, 4, 1), dt.date(2025, 5, 1), dt.date(2025, 6, 1),
                                   dt.date(2025, 5, 1), dt.date(2025, 4, 1)],
                         "spending": [60.0, 300.0, 200.0, 200.0, 7.0, 40.0]})
    wape = monitoring.realized_wape(cells, monitoring.cell_actuals(cube))
    months = pd.to_datetime(["2025-04-01", "2025-05-01", "2025-06-01"])
    # 2025-07 has not arrived; in 2025-05 shop y spent nothing: its forecast of 10 is all error
    assert wape.to_dict("records") == [
        {"month": months[0], "feature": "h1", "value": 0.1, "rows": 2, "model_version": 1},
        {"month": months[1], "feature": "h1", "value": 0.3, "rows": 2, "model_version": 2},
        {"month": months[1], "feature": "h2", "value": 3.995, "rows": 1, "model_version": 1},
        {"month": months[2], "feature": "h2", "value": 0.3, "rows": 1, "model_version": 2}]
    table = monitoring.spending_monitoring(wape, "lcdp-spending-pattern", {1: 0.12, 2: 0.13})
    assert list(table.columns) == monitoring.COLUMN_NAMES
    assert table["reference"].tolist() == [0.12, 0.13, 0.12, 0.13] and table["model_version"].tolist() == [1, 2, 1, 2]
    assert set(table["measure"]) == {"wape"} and not table["in_training"].any() and table["flag"].isna().all()


def test_the_tables_columns_are_documented():
    columns = monitoring.COLUMNS.of("gold.model_monitoring")
    assert [c.name for c in columns] == monitoring.COLUMN_NAMES

"""The credit model on public data it never saw: with its defaults, on UCI German credit in ten
stratified folds, it ranks at least as well as the better of XGBoost's defaults and a one-hot
logistic regression on the same folds, and near the AUC published for that data."""

from __future__ import annotations

import json

import numpy as np

from lcdp.bench.public_credit import DATASETS, PEER_TOLERANCE, REFERENCE_TOLERANCE, compare, paired_interval


def test_on_german_credit_ours_is_as_good_as_the_better_peer_and_near_the_published_auc():
    result = compare(DATASETS["german"], folds=10, seed=0)
    json.dumps(result)  # the report is JSON as it is
    assert (result["rows"], result["features"], result["categorical"], result["event_rate"]) == (1000, 20, 13, 0.3)
    models = result["models"]
    assert all(len(m["fold_auc"]) == 10 and m["seconds"] > 0 for m in models.values())
    ours, peer = models["lcdp_credit_risk"]["auc"], models[result["best_peer"]]["auc"]
    assert result["best_peer"] == max(("xgboost_defaults", "logistic_one_hot"), key=lambda m: models[m]["auc"])
    assert ours >= peer - PEER_TOLERANCE, models
    assert result["as_good_as_best_peer"]
    reference = result["reference"]
    assert abs(ours - reference["auc"]) <= REFERENCE_TOLERANCE, (ours, reference)
    assert result["close_to_reference"]
    difference = result["ours_minus_best_peer"]
    assert difference["low"] < difference["mean"] < difference["high"]
    assert abs(difference["mean"] - (ours - peer)) < 1e-3


def test_the_interval_widens_for_folds_that_share_their_training_rows():
    differences = np.array([0.01, -0.02, 0.03, 0.0, 0.02, -0.01, 0.015, 0.005, -0.005, 0.01])
    low, high = paired_interval(differences, test_share=0.1)
    naive = 1.833 * differences.std(ddof=1) / np.sqrt(10)  # t(0.95, 9) × s/√k
    assert np.isclose((high - low) / 2, naive * np.sqrt(1 + 10 / 9), rtol=1e-3)
    assert np.isclose((high + low) / 2, differences.mean())

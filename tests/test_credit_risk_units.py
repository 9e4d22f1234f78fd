"""The credit model's parts on hand-made data: the estimator on a frame that is not ours,
point-in-time labels, the scorecard, the metrics and the gate's rules."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from models.credit_risk import labels
from models import tracking
from models.credit_risk.estimator import TRUSTED_TYPES, CreditRiskClassifier, uninformative
from models.credit_risk.metrics import credit_metrics, ks_statistic
from models.credit_risk.scorecard import ScorecardConfig, bands, phrase, points, reason_codes
from models.uncertainty import Interval
from models.gate import judge, psi


def loan_book(n: int = 4000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """A lender's table with nothing of ours in it: income, debt ratio, a housing category."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income_k": rng.lognormal(3.5, 0.4, n),
        "debt_ratio": rng.uniform(0, 1.2, n),
        "housing": rng.choice(["own", "rent", "family", "other"], n, p=[0.4, 0.4, 0.15, 0.05]),
        "late_payments": rng.poisson(0.5, n).astype(float),
    })
    frame.loc[rng.random(n) < 0.05, "income_k"] = np.nan  # unreported
    margin = (-3.2 + 2.0 * frame["debt_ratio"] + 0.6 * frame["late_payments"] + 0.8 * (frame["housing"] == "rent")
              - 0.01 * frame["income_k"].fillna(30))
    return frame, (rng.random(n) < 1 / (1 + np.exp(-margin))).astype(int)


def test_estimator_trains_on_any_frame_pandas_or_arrow():
    X, y = loan_book()
    model = CreditRiskClassifier(random_state=3).fit(X[:3000], y[:3000])
    assert list(model.feature_names_in_) == ["income_k", "debt_ratio", "housing", "late_payments"]
    assert model.categorical_features_ == ["housing"]
    proba = model.predict_proba(X[3000:])
    assert proba.shape == (1000, 2) and np.allclose(proba.sum(axis=1), 1)
    # the same rows as Arrow, columns in another order: the same probabilities
    arrow = pa.Table.from_pandas(X[3000:][["late_payments", "housing", "debt_ratio", "income_k"]], preserve_index=False)
    assert np.allclose(model.predict_proba(arrow), proba)
    # a category never seen in training, or a batch where a category column is all missing,
    # is scored with that value missing instead of refused
    odd = X[3000:3002].assign(housing=["boat", None])
    assert model.predict_proba(odd).shape == (2, 2)
    metrics = model.evaluate(X[3000:], y[3000:])
    assert metrics.auc > 0.7 and metrics.rows == 1000 and len(metrics.calibration) == 10
    # up-weighting the rare class does not inflate the probabilities: the prior correction
    # brings the mean prediction back to the event rate
    assert abs(proba[:, 1].mean() - y[3000:].mean()) < 0.25 * y[3000:].mean()
    # contributions add up to each row's log-odds
    contributions = model.contributions(X[3000:3010])
    logit = np.log(proba[:10, 1] / (1 - proba[:10, 1]))
    assert np.allclose(contributions.sum(axis=1).to_numpy(), logit, atol=1e-3)
    assert list(model.feature_importance().index[:1]) == ["debt_ratio"]


def test_estimator_refusals_say_what_is_wrong():
    X, y = loan_book(400)
    with pytest.raises(RuntimeError, match="not fitted"):
        CreditRiskClassifier().predict_proba(X)
    with pytest.raises(ValueError, match="both classes"):
        CreditRiskClassifier().fit(X, np.zeros(len(X)))
    model = CreditRiskClassifier(n_estimators=20).fit(X, y)
    with pytest.raises(ValueError, match="lacks feature.*debt_ratio"):
        model.predict_proba(X.drop(columns="debt_ratio"))
    with pytest.raises(TypeError, match="neither numeric nor categorical"):
        CreditRiskClassifier().fit(X.assign(when=pd.Timestamp("2024-01-01")), y)


def test_estimator_groups_keep_a_business_out_of_early_stopping():
    X, y = loan_book(2000)
    groups = np.repeat(np.arange(200), 10)
    model = CreditRiskClassifier(n_estimators=50).fit(X, y, groups=groups)
    assert 0 <= model.best_iteration_ < 50


def test_estimator_leaves_out_columns_that_carry_no_information():
    """The labelled rows of the features table have ``registry_status`` missing everywhere: a
    categorical column without a single category, on which XGBoost failed ("cannot call
    'vectorize' on size 0 inputs")."""
    X, y = loan_book(1000)
    X = X.assign(registry_status=pd.Series([None] * len(X), dtype=object), region="41110", version=2.0,
                 empty_category=pd.Categorical([None] * len(X), categories=[]))
    assert uninformative(X) == ["registry_status", "region", "version", "empty_category"]
    assert uninformative(pa.Table.from_pandas(X)) == uninformative(X)
    model = CreditRiskClassifier(n_estimators=30).fit(X, y, groups=np.arange(len(X)) // 5)
    assert model.dropped_features_ == ["registry_status", "region", "version", "empty_category"]
    assert model.features_ == ["income_k", "debt_ratio", "housing", "late_payments"]
    assert len(model.feature_names_in_) == 8  # what fit was given, as scikit-learn's estimators say
    # scoring reads the kept features only: a frame without the dropped ones is scored the same
    assert np.allclose(model.predict_proba(X), model.predict_proba(X[model.features_]))
    assert list(model.contributions(X.head(3)).columns) == [*model.features_, "bias"]
    with pytest.raises(ValueError, match="no column of X carries information"):
        CreditRiskClassifier().fit(X[["registry_status", "region"]], y)


def test_estimator_is_logged_and_loaded_by_mlflows_scikit_learn_flavour(tmp_path):
    """``mlflow.xgboost.log_model(model)`` fails (the estimator is no XGBoost model); the
    scikit-learn flavour saves it with skops, trusting the types ``TRUSTED_TYPES`` names."""
    import mlflow.sklearn
    import skops.io

    X, y = loan_book(600)
    model = CreditRiskClassifier(n_estimators=20).fit(X, y)
    assert set(skops.io.get_untrusted_types(data=skops.io.dumps(model))) <= set(TRUSTED_TYPES)
    with tracking.quiet_libraries():
        mlflow.sklearn.save_model(model, tmp_path / "model", skops_trusted_types=TRUSTED_TYPES)
        loaded = mlflow.sklearn.load_model(str(tmp_path / "model"))
    assert isinstance(loaded, CreditRiskClassifier)
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_training_rows_and_folds_are_the_same_whatever_the_file_order_and_the_pseudonyms():
    """Two homes made from the same partner files hold the same business-months, in another
    data-file order and under other pseudonyms (the pseudonym key is per home): training sees
    the same rows in the same order and the same folds of businesses, so the same model."""
    from models.credit_risk.train import business_groups, in_content_order

    X, y = loan_book(1200)
    months = pd.date_range("2024-01-01", periods=12, freq="MS").date
    rows = X.assign(business_key=[f"b{i // 12:03d}" for i in range(len(X))],
                    month=[months[i % 12] for i in range(len(X))], label=y)
    other = rows.sample(frac=1.0, random_state=5).reset_index(drop=True)
    renamed = {key: f"z{hash(key) % 10**9:09d}-{key}"[::-1] for key in rows["business_key"].unique()}
    other["business_key"] = other["business_key"].map(renamed)
    ours, theirs = in_content_order(rows), in_content_order(other)
    assert ours.drop(columns="business_key").equals(theirs.drop(columns="business_key"))
    assert (business_groups(ours) == business_groups(theirs)).all()
    features = ["income_k", "debt_ratio", "housing", "late_payments"]
    fitted = [CreditRiskClassifier(n_estimators=40).fit(f[features], f["label"], groups=business_groups(f))
              for f in (ours, theirs)]
    assert np.array_equal(fitted[0].predict_proba(X), fitted[1].predict_proba(X))


def test_library_warnings_are_kept_quiet_and_the_platforms_errors_are_not(capfd):
    import logging
    import warnings

    mlflow_logger = logging.getLogger("mlflow.models.model")
    before = mlflow_logger.level
    with tracking.quiet_libraries():
        warnings.warn("Hint: Inferred schema contains integer column(s)", UserWarning)
        warnings.warn("The default of this parameter will change", FutureWarning)
        mlflow_logger.warning("Saving scikit-learn models in the pickle format requires exercising caution")
        mlflow_logger.error("the artifact store is full")
    assert mlflow_logger.level == before
    err = capfd.readouterr().err
    assert "Warning" not in err and "Hint" not in err and "pickle" not in err
    assert "the artifact store is full" in err


def test_library_warnings_are_kept_quiet_when_the_library_is_imported_inside():
    """The command line enters ``quiet_libraries`` before training imports MLflow, whose import
    sets its loggers' levels."""
    import subprocess
    import sys

    code = ("import logging\nfrom models import tracking\nwith tracking.quiet_libraries():\n"
            "    import mlflow\n    logging.getLogger('mlflow.utils.environment').warning('pip version')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "pip version" not in proc.stderr, proc.stderr[-2000:]


def test_metrics_are_shown_as_what_they_measure():
    assert tracking.metric_text("event_businesses", 92.0) == "92"
    assert tracking.metric_text("holdout_events", 1234.0) == "1,234"
    assert tracking.metric_text("auc", 0.816849) == "0.8168"
    assert tracking.metric_text("wape", 0.1) == "0.1000"


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame([(b, pd.Timestamp(m), k) for b, m, k in rows], columns=["business_key", "event_month", "event_kind"])


def test_labels_are_point_in_time_and_censored():
    months = pd.date_range("2024-01-01", "2026-06-01", freq="MS")
    rows = pd.DataFrame([(b, m) for b in ("a", "b", "c") for m in months], columns=["business_key", "month"])
    events = _events([("a", "2025-03-01", "default"), ("b", "2026-05-01", "closure")])
    out = labels.label_rows(rows, events, 12).set_index(["business_key", "month"])
    jan24 = pd.Timestamp("2024-01-01")
    assert out.loc[("a", jan24), "label"] == 0  # March 2025 is 14 months after January 2024
    assert out.loc[("a", pd.Timestamp("2024-03-01")), "label"] == 1  # exactly 12 months ahead
    assert out.loc[("a", pd.Timestamp("2025-03-01")), "label_status"] == labels.AFTER_EVENT
    assert out.loc[("c", pd.Timestamp("2025-06-01")), "label"] == 0  # window ends at the data's last month
    assert out.loc[("c", pd.Timestamp("2025-07-01")), "label_status"] == labels.CENSORED
    assert pd.isna(out.loc[("b", pd.Timestamp("2025-12-01")), "label"])  # censored, though its event is known

    # planting events and months beyond a labelled window changes none of its labels
    more_months = pd.date_range("2026-07-01", "2027-12-01", freq="MS")
    planted_rows = pd.concat([rows, pd.DataFrame([(b, m) for b in ("a", "b", "c") for m in more_months],
                                                 columns=["business_key", "month"])])
    planted_events = _events([("a", "2025-03-01", "default"), ("b", "2026-05-01", "closure"),
                              ("c", "2026-07-01", "default")])
    replanted = labels.label_rows(planted_rows, planted_events, 12).set_index(["business_key", "month"])
    labelled = out[out["label_status"] == labels.LABELLED]
    again = replanted.loc[labelled.index]
    assert (again["label_status"] == labels.LABELLED).all()
    assert (again["label"] == labelled["label"]).all()


def test_credit_events_from_silver_take_the_first_default_or_closure():
    merchants = pd.DataFrame({
        "business_key": ["a", "b", "b", "c"], "merchant_key": ["m1", "m2", "m3", "m4"], "is_current": True,
        "status": ["closed", "closed", "active", "closed"],
        "closed_on": [dt.date(2025, 5, 20), dt.date(2025, 1, 2), None, None],
        "valid_from": [dt.date(2025, 5, 20), dt.date(2025, 1, 2), dt.date(2026, 11, 1), dt.date(2024, 7, 9)]})
    guarantees = pd.DataFrame({"business_key": ["a", "a", "d"],
                               "default_date": [dt.date(2025, 2, 14), None, dt.date(2024, 12, 1)]})
    events = labels.credit_events(merchants, guarantees).set_index("business_key")
    assert events.loc["a", "event_kind"] == "default" and events.loc["a", "event_month"] == pd.Timestamp("2025-02-01")
    assert "b" not in events.index  # one of its two shops is still open
    assert events.loc["c", "event_kind"] == "closure" and events.loc["c", "event_month"] == pd.Timestamp("2024-07-01")
    assert events.loc["d", "event_month"] == pd.Timestamp("2024-12-01")


def test_scorecard_points_bands_and_reasons():
    config = ScorecardConfig()
    assert points(np.array([1 / 51]), config)[0] == 600  # 50:1 good:bad
    assert points(np.array([1 / 101]), config)[0] == 620  # odds doubled: 20 points more
    assert list(bands(np.array([0.005, 0.02, 0.5]), config)) == ["A (very low)", "B (low)", "E (very high)"]
    assert phrase("sales_growth_3m", -0.38) == "sales fell 38 % over 3 months"
    assert phrase("credit_grade", float("nan")) == "no bureau report in the last 3 months"
    assert phrase("sigun_cd", "41110") == "trades in 수원시 (41110)"
    assert phrase("made_up", 3) == "made_up = 3"
    features = pd.DataFrame({"sales_growth_3m": [-0.38, 0.1], "credit_grade": [8.0, 2.0], "hires": [0.0, 1.0]})
    contributions = pd.DataFrame({"sales_growth_3m": [0.4, -0.2], "credit_grade": [0.9, -0.5], "hires": [-0.1, 0.3],
                                  "bias": [-3.0, -3.0]})
    assert reason_codes(contributions, features) == [
        ["bureau grade 8 (1 best, 10 worst)", "sales fell 38 % over 3 months"], ["1 hires this month"]]


def test_metrics_and_stability():
    y = np.array([0, 0, 0, 1, 1] * 40)
    p = np.array([0.1, 0.2, 0.3, 0.25, 0.9] * 40)
    assert math.isclose(ks_statistic(y, p), 2 / 3, rel_tol=1e-9)
    metrics = credit_metrics(y, p)
    assert metrics.auc == pytest.approx(5 / 6, abs=1e-4) and metrics.events == 80
    with pytest.raises(ValueError, match="one class"):
        credit_metrics(np.zeros(10), np.full(10, 0.1))
    scores = np.random.default_rng(0).beta(2, 30, 5000)
    assert psi(scores, scores) == 0
    assert psi(scores, scores * 3) > 0.25


def test_gate_rules_read_the_intervals_and_say_which_failed_with_the_numbers():
    def d(value, low, high):
        return Interval(value=value, low=low, high=high)

    first = judge("AUC", True, d(-0.02, -0.04, 0.0), None, None, 0.01, 0.25)
    assert not first[0].passed and "may be worse" in first[0].detail and "-0.0200" in first[0].detail
    assert first[0].name == "not_worse_than_baseline"
    # better on the figure, but the interval reaches further below than the margin allows
    unsure = judge("AUC", True, d(0.01, -0.03, 0.05), None, None, 0.01, 0.25)
    assert not unsure[0].passed and "may be worse" in unsure[0].detail
    assert judge("AUC", True, d(0.03, 0.005, 0.05), None, None, 0.01, 0.25)[0].passed
    # a tie with the baseline, within the margin either way, promotes
    tie = judge("AUC", True, d(-0.002, -0.008, 0.004), None, None, 0.01, 0.25)
    assert tie[0].passed and "not worse" in tie[0].detail
    # for WAPE the worse end is the high one
    assert not judge("WAPE", False, d(0.0, -0.01, 0.02), None, None, 0.01, 0.25)[0].passed
    worse = judge("AUC", True, d(0.03, 0.005, 0.05), d(-0.005, -0.02, 0.01), 0.05, 0.01, 0.25, "2025-01 to 2025-03")
    assert [r.passed for r in worse] == [False, True] and "on 2025-01 to 2025-03" in worse[0].detail
    same = judge("AUC", True, d(0.03, 0.005, 0.05), d(-0.002, -0.008, 0.004), 0.05, 0.01, 0.25)
    assert [r.passed for r in same] == [True, True]
    # WAPE: lower is better, so the interval's high end is the challenger's worse one
    unstable = judge("WAPE", False, d(-0.1, -0.12, -0.08), d(0.002, -0.004, 0.008), 0.4, 0.01, 0.25)
    assert [r.passed for r in unstable] == [True, False] and "PSI" in unstable[1].detail
    assert not judge("WAPE", False, d(-0.1, -0.12, -0.08), d(0.01, 0.005, 0.02), None, 0.01, 0.25)[0].passed


def test_the_one_pass_auc_and_ks_are_scikit_learn_s_for_any_weights_and_ties():
    from sklearn.metrics import roc_auc_score

    from models.uncertainty import Ranking

    rng = np.random.default_rng(3)
    y = (rng.random(3000) < 0.1).astype(int)
    p = np.round(rng.random(3000) * 0.5 + 0.2 * y, 2)  # many ties
    w = rng.integers(0, 4, 3000).astype(float)
    assert Ranking(y, p).auc() == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert Ranking(y, p).auc(w) == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert Ranking(y, p).ks() == pytest.approx(ks_statistic(y, p), abs=1e-12)
    assert Ranking(np.zeros(5), np.arange(5)).auc() is None


def test_intervals_resample_whole_businesses_and_pair_the_models():
    from models.credit_risk.metrics import credit_intervals

    rng = np.random.default_rng(5)
    businesses, months = 800, 12
    risk = rng.normal(size=businesses)
    y = np.repeat(rng.random(businesses) < 1 / (1 + np.exp(2.5 - risk)), months).astype(int)
    oracle = np.repeat(1 / (1 + np.exp(2.5 - risk)), months)
    model = oracle + rng.normal(0, 0.03, oracle.size)
    groups = np.repeat(np.arange(businesses), months)
    by_business = credit_intervals(y, groups, {"model": model, "oracle": oracle}, replicates=300)
    by_row = credit_intervals(y, np.arange(y.size), {"model": model, "oracle": oracle}, replicates=300)
    auc = by_business["model_auc"]
    assert auc.low < auc.value < auc.high
    # twelve alike months of one business are one piece of evidence, not twelve
    assert auc.half_width() > 2.5 * by_row["model_auc"].half_width()
    # both models judged on the same draws: the difference is far surer than either figure
    assert by_business["model_minus_oracle_auc"].half_width() < auc.half_width() / 2


def test_the_master_scale_is_cut_at_the_training_shares_and_bands_by_it():
    from models.credit_risk.scorecard import BAND_SHARES, band_ranges, master_scale

    probability = np.random.default_rng(1).beta(1.2, 12, 20_000)
    scale = master_scale(probability, BAND_SHARES)
    assert list(scale) == list(BAND_SHARES) and scale["E (very high)"] == 1.0
    cuts = list(scale.values())
    assert cuts == sorted(cuts) and all(float(f"{c:.2g}") == c for c in cuts[:-1])
    config = ScorecardConfig(bands=scale)
    shares = pd.Series(bands(probability, config)).value_counts(normalize=True)
    for name, share in BAND_SHARES.items():
        assert shares[name] == pytest.approx(share, abs=0.02)
    assert band_ranges(config)["A (very low)"] == (0.0, cuts[0])
    # probabilities that all but coincide still give five distinct cut-offs
    assert len(set(master_scale(np.full(100, 0.05), BAND_SHARES).values())) == 5


def test_the_hazard_model_predicts_its_horizon_from_the_one_period_chance():
    X, y = loan_book(3000)
    one = CreditRiskClassifier(n_estimators=60, early_stopping_rounds=10).fit(X, y)
    year = CreditRiskClassifier(n_estimators=60, early_stopping_rounds=10, periods=12).fit(X, y)
    h = one.predict_proba(X)[:, 1]
    assert np.allclose(year.predict_proba(X)[:, 1], 1 - (1 - h) ** 12)
    assert np.allclose(year.predict_proba(X).sum(axis=1), 1.0)
    # the booster MLflow hands back predicts the horizon once told the periods it was logged with
    loaded = CreditRiskClassifier.from_booster(year.booster_model_, periods=12)
    assert np.allclose(loaded.predict_proba(X)[:, 1], year.predict_proba(X)[:, 1])
    with pytest.raises(ValueError, match="periods must be a whole number"):
        CreditRiskClassifier(periods=0).fit(X, y)


def test_the_baseline_learns_one_period_and_an_earlier_run_s_configuration_still_reads():
    from models.credit_risk import baseline
    from models.credit_risk.train import CreditRiskConfig, block_training, embargo

    X, y = loan_book(2000)
    X = X.assign(region=np.where(np.arange(len(X)) % 7 == 0, None, np.where(np.arange(len(X)) % 2, "a", "b")))
    pipeline = baseline.logistic_one_hot(X, y, C=0.1, min_frequency=50)
    one = pipeline.predict_proba(X)[:, 1]
    assert np.allclose(baseline.probability(pipeline, X, 12), 1 - (1 - one) ** 12)
    assert "region" in baseline.categorical_columns(X)
    # a run logged before the hazard model: a null embargo meant the horizon less one month
    earlier = CreditRiskConfig.model_validate_json('{"embargo_months": null, "estimator": {"balance_classes": true}}')
    assert embargo(earlier) == 11 and embargo(CreditRiskConfig()) == 0
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    assert block_training(months, ["2024-10"], CreditRiskConfig()) == months[:9]
    assert block_training(months, ["2024-10"], CreditRiskConfig(embargo_months=2)) == months[:7]

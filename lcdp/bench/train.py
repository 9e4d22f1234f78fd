"""``lcdp bench train``: the credit model's training on a million business-months, beside
plain ``xgboost.train`` on the same matrix in the same run.

The frame has the shape of ``gold.merchant_month_features`` (25 numeric columns with gaps,
region, industry and registry status as categories, about 5 % events, 24 months of each of
rows/24 businesses). Our side is ``CreditRiskClassifier.fit`` as training runs it: early
stopping on folds of whole businesses to choose the number of trees, then the refit on every
row, then the prior correction. The peer trains that many trees once, with the same parameters, on the same rows.
Each side runs in a fresh interpreter; seconds exclude imports and reading the file. With
rows/24 businesses, a million rows have far more than 2000 businesses with an event, so our
side stops early on one grouped fold, not five.
"""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from lcdp.bench.stages import measure

NUMERIC = 25


def feature_frame(rows: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    businesses = -(-rows // 24)  # 24 months each; the last may be shorter
    business = np.repeat(np.arange(businesses), 24)[:rows]
    latent = rng.normal(size=businesses)[business]
    frame = pd.DataFrame({f"x{i:02d}": rng.normal(size=rows) + (0.6 * latent if i < 5 else 0.0) for i in range(NUMERIC)})
    frame.loc[rng.random(rows) < 0.05, "x03"] = np.nan
    frame["sigun_cd"] = pd.Categorical(rng.choice([f"41{i:03d}" for i in range(31)], rows))
    frame["industry_code"] = pd.Categorical(rng.choice([f"{i:04d}" for i in range(10)], rows))
    frame["registry_status"] = pd.Categorical(rng.choice(["active", "suspended", None], rows, p=[0.6, 0.05, 0.35]))
    frame["business"] = business
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-(-3.2 + 1.1 * latent)))).astype(int)
    return frame


def bench_train(rows: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "features.parquet"
        feature_frame(rows).to_parquet(data, index=False)
        setup = f"""
            import pandas as pd
            frame = pd.read_parquet({str(data)!r})
            X, y, groups = frame.drop(columns=["business", "label"]), frame["label"].to_numpy(), frame["business"].to_numpy()
        """
        ours = measure(setup + """
            from models.credit_risk.estimator import CreditRiskClassifier
        """, """
            model = CreditRiskClassifier().fit(X, y, groups=groups)
            result = {"trees": model.best_iteration_ + 1, "class_weight": model.class_weight_}
        """)
        estimator_defaults = _defaults()
        peer = measure(setup + "\n            import xgboost as xgb\n", f"""
            params = {estimator_defaults!r}
            params["scale_pos_weight"] = {ours["class_weight"]!r}
            matrix = xgb.DMatrix(X, label=y, enable_categorical=True)
            booster = xgb.train(params, matrix, num_boost_round={ours["trees"]})
            result = {{"trees": {ours["trees"]}}}
        """)
    return {
        "stage": "train",
        "input": {"business_months": rows, "features": NUMERIC + 3, "event_rate": 0.05},
        "lcdp_credit_risk_fit": ours,
        "xgboost_train": peer,
        "ratio_seconds": round(ours["seconds"] / peer["seconds"], 2),
        "ratio_peak_rss": round(ours["peak_rss_mib"] / peer["peak_rss_mib"], 2),
        "note": "ours = early stopping on business-grouped folds to choose the trees (xgboost.cv; one fold when "
                "2000 or more businesses have an event, as here, else five) + the refit on every row + the prior "
                "correction; the peer trains the same number of trees once with the same parameters. The ratio is "
                "the platform's overhead, nearly all of it the early-stopping fold(s).",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def _defaults() -> dict:
    """The booster parameters ``CreditRiskClassifier`` trains with by default."""
    from models.credit_risk.estimator import CreditRiskClassifier

    d = CreditRiskClassifier()
    return {"objective": "binary:logistic", "eval_metric": "logloss", "eta": d.learning_rate, "max_depth": d.max_depth,
            "min_child_weight": d.min_child_weight, "subsample": d.subsample, "colsample_bytree": d.colsample_bytree,
            "lambda": d.reg_lambda, "tree_method": "hist", "max_cat_threshold": d.max_cat_threshold,
            "seed": d.random_state}

"""Models DAG: train → gate → score, scheduled on the gold Assets fusion publishes.

For each model, one task trains it on the lake, registers the new version as ``challenger``
and runs the promotion gate (``champion`` moves only when it passes); the next scores with
whichever version is champion then, so the lake's scores follow the features even when a
challenger was refused. A lake with too little history skips training, saying why; scoring
skips while a model has no champion. Wiring only: the work lives in ``models/``.
"""

import datetime as dt

from airflow.sdk import Asset, Param, dag, task

GOLD_INPUTS = {"credit-risk": "gold.merchant_month_features", "spending-pattern": "gold.spending_cube"}
OUTPUTS = {"credit-risk": "gold.credit_risk_scores", "spending-pattern": "gold.spending_forecasts"}


def lake_asset(name: str) -> Asset:
    layer, table = name.split(".", 1)
    return Asset(name=name, uri=f"lcdp://{layer}/{table}")


@dag(
    dag_id="lcdp_models",
    description="train and gate the credit-risk and spending models, then score with the champions",
    schedule=lake_asset(GOLD_INPUTS["credit-risk"]) | lake_asset(GOLD_INPUTS["spending-pattern"]),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # two trainings at once would race for the champion alias
    dagrun_timeout=dt.timedelta(hours=3),
    params={"oracle": Param("", type="string",
                            description="Folder `lcdp generate` wrote: report the oracle beside the models")},
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=2),
                  "execution_timeout": dt.timedelta(hours=1)},
    tags=["lcdp", "models"],
)
def lcdp_models():
    for model in ("credit-risk", "spending-pattern"):
        slug = model.replace("-", "_")

        @task(task_id=f"train_and_gate_{slug}")
        def train_and_gate(name: str = model, params: dict | None = None) -> dict:
            from pathlib import Path

            from airflow.exceptions import AirflowSkipException

            from lcdp.settings import load_settings
            from models.credit_risk import train as credit
            from models.spending_pattern import train as spending

            oracle = (params or {}).get("oracle") or None
            module = credit if name == "credit-risk" else spending
            try:
                result = module.train(load_settings(), oracle_dir=Path(oracle) if oracle else None)
            except (credit.InsufficientData, spending.InsufficientHistory) as exc:
                raise AirflowSkipException(str(exc)) from None
            return result.summary() | {"gate": result.gate.why() if result.gate else ""}

        @task(task_id=f"score_{slug}", outlets=[lake_asset(OUTPUTS[model])], trigger_rule="none_failed")
        def score(name: str = model) -> dict:
            from airflow.exceptions import AirflowSkipException

            from lcdp.settings import load_settings
            from models import scoring, tracking

            job = scoring.score_credit_risk if name == "credit-risk" else scoring.score_spending_pattern
            try:
                return job(load_settings()).model_dump(mode="json")
            except tracking.NoChampion as exc:
                raise AirflowSkipException(str(exc)) from None

        train_and_gate() >> score()


models_dag = lcdp_models()

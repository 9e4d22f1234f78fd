"""Models DAG: train → gate → score → monitor, scheduled on the gold Assets fusion publishes.

For each model of ``schemas/lake.py``, one task trains it on the lake, registers
the new version as ``challenger`` and runs the promotion gate (``champion`` moves only when it
passes); the next scores with whichever version is champion then, so the lake's scores follow
the features even when a challenger was refused. The DAG runs when any model's features
table has a new version. A run whose inputs hold the data the newest version was trained on
skips training ("nothing new": no version is registered twice, the champion stays), and
scoring skips when the champion already scored that data; a lake with too little history
skips training, saying why; scoring skips while a model has no champion. Then ``monitor``
measures the champions that scored the lake (drift of the credit model's features and score
against its training window, realized AUC, calibration and forecast error on the months whose
outcomes have arrived) into ``gold.model_monitoring``; it runs when training or scoring
skipped, and skips itself when it measured the same versions on the same data. Wiring only:
the work lives in ``lcdp.pipeline.models``, ``lcdp.pipeline.monitoring`` and ``models/``.
"""

import datetime as dt

from airflow.sdk import Param, dag, task

from schemas.lake import MODELS, MONITORING, any_of, asset


@dag(
    dag_id="lcdp_models",
    description="train and gate the credit-risk and spending models, score with the champions, then monitor them",
    schedule=any_of(m.features for m in MODELS),
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
    @task(task_id="monitor", outlets=[asset(MONITORING.name)], trigger_rule="none_failed")
    def monitor() -> dict:
        from lcdp.pipeline import monitoring
        from lcdp.pipeline.airflow import task_outcome
        from lcdp.settings import load_settings

        with task_outcome("monitoring the models"):
            return monitoring.monitor(load_settings(), only_if_new=True).model_dump(mode="json")

    measured = monitor()
    for model in MODELS:
        slug = model.name.replace("-", "_")

        @task(task_id=f"train_and_gate_{slug}")
        def train_and_gate(name: str = model.name, params: dict | None = None) -> dict:
            from pathlib import Path

            from lcdp.pipeline import models
            from lcdp.pipeline.airflow import task_outcome
            from lcdp.settings import load_settings

            oracle = (params or {}).get("oracle") or None
            with task_outcome(f"training {name}"):
                result = models.train(load_settings(), name, oracle_dir=Path(oracle) if oracle else None,
                                      only_if_new=True)
            return result.summary() | {"gate": result.gate.why() if result.gate else ""}

        @task(task_id=f"score_{slug}", outlets=[asset(model.scores.name)], trigger_rule="none_failed")
        def score(name: str = model.name) -> dict:
            from lcdp.pipeline import models
            from lcdp.pipeline.airflow import task_outcome
            from lcdp.settings import load_settings

            with task_outcome(f"scoring {name}"):
                return models.score(load_settings(), name, only_if_new=True).model_dump(mode="json")

        train_and_gate() >> score() >> measured


models_dag = lcdp_models()

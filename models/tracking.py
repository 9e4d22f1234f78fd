"""MLflow for both models: where runs go, which lake tables (and versions) a run read, and
the registry's aliases.

The store is the platform's (``Settings.mlflow_uri``: SQLite in the home by default,
PostgreSQL in production) with artifacts under ``<home>/mlartifacts``. A run names every
Delta table it read with ``mlflow.log_input`` (a ``DeltaDatasetSource`` with the version), and
pins those versions so vacuum keeps them: ``--reproduce`` reads the same rows by time travel.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from lcdp import declarations, log
from lcdp.errors import NoChampion, UnknownRun
from lcdp.lake import catalog, maintenance
from lcdp.settings import Settings

CHAMPION, CHALLENGER = "champion", "challenger"

#: the libraries whose loggers ``quiet_libraries`` turns down to errors
NOISY_LOGGERS = ("mlflow", "alembic", "optbinning", "xgboost", "sklearn", "matplotlib", "py.warnings")


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Inside: the libraries' warnings (the ``warnings`` module's, and their loggers' below
    ERROR) are not printed. ``lcdp train credit-risk --reproduce RUN`` printed 17 lines of them
    (MLflow's hint that integer columns cannot hold missing values, once per table read, its
    unresolved pip version, its notes on the active model and on the evaluator's model type,
    scikit-learn's ill-defined precision at a 0.5 threshold no one uses), none of which a user
    of the platform can act on; the platform's own log lines (structlog) and every error still
    come through."""
    import mlflow  # noqa: F401 - importing it configures its loggers, which would undo ours

    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def client(settings: Settings):
    """An ``MlflowClient`` on the platform's store (and the fluent API pointed at it)."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    # the platform reads back small artifacts (a backtest, the bands): no progress bars on stderr
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return MlflowClient(settings.mlflow_uri, settings.mlflow_uri)


def experiment_id(settings: Settings, name: str) -> str:
    """The experiment's id, created with its artifacts under the home on first use."""
    mlflow_client = client(settings)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = settings.mlflow_artifact_root / name
    location.mkdir(parents=True, exist_ok=True)
    return mlflow_client.create_experiment(name, artifact_location=location.as_uri())


@contextmanager
def run(settings: Settings, experiment: str, run_name: str) -> Iterator[object]:
    import mlflow

    experiment_id_ = experiment_id(settings, experiment)
    with mlflow.start_run(experiment_id=experiment_id_, run_name=run_name) as active:
        yield active


def log_lake_input(settings: Settings, name: str, version: int, frame: pd.DataFrame, context: str,
                   run_id: str) -> None:
    """Record that the run read ``name`` at ``version`` (``frame``: the rows it read, for the
    digest and schema), and pin that version for reproduction."""
    import mlflow
    from mlflow.data.delta_dataset_source import DeltaDatasetSource

    source = DeltaDatasetSource(path=catalog.table(name).uri(settings), delta_table_version=version)
    sample = frame.head(1000).copy()
    for column in sample.columns:  # MLflow's schema inference knows no categoricals
        if isinstance(sample[column].dtype, pd.CategoricalDtype):
            sample[column] = sample[column].astype(str)
    with quiet_libraries():  # MLflow's hint that integer columns cannot hold missing values
        dataset = mlflow.data.from_pandas(sample, source=source, name=f"{name}@v{version}")
        mlflow.log_input(dataset, context=context, tags={"table": name, "version": str(version)})
    maintenance.pin(settings, name, version, pinned_by=f"mlflow-run:{run_id}")


def lake_inputs(settings: Settings, run_id: str) -> dict[str, int]:
    """The lake tables a run read, with their versions (from its logged inputs; the
    evaluation's own dataset input names no table and is skipped)."""
    found: dict[str, int] = {}
    for dataset_input in client(settings).get_run(run_id).inputs.dataset_inputs:
        tags = {t.key: t.value for t in dataset_input.tags}
        if "table" in tags:
            version = json.loads(dataset_input.dataset.source).get("delta_table_version", tags["version"])
            found[tags["table"]] = int(version)
    return found


def newest_version(settings: Settings, model: str):
    """The model's newest registered version, or None while it has none."""
    from mlflow.exceptions import MlflowException

    try:
        found = client(settings).search_model_versions(f"name='{model}'")
    except MlflowException:
        return None
    return max(found, key=lambda v: int(v.version), default=None)


def alias_version(settings: Settings, model: str, alias: str):
    """The model version holding ``alias``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client(settings).get_model_version_by_alias(model, alias)
    except MlflowException:
        return None


def champion(settings: Settings, model: str):
    """The champion version; ``NoChampion`` says how to get one."""
    found = alias_version(settings, model, CHAMPION)
    if found is None:
        raise NoChampion(f"model {model!r} has no champion yet: train it first "
                         f"(`lcdp train {declarations.model(model).name}`, or the demo); "
                         "a version becomes champion when it passes the promotion gate")
    return found


def registry_listing(settings: Settings) -> list[dict]:
    """Every version of the platform's registered models, newest first, with its aliases, its
    gate decision and its run's holdout metrics."""
    mlflow_client = client(settings)
    rows = []
    for registered in (m.registered for m in declarations.MODELS):
        if not mlflow_client.search_registered_models(f"name = '{registered}'"):
            continue
        # search results leave a version's aliases out: the registered model has them
        aliases = mlflow_client.get_registered_model(registered).aliases
        for version in sorted(mlflow_client.search_model_versions(f"name = '{registered}'"),
                              key=lambda v: -int(v.version)):
            metrics = mlflow_client.get_run(version.run_id).data.metrics if version.run_id else {}
            rows.append({"model": registered, "version": int(version.version), "aliases": sorted(a for a, v in aliases.items() if int(v) == int(version.version)),
                         "gate": version.tags.get("gate", ""), "gate_reason": version.tags.get("gate_reason", ""),
                         "metrics": {k.removeprefix("holdout_"): v for k, v in sorted(metrics.items())
                                     if k.startswith("holdout_") and not k.endswith(("_rows", "_events"))},
                         "oracle": {k: v for k, v in metrics.items() if k.startswith("oracle_")},
                         "run_id": version.run_id})
    return rows


#: how the names of metrics that count things end (rows, events, businesses, cells): shown as
#: whole numbers, every other metric (a ratio, an AUC, a WAPE) with 4 decimals
COUNT_SUFFIXES = ("rows", "events", "businesses", "cells", "iteration")


def metric_text(name: str, value: float) -> str:
    """A metric as people read it: ``event_businesses 92``, ``auc 0.8168``."""
    return f"{value:,.0f}" if name.endswith(COUNT_SUFFIXES) else f"{value:.4f}"


def training_run(settings: Settings, run_id: str, experiment: str):
    """The logged training run ``run_id`` of ``experiment``; ``UnknownRun`` says what it is not."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client(settings)
    try:
        run = mlflow_client.get_run(run_id)
    except MlflowException:
        raise UnknownRun(f"no MLflow run {run_id!r} in {settings.mlflow_uri} (see `lcdp models`)") from None
    found = mlflow_client.get_experiment(run.info.experiment_id).name
    if found != experiment or "config" not in run.data.params:
        raise UnknownRun(f"run {run_id} is not a {experiment} training run (its experiment: {found!r})")
    return run


class Reproduction(BaseModel):
    """A logged run retrained from the table versions and parameters it logged."""

    run_id: str
    reproduced_run_id: str
    inputs: dict[str, int]
    original: dict[str, float]
    reproduced: dict[str, float]
    same: bool


def reproduction(settings: Settings, run, reproduced_run_id: str, inputs: dict[str, int],
                 metrics: dict[str, float]) -> Reproduction:
    """Compare a retrained run's holdout metrics with the original's; tag the new run."""
    client(settings).set_tag(reproduced_run_id, "reproduces", run.info.run_id)
    original = {k: run.data.metrics[k] for k in metrics}
    return Reproduction(run_id=run.info.run_id, reproduced_run_id=reproduced_run_id, inputs=inputs,
                        original=original, reproduced=metrics,
                        same=all(abs(original[k] - metrics[k]) < 1e-9 for k in original))


#: the demo's summary keys per model (``lcdp demo --json``): metric name in the summary → in the run
SUMMARY_METRICS = {
    "lcdp-credit-risk": {"auc": "holdout_auc", "ks": "holdout_ks", "brier": "holdout_brier",
                         "oracle_auc": "oracle_auc", "baseline_auc": "baseline_auc",
                         "holdout_events": "holdout_events", "holdout_event_businesses": "holdout_event_businesses"},
    "lcdp-spending-pattern": {"wape": "holdout_wape", "mase": "holdout_mase", "coverage": "coverage",
                              "seasonal_naive_wape": "seasonal_naive_wape", "auto_ets_wape": "auto_ets_wape",
                              "oracle_wape": "oracle_wape", "oracle_at_target_wape": "oracle_at_target_wape"},
}


def latest_versions(settings: Settings) -> dict[str, dict]:
    """Per model (``credit_risk``, ``spending_pattern``), its newest version: number, alias,
    gate decision and holdout metrics beside their oracle and baseline."""
    out = {}
    for row in registry_listing(settings):
        key = row["model"].removeprefix("lcdp-").replace("-", "_")
        if key in out:
            continue  # the listing is newest first
        metrics = client(settings).get_run(row["run_id"]).data.metrics
        alias = CHAMPION if CHAMPION in row["aliases"] else (row["aliases"] or [None])[0]
        out[key] = {"version": row["version"], "alias": alias, "gate": row["gate"],
                    "gate_reason": row["gate_reason"],
                    **{name: round(metrics[m], 5) if m in metrics else None
                       for name, m in SUMMARY_METRICS.get(row["model"], {}).items()},
                    **_judgement(settings, row["run_id"])}
    return out


def _judgement(settings: Settings, run_id: str) -> dict:
    """A run's comparisons (differences, and ratios such as WAPE over the oracle's) with their
    intervals (``[value, low, high]``) and, for the credit model, each risk band's share of
    the holdout and observed event rate, as it logged them."""
    intervals = run_json(settings, run_id, "intervals.json") or {}
    out: dict = {k: [v["value"], v["low"], v["high"]] for k, v in intervals.items() if "_minus_" in k or "_over_" in k}
    bands = run_json(settings, run_id, "band_backtest.json")
    if bands:
        out["bands"] = {b["band"][:1]: {"share": b["share"], "observed": b["observed"]} for b in bands}
    return out


def run_json(settings: Settings, run_id: str, path: str):
    """A JSON artifact of a run, or None when it logged none."""
    import json
    import tempfile

    from mlflow.exceptions import MlflowException

    try:
        with tempfile.TemporaryDirectory() as scratch:
            return json.loads(Path(client(settings).download_artifacts(run_id, path, scratch)).read_text())
    except (MlflowException, OSError, ValueError):
        return None


def apply_gate(settings: Settings, model: str, version: int, rules: list, champion, tags: dict[str, str]):
    """Record the gate's decision on the new version (tags), give it ``challenger``, and
    ``champion`` when every rule passed, then write its model card; returns the decision."""
    from models.gate import GateDecision

    decision = GateDecision(promoted=all(r.passed for r in rules), challenger_version=version,
                            champion_version=int(champion.version) if champion is not None else None, rules=rules)
    mlflow_client = client(settings)
    mlflow_client.set_registered_model_alias(model, CHALLENGER, version)
    for key, value in {"gate": "promoted" if decision.promoted else "refused", "gate_reason": decision.why(),
                       **tags}.items():
        mlflow_client.set_model_version_tag(model, str(version), key, value[:5000])
    if decision.promoted:
        mlflow_client.set_registered_model_alias(model, CHAMPION, version)
    write_card(settings, model, version, decision)
    return decision


def write_card(settings: Settings, model: str, version: int, decision) -> None:
    """Give the version its model card (``models.card``: its description and its run's
    ``model_card.md``), holding the gate's ``decision``. The version is registered and its
    aliases set by now: a card that cannot be written is a warning, not a lost version."""
    from models import card

    try:
        card.write(settings, model, version, decision)
    except Exception as exc:  # noqa: BLE001 - any failure of the card leaves the version as the gate set it
        log.get(__name__).warning("model_card.not_written", model=model, version=version,
                                  error=f"{type(exc).__name__}: {exc}")


def logged_oracle(run) -> Path | None:
    """The oracle folder a run used, if it is still there."""
    oracle = run.data.params.get("oracle_dir") or None
    return Path(oracle) if oracle and (Path(oracle) / "truth").is_dir() else None

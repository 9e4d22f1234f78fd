"""Monitoring as a declared step (``lcdp.declarations.MONITORING``): after the champions have
scored the lake, measure them (``models.monitoring``) and write ``gold.model_monitoring``,
the same for ``lcdp monitor`` and the models DAG's ``monitor`` task.

Each model is measured as the version that wrote its outputs (the lineage of its scores
table names it), against what its MLflow run logged: the credit model's training window
(``trained_through``, and the table versions it read, pinned, so its training rows are read
as it read them) and holdout AUC; each published spending forecast beside the holdout WAPE
of the version that published it. One version of the table holds both models' rows;
a model that cannot be measured yet (no champion, no scores) is left out, saying why. A new
version is written only when an input's data or a measured model version changed.
"""

from __future__ import annotations

import time

import pandas as pd
from pydantic import BaseModel

from lcdp import declarations, log
from lcdp.errors import LcdpError, NoChampion, NothingNew
from lcdp.lake import catalog, engine, lineage
from lcdp.pipeline.outcome import RefreshMode
from lcdp.settings import Settings

_log = log.get(__name__)

TABLE = declarations.MONITORING
#: who pins the versions of the forecasts table monitoring reads (``lcdp maintain`` keeps them)
PINNED_BY = "monitoring"


class MonitorResult(BaseModel):
    """What one monitoring run wrote (``lcdp monitor`` prints it)."""

    table: str
    version: int
    rows: int
    models: dict[str, int]  # registered model → the version measured
    inputs: dict[str, int]
    flagged: list[str]  # credit features (or "score") whose PSI is above the threshold in the latest month
    beyond_training: list[str]  # ... of them, further than any month of the training window was
    watch: list[str]  # ... above the watch level, not flagged
    latest_month: str | None
    skipped: dict[str, str]  # registered model → why it was not measured
    seconds: float


def _measured_version(settings: Settings, name: str) -> int:
    """The version of model ``name`` whose outputs are in its scores table (the champion
    while it has written none); ``NoChampion`` while there is neither."""
    from models import tracking

    declared = declarations.model(name)
    written = catalog.version(declared.scores.name, settings) is not None
    last = lineage.latest(declared.scores.name, settings) if written else None
    if last is not None and last.get("model_version") is not None:
        return int(last["model_version"])
    return int(tracking.champion(settings, declared.registered).version)


def _run(settings: Settings, registered: str, version: int):
    from models import tracking

    client = tracking.client(settings)
    return client.get_run(client.get_model_version(registered, str(version)).run_id)


def _read(settings: Settings, name: str, version: int | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    return catalog.to_arrow(name, settings, version, columns).to_pandas()


def _credit_inputs(settings: Settings) -> dict[str, int]:
    declared = declarations.model("credit-risk")
    names = [*declared.inputs, declared.scores.name]
    return _current(settings, names)


def _spending_inputs(settings: Settings) -> dict[str, int]:
    declared = declarations.model("spending-pattern")
    return _current(settings, [declared.features, declared.scores.name])


def _current(settings: Settings, names: list[str]) -> dict[str, int]:
    versions = {name: catalog.version(name, settings) for name in names}
    missing = [name for name, version in versions.items() if version is None]
    if missing:
        raise NoChampion(f"{', '.join(missing)} not written yet: nothing to measure (`lcdp fuse`, `lcdp score`)")
    return versions  # type: ignore[return-value]


def credit(settings: Settings, version: int, inputs: dict[str, int]) -> pd.DataFrame:
    """The credit champion ``version``'s rows: drift of its features and score against its
    training window, realized AUC and calibration."""
    from models import monitoring, tracking
    from models.credit_risk import labels
    from models.credit_risk.train import CreditRiskConfig, feature_columns

    declared = declarations.model("credit-risk")
    run = _run(settings, declared.registered, version)
    params = run.data.params
    trained_through = params.get("trained_through")
    if not trained_through:
        raise NoChampion(f"{declared.registered} v{version} logged no training window (trained_through): "
                         f"retrain it (`lcdp train {declared.name} --again`) to monitor it")
    config = CreditRiskConfig.model_validate_json(params["config"]) if "config" in params else CreditRiskConfig()
    merchants, guarantees = declared.labels

    def frames(versions: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
        features = _read(settings, declared.features, versions[declared.features])
        events = labels.credit_events(_read(settings, merchants, versions[merchants]),
                                      _read(settings, guarantees, versions[guarantees]))
        return features, events

    features, events = frames(inputs)
    trained_on = tracking.lake_inputs(settings, run.info.run_id)
    if all(trained_on.get(n) == inputs[n] for n in declared.inputs):
        reference_features, reference_events = features, events
    else:
        logged = {n: trained_on.get(n, inputs[n]) for n in declared.inputs}
        try:
            reference_features, reference_events = frames(logged)
        except Exception as gone:  # noqa: BLE001 - its pins were removed and the versions vacuumed
            _log.warning("monitoring.training_inputs_gone", model=declared.registered, version=version,
                         inputs=logged, error=str(gone))
            reference_features, reference_events = features, events
    dropped = {c for c in params.get("dropped_features", "").split(",") if c}
    used = [c for c in feature_columns(features, config.exclude_features) if c not in dropped]
    scores = _read(settings, declared.scores.name, inputs[declared.scores.name],
                   ["business_key", "month", "probability"])
    return monitoring.credit_monitoring(
        monitoring.population(features, events, config.horizon_months),
        monitoring.training_rows(reference_features, reference_events, trained_through, config.horizon_months),
        scores, used, trained_through, declared.registered, version, run.data.metrics.get("holdout_auc"))


def spending(settings: Settings, version: int, inputs: dict[str, int]) -> pd.DataFrame:
    """The spending forecaster's rows: the realized WAPE of every forecast it published (each
    version of its forecasts table, read by time travel and pinned) whose month has arrived."""
    from lcdp.lake import maintenance
    from models import monitoring

    declared = declarations.model("spending-pattern")
    forecasts = declared.scores.name
    published, holdout = [], {}
    for entry in lineage.entries(forecasts, settings):  # newest first
        data_version = entry.get("data_version")
        if data_version is None or data_version > inputs[forecasts]:
            continue
        try:
            rows = _read(settings, forecasts, data_version, ["level", "sigun_cd", "industry_code", "month", "origin",
                                                             "forecast", "model_version"])
        except Exception as gone:  # noqa: BLE001 - vacuumed before anything pinned it: that origin is lost
            _log.warning("monitoring.forecasts_gone", table=forecasts, version=data_version, error=str(gone))
            continue
        maintenance.pin(settings, forecasts, data_version, pinned_by=PINNED_BY)
        published.append(rows)
    cells = monitoring.published_cells(published)
    for model_version in cells["model_version"].unique():
        run = _run(settings, declared.registered, int(model_version))
        holdout[int(model_version)] = run.data.metrics.get("holdout_wape")
    cube = _read(settings, declared.features, inputs[declared.features], ["sigun_cd", "industry_code", "month", "spending"])
    wape = monitoring.realized_wape(cells, monitoring.cell_actuals(cube))
    return monitoring.spending_monitoring(wape, declared.registered, holdout)


#: each model's measuring step and the lake tables it reads (besides its model)
MEASURES = {"credit-risk": (credit, _credit_inputs), "spending-pattern": (spending, _spending_inputs)}


def monitor(settings: Settings, only_if_new: bool = False) -> MonitorResult:
    """Measure every model that has scored the lake and write ``gold.model_monitoring``;
    ``NoChampion`` when none can be measured. ``only_if_new``: raise ``NothingNew`` instead
    when the last version measured the same model versions on the same data."""
    from models import monitoring, tracking

    started = time.perf_counter()
    plan: dict[str, tuple[int, dict[str, int]]] = {}
    skipped: dict[str, str] = {}
    for name, (_, inputs_of) in MEASURES.items():
        registered = declarations.model(name).registered
        try:
            plan[name] = (_measured_version(settings, name), inputs_of(settings))
        except LcdpError as why:
            if not why.skips_task:
                raise
            skipped[registered] = str(why)
    if not plan:
        raise NoChampion(f"no model to monitor: {'; '.join(skipped.values())}")
    inputs = {table: version for _, used in plan.values() for table, version in used.items()}
    versions = {declarations.model(name).registered: version for name, (version, _) in plan.items()}
    written = catalog.version(TABLE.name, settings) is not None
    last = lineage.latest(TABLE.name, settings) if only_if_new and written else None
    if (last is not None and last.get("model_versions") == versions
            and catalog.same_data(settings, last.get("inputs") or {}, inputs)):
        raise NothingNew(f"{TABLE.name}: already measured {_named(versions)} on the same data")
    parts = []
    for name, (version, used) in plan.items():
        try:
            with tracking.quiet_libraries():
                parts.append(MEASURES[name][0](settings, version, used))
        except LcdpError as why:
            if not why.skips_task:
                raise
            registered = declarations.model(name).registered
            skipped[registered] = str(why)
            versions.pop(registered)
    if not parts:
        raise NoChampion(f"no model to monitor: {'; '.join(skipped.values())}")
    frame = pd.concat(parts, ignore_index=True)
    spark = engine.spark(settings)
    data_version = catalog.overwrite_where(spark.createDataFrame(frame, monitoring.OUTPUT_DDL), TABLE.name, settings,
                                           TABLE.partition, None)
    lineage.record(TABLE.name, settings, data_version, inputs, mode=RefreshMode.FULL,  # type: ignore[arg-type]
                   scope=f"the champions' drift and realized performance: {_named(versions)}", model_versions=versions,
                   skipped=skipped)
    drift = monitoring.latest_drift(frame)
    result = MonitorResult(table=TABLE.name, version=catalog.version(TABLE.name, settings), rows=len(frame),
                           models=versions, inputs=inputs, flagged=[d.feature for d in drift.flagged] if drift else [],
                           beyond_training=[d.feature for d in drift.flagged if d.beyond_training] if drift else [],
                           watch=[d.feature for d in drift.watch] if drift else [],
                           latest_month=f"{drift.month:%Y-%m}" if drift else None,
                           skipped=skipped, seconds=round(time.perf_counter() - started, 1))
    _log.info("monitoring.done", table=TABLE.name, version=result.version, rows=result.rows, models=versions,
              flagged=result.flagged, beyond_training=result.beyond_training, skipped=skipped)
    return result


def _named(versions: dict[str, int]) -> str:
    return ", ".join(f"{model} v{version}" for model, version in versions.items())

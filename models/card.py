"""The model card every registered version carries: what the model is for and not for, the
lake tables (and Delta versions) and months it learnt from, its holdout metrics with their
90 % intervals beside the baseline and the oracle, the risk bands' backtest, the gate's
decision and the model's known limits.

``render`` turns plain data (``ModelCard``) into Markdown and reads nothing; ``write`` gathers
that data from MLflow when the gate has decided (``tracking.apply_gate``) and puts the card in
two places: the registered version's description (what MLflow's UI shows on the version's
page) and the artifact ``model_card.md`` of the version's training run. ``text`` reads it back
for ``lcdp models card``.

The card is generic over the metrics a run logged: a metric ``x`` with ``x_low`` and
``x_high`` is shown as ``value (low; high)``, any other as its value, so a model that renames
or adds a metric needs no change here. Only the fixed text (purpose, limits) is per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from lcdp import declarations
from lcdp.errors import NotFound
from lcdp.settings import Settings
from models import tracking
from models.gate import GateDecision, Rule

#: the artifact of the training run that holds the card
ARTIFACT = "model_card.md"
#: MLflow's SQL store keeps a version's description in a VARCHAR(5000)
DESCRIPTION_LIMIT = 5000


@dataclass(frozen=True)
class Purpose:
    """What a model is for, what it is not for, and what it cannot know (fixed per model)."""

    intended: str
    not_intended: str
    limits: tuple[str, ...]


PURPOSES: dict[str, Purpose] = {
    declarations.model("credit-risk").registered: Purpose(
        intended="The probability that a small business has a credit event (its closure, or a default on a "
                 "guaranteed loan) in the 12 months after a month, and its risk band: for targeting local "
                 "policy (support programmes, monitoring) on groups of businesses, read in aggregate.",
        not_intended="Not for individual lending, guarantee or pricing decisions about one business, nor for "
                     "any decision a business is not told about: the features are a small part of what a "
                     "lender must weigh, and the reasons are the model's, not a credit assessment.",
        limits=(
            "Trained and judged on a synthetic world (the platform's generator): its figures say how the "
            "method does on that world, not how it does on real businesses.",
            "Judged out of time on at most the 12 latest months with complete labels, in blocks of 3, each "
            "predicted by a model trained only on the labels known at the block's first month; a world of "
            "few businesses holds few events in that holdout, and its intervals are wide.",
            "The model learns the chance of an event in the next month and holds it for 12 months (a "
            "discrete-time hazard): a business whose risk moves within the year is judged at today's level.",
            "The master scale's bands are fixed at training; a riskier population fills D and E rather than "
            "moving the cut-offs.",
        )),
    declarations.model("spending-pattern").registered: Purpose(
        intended="Forecasts of card spending 1 to 3 months ahead for the province, each 시군 and each "
                 "시군 × industry, reconciled so the cells add up to their region: for planning budgets, "
                 "campaigns and the local currency's issuance.",
        not_intended="Not for judging a single shop or business (no shop-level forecast exists, and a cell's "
                     "forecast says nothing about any shop in it), nor for horizons beyond 3 months.",
        limits=(
            "Trained and judged on a synthetic world (the platform's generator): its figures say how the "
            "method does on that world, not on real spending.",
            "The horizon is 1 to 3 months from an origin; the run judges the 6 latest origins whose months have "
            "arrived, so a season they do not cover (설날, 추석) is judged on fewer months or none.",
            "The forecasts know the businesses trading at the origin: a shop that opens or closes in the horizon "
            "is a surprise, and a cell of a few shops can move by a large share when one does.",
            "Spending the lake did not receive (quarantined rows, refunds, shops without a registry row) is "
            "not in the target: the forecasts are of the payments the lake holds.",
        )),
}

#: the run's parameters (and tags) that say which period it learnt from and was judged on
PERIOD = {"trained_through": "trained through", "origin": "forecast origin (last training month)",
          "origins": "judged from the origins",
          "horizon_months": "horizon (months)", "holdout_months": "holdout months",
          "blocks": "holdout blocks", "embargo_months": "embargo (months)"}
#: who a figure belongs to, by its name's first word: the order in which the card shows them
WHO = ("holdout", "model", "baseline", "oracle")
#: the band backtest's columns, as the card heads them
BAND_COLUMNS = {"band": "band", "low": "from", "high": "to", "businesses": "businesses",
                "business_months": "business-months", "share": "share", "events": "events",
                "observed": "observed rate", "predicted": "predicted rate"}
PERCENT_COLUMNS = {"low", "high", "share", "observed", "predicted"}
#: the metrics MLflow's default evaluator logged (``mlflow.models.evaluate``) in runs before the
#: hazard model: it scored the registered model, which the credit run trains on every labelled
#: month, holdout included, so its figures are in-sample and the card keeps them out of the
#: holdout table
EVALUATOR_METRICS = frozenset({
    "accuracy_score", "example_count", "f1_score", "false_negatives", "false_positives", "log_loss",
    "precision_recall_auc", "precision_score", "recall_score", "roc_auc", "true_negatives", "true_positives",
    "max_error", "mean_absolute_error", "mean_absolute_percentage_error", "mean_on_target", "mean_squared_error",
    "r2_score", "root_mean_squared_error", "sum_on_target"})


class Figure(BaseModel):
    """One metric of the run, with its 90 % interval when it logged one."""

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None


class ModelCard(BaseModel):
    """Everything a card shows, as plain data."""

    model: str
    version: int
    run_id: str | None = None
    inputs: dict[str, int] = {}  # lake table → the Delta version the run read
    params: dict[str, str] = {}  # the run's parameters (and tags) naming its period
    metrics: dict[str, float] = {}
    intervals: dict[str, dict[str, float]] = {}  # intervals.json: figure → value, low, high
    bands: list[dict[str, Any]] = []  # band_backtest.json
    promoted: bool | None = None  # None: no gate has decided
    champion_version: int | None = None  # the champion the gate compared with
    rules: list[Rule] = []


# --------------------------------------------------------------------------- rendering


def figures(metrics: dict[str, float], intervals: dict[str, dict[str, float]] | None = None) -> list[Figure]:
    """Every metric as a figure: ``x`` with ``x_low`` and ``x_high`` (or ``intervals[x]``) is one
    figure with its interval; ordered so a measure's model, baseline and oracle sit together,
    the paired differences (``a_minus_b_x``) after them."""
    intervals = intervals or {}
    names = set(metrics) | set(intervals)
    bounded = {n for n in names if f"{n}_low" in metrics and f"{n}_high" in metrics} | set(intervals)
    bounds = {f"{n}_{end}" for n in bounded for end in ("low", "high")}
    out = []
    for name in names - bounds:
        logged = intervals.get(name, {})
        out.append(Figure(name=name, value=metrics.get(name, logged.get("value")),
                          low=metrics.get(f"{name}_low", logged.get("low")),
                          high=metrics.get(f"{name}_high", logged.get("high"))))
    return sorted(out, key=_order)


def _order(figure: Figure) -> tuple:
    first, _, rest = figure.name.partition("_")
    who = WHO.index(first) if first in WHO and rest else len(WHO)
    measure = rest if who < len(WHO) else figure.name
    return ("_minus_" in figure.name, figure.name.endswith(tracking.COUNT_SUFFIXES), measure, who)


def figure_text(figure: Figure) -> str:
    """``0.7523 (0.7201; 0.7840)``; a difference signed (``+0.0278 (+0.0041; +0.0510)``); a count
    as a whole number; a figure without its interval as its value."""
    sign = "+" if "_minus_" in figure.name else ""

    def number(value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:{sign}.4f}" if sign else tracking.metric_text(figure.name, value)

    if figure.low is None or figure.high is None:
        return number(figure.value)
    return f"{number(figure.value)} ({number(figure.low)}; {number(figure.high)})"


def render(card: ModelCard) -> str:
    """The card as Markdown: purpose, training data, metrics, bands, gate, limits."""
    purpose = PURPOSES.get(card.model)
    lines = [f"# Model card: {card.model} version {card.version}", ""]
    if card.run_id:
        lines += [f"Training run `{card.run_id}`.", ""]
    lines += ["## Intended use", "", purpose.intended if purpose else "Not stated for this model.", "",
              "## Not intended for", "", purpose.not_intended if purpose else "Not stated for this model.", ""]

    lines += ["## Training data", ""]
    if card.inputs:
        lines += [f"- `{table}` at Delta version {version}" for table, version in sorted(card.inputs.items())]
    else:
        lines.append("- the run logged no lake table")
    period = [f"- {label}: {card.params[key]}" for key, label in PERIOD.items()
              if card.params.get(key) not in (None, "", "None")]  # a default left unset is logged as None
    lines += ["", *period, ""] if period else [""]

    lines += ["## Holdout metrics", "",
              "Each with its 90 % interval as (low; high) when the run logged one; a_minus_b is the paired "
              "difference of two models on the same rows.", ""]
    shown = figures({k: v for k, v in card.metrics.items() if k not in EVALUATOR_METRICS}, card.intervals)
    if shown:
        lines += ["| metric | value (90 % interval) |", "|---|---|"]
        lines += [f"| {f.name} | {figure_text(f)} |" for f in shown]
    else:
        lines.append("The run logged no metric.")
    evaluated = sorted(k for k in card.metrics if k in EVALUATOR_METRICS)
    if evaluated:
        lines += ["", "MLflow's evaluator scored the registered model on the same rows (in-sample when it was "
                      "trained on them, so not a holdout figure): "
                  + ", ".join(f"{k} {_plain(card.metrics[k])}" for k in evaluated) + "."]
    lines.append("")

    if card.bands:
        columns = [c for c in BAND_COLUMNS if any(c in band for band in card.bands)]
        lines += ["## Risk bands on the holdout", "",
                  "| " + " | ".join(BAND_COLUMNS[c] for c in columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_band_cell(c, band.get(c)) for c in columns) + " |" for band in card.bands]
        lines.append("")

    lines += ["## Promotion gate", ""]
    if card.promoted is None:
        lines.append("No gate decision recorded.")
    else:
        against = (f" (compared with champion version {card.champion_version})"
                   if card.champion_version is not None else " (first version: compared with the baseline)")
        lines.append(f"**{'promoted' if card.promoted else 'refused'}**{against}.")
        if card.rules:
            lines.append("")
            lines += [f"- {r.name}: {'passed' if r.passed else 'FAILED'}: {r.detail}" for r in card.rules]
    lines.append("")

    lines += ["## Known limits", ""]
    lines += [f"- {limit}" for limit in purpose.limits] if purpose else ["- Not stated for this model."]
    return "\n".join(lines) + "\n"


def _plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.4f}"


def _band_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in PERCENT_COLUMNS and isinstance(value, (int, float)):
        return f"{value:.2%}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def description(text: str, run_id: str | None, limit: int = DESCRIPTION_LIMIT) -> str:
    """The card as the version's description: whole when it fits MLflow's ``limit``, else cut
    at a section and pointing to the artifact."""
    if len(text) <= limit:
        return text
    note = f"\n(cut to fit the version's description: the whole card is the artifact {ARTIFACT} of run {run_id})\n"
    head = text[: limit - len(note)]
    cut = head.rfind("\n## ")
    return (head[:cut] if cut > 0 else head) + note


# --------------------------------------------------------------------------- MLflow


def gather(settings: Settings, model: str, version: int, decision: GateDecision | None = None) -> ModelCard:
    """What the card of ``model`` ``version`` shows, read from its training run (inputs,
    parameters, metrics, intervals, bands) and ``decision``."""
    mlflow_client = tracking.client(settings)
    run_id = mlflow_client.get_model_version(model, str(version)).run_id
    card = ModelCard(model=model, version=version, run_id=run_id or None)
    if decision is not None:
        card = card.model_copy(update={"promoted": decision.promoted, "champion_version": decision.champion_version,
                                       "rules": decision.rules})
    if not run_id:
        return card
    run = mlflow_client.get_run(run_id)
    # a tag beats a parameter of the same name: the credit run's tag lists the holdout's months,
    # its parameter only counts them
    params = {**run.data.params, **{k: v.replace(",", ", ") for k, v in run.data.tags.items() if k in PERIOD}}
    return card.model_copy(update={
        "inputs": tracking.lake_inputs(settings, run_id),
        "params": {k: str(v) for k, v in params.items() if k in PERIOD},
        "metrics": dict(run.data.metrics),
        "intervals": _intervals(tracking.run_json(settings, run_id, "intervals.json")),
        "bands": tracking.run_json(settings, run_id, "band_backtest.json") or []})


def _intervals(logged: Any) -> dict[str, dict[str, float]]:
    """The figures of an ``intervals.json`` that are one figure with its interval (value, low,
    high); whatever else a model keeps there is not the card's."""
    if not isinstance(logged, dict):
        return {}
    return {name: {k: float(figure[k]) for k in ("value", "low", "high")} for name, figure in logged.items()
            if isinstance(figure, dict) and all(isinstance(figure.get(k), (int, float)) for k in ("value", "low", "high"))}


def write(settings: Settings, model: str, version: int, decision: GateDecision | None = None) -> str:
    """Render the card of ``model`` ``version`` and store it as the version's description and
    its run's ``model_card.md``; returns the card."""
    card = gather(settings, model, version, decision)
    text = render(card)
    mlflow_client = tracking.client(settings)
    if card.run_id:
        mlflow_client.log_text(card.run_id, text, ARTIFACT)
    mlflow_client.update_model_version(model, str(version), description=description(text, card.run_id))
    return text


def text(settings: Settings, model: str, version: int | None = None) -> tuple[int, str]:
    """The stored card of ``model`` ``version`` (default: the champion, else the newest
    version): its run's ``model_card.md``, else the version's description. ``NotFound`` when
    the model has no such version or the version has no card."""
    from mlflow.exceptions import MlflowException

    mlflow_client = tracking.client(settings)
    if version is None:
        found = tracking.alias_version(settings, model, tracking.CHAMPION) or tracking.newest_version(settings, model)
        if found is None:
            raise NotFound(f"model {model!r} has no registered version yet: train it first "
                           f"(`lcdp train {declarations.model(model).name}`)")
        version = int(found.version)
    try:
        registered = mlflow_client.get_model_version(model, str(version))
    except MlflowException:
        known = sorted(int(v.version) for v in mlflow_client.search_model_versions(f"name = '{model}'"))
        raise NotFound(f"model {model!r} has no version {version} "
                       f"(versions: {', '.join(map(str, known)) or 'none yet'}; see `lcdp models`)") from None
    stored = None
    if registered.run_id:
        with tracking.quiet_libraries():
            stored = _artifact_text(settings, registered.run_id)
    stored = stored or registered.description
    if not stored:
        raise NotFound(f"version {version} of {model!r} has no model card: it was registered before cards were "
                       "written (train the model again to get a version with one)")
    return version, stored


def _artifact_text(settings: Settings, run_id: str) -> str | None:
    import tempfile
    from pathlib import Path

    from mlflow.exceptions import MlflowException

    try:
        with tempfile.TemporaryDirectory() as scratch:
            return Path(tracking.client(settings).download_artifacts(run_id, ARTIFACT, scratch)).read_text(
                encoding="utf-8")
    except (MlflowException, OSError):
        return None

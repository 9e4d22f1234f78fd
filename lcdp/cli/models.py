"""The models: ``train``, ``score``, ``monitor`` and ``models`` (the registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lcdp import declarations
from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, err, out
from lcdp.errors import NothingNew, UnknownName, UsageError

app = typer.Typer()
MODEL_NAMES = tuple(declarations.model_names())
#: why an oracle column is empty
ORACLE_NOTE = ("oracle: empty for a version trained without --oracle DIR (the folder 'lcdp generate' wrote: "
               "the generator's truth, to judge the model against)")


def _known(model: str) -> str:
    try:
        return declarations.model(model).name
    except UnknownName:
        raise UsageError(f"unknown model {model!r} (known: {', '.join(MODEL_NAMES)})") from None


@app.command(epilog=GLOBAL_HELP)
def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help=f"{' or '.join(MODEL_NAMES)}.")],
    reproduce: Annotated[str | None, typer.Option(
        "--reproduce", metavar="RUN_ID",
        help="Retrain a logged run from the table versions and parameters it logged; compare its metrics.")] = None,
    oracle: Annotated[Path | None, typer.Option(
        help="The folder 'lcdp generate' wrote: report the generator's oracle beside the model.")] = None,
    again: Annotated[bool, typer.Option(
        "--again", help="Train and register a new version even when the inputs hold the data the newest "
                        "version was trained on.")] = False,
) -> None:
    """Train a model on the lake, judge it on the latest months, register it in MLflow and run
    the promotion gate (the new version is 'challenger'; 'champion' if it passes). When the
    inputs hold the data the newest version was trained on, it says so and registers nothing
    (``--again`` trains anyway)."""
    c = ctx_of(ctx)
    model = _known(model)
    if oracle is not None and not (oracle / "truth").is_dir():
        raise UsageError(f"{oracle} holds no generator truth (expected {oracle / 'truth'}; "
                         "give the folder 'lcdp generate' wrote)")
    from lcdp.pipeline import models
    from models import tracking
    from models.spending_pattern.train import SpendingResult

    try:
        with err.status(f"training {model}"):
            result = (models.reproduce(c.settings, model, reproduce) if reproduce
                      else models.train(c.settings, model, oracle_dir=oracle, only_if_new=not again))
    except NothingNew as nothing:
        why = str(nothing)
        emit(c, {"model": model, "registered": None, "why": why},
             lambda: out.print(f"{why} (--again trains anyway)", highlight=False))
        return

    def render() -> None:
        if isinstance(result, tracking.Reproduction):
            t = Table("metric", "original", "reproduced", title=f"run {result.run_id} reproduced as {result.reproduced_run_id}")
            for k, v in result.original.items():
                t.add_row(k, f"{v:.5f}", f"{result.reproduced[k]:.5f}")
            out.print(t)
            out.print("same metrics" if result.same else "metrics DIFFER", highlight=False)
            return
        if isinstance(result, SpendingResult):
            peers = ("forecast", "structural", "SeasonalNaive", "AutoETS", "oracle")
            t = Table("level", "h", "series", *(f"WAPE {p}" for p in peers), "MASE", "coverage", "pinball",
                      title=f"{result.model} v{result.version} ({result.alias}), origins {result.origins[0]} to "
                            f"{result.origins[-1]}, each judged 1-3 months ahead (h 0: every horizon)")
            for row in result.levels:
                t.add_row(row["level"], str(row["h"]), str(row["series"]),
                          *("" if row.get(f"wape_{p}") is None else f"{row[f'wape_{p}']:.4f}" for p in peers),
                          f"{row.get('mase_forecast') or 0:.3f}", f"{row['coverage']:.1%}", f"{row['pinball']:.4f}")
            out.print(t)
            i = Table("cells, 90 % interval over series", "value", title=None)
            for name, figure in result.intervals.items():
                i.add_row(name, figure.text())
            out.print(i)
            if result.oracle_wape is None:
                out.print(ORACLE_NOTE, highlight=False)
        else:
            t = Table("90 % interval over businesses", "model", "baseline", "oracle",
                      title=f"{result.model} v{result.version} ({result.alias})")
            for k in ("auc", "ks", "brier"):
                t.add_row(k, *(result.intervals[f"{who}_{k}"].text() if f"{who}_{k}" in result.intervals else ""
                               for who in ("model", "baseline", "oracle")))
            for pair in ("model_minus_oracle_auc", "baseline_minus_oracle_auc", "model_minus_baseline_auc"):
                if pair in result.intervals:
                    t.add_row(pair.replace("_minus_", " − ").replace("_auc", " (AUC)"), result.intervals[pair].text(), "", "")
            out.print(t)
            if result.oracle_auc is None:
                out.print(ORACLE_NOTE, highlight=False)
            bands = Table("band", "probability", "business-months", "businesses", "events", "observed", "predicted",
                          title="master scale on the holdout")
            for b in result.bands:
                bands.add_row(b.band, f"{b.low:.1%} to {b.high:.1%}", f"{b.business_months:,} ({b.share:.0%})",
                              f"{b.businesses:,}", f"{b.events:,}", f"{b.observed:.2%}", f"{b.predicted:.2%}")
            out.print(bands)
            out.print(f"holdout {result.split.holdout_months[0]} to {result.split.holdout_months[-1]} "
                      f"({len(result.split.blocks)} blocks, each judged by a model trained on the months before it): "
                      f"{result.metrics.rows:,} business-months, {result.metrics.events:,} with an event; "
                      f"{result.split.censored_rows:,} not labelled (window incomplete)", highlight=False)
        out.print(f"run {result.run_id}", highlight=False)
        if result.gate is not None:
            out.print(f"gate: {'promoted' if result.gate.promoted else 'refused'}: {result.gate.why()}", highlight=False)

    emit(c, result, render)


@app.command(epilog=GLOBAL_HELP)
def score(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help=f"{' or '.join(MODEL_NAMES)} (default: both).")] = None,
) -> None:
    """Write the champions' outputs into the lake: gold.credit_risk_scores (every
    business-month: probability, points, risk band, reasons) and gold.spending_forecasts (the
    next three months, reconciled, with intervals)."""
    from lcdp.pipeline import models

    c = ctx_of(ctx)
    chosen = [_known(model)] if model else list(MODEL_NAMES)
    models.check_champions(c.settings, chosen)  # refuse before writing anything when a champion is missing
    results = []
    for name in chosen:
        with err.status(f"scoring with the {name} champion"):
            results.append(models.score(c.settings, name))

    def render() -> None:
        t = Table("table", "version", "rows", "model", "seconds", title="scores")
        for r in results:
            t.add_row(r.table, str(r.version), f"{r.rows:,}", f"{r.model} v{r.model_version}", f"{r.seconds}")
        out.print(t)

    emit(c, {"tables": [r.model_dump() for r in results]}, render)


@app.command(epilog=GLOBAL_HELP)
def monitor(ctx: typer.Context) -> None:
    """Measure the champions that scored the lake and write gold.model_monitoring: each
    month's PSI of every credit feature and of the score against the training window (above
    0.1: watch; above 0.25: flagged), realized AUC and calibration where the 12-month outcomes
    are known, realized WAPE of the forecasts whose months have arrived. The data-health page
    shows them."""
    from lcdp.pipeline import monitoring

    c = ctx_of(ctx)
    with err.status("measuring the champions"):
        result = monitoring.monitor(c.settings)

    def render() -> None:
        models = ", ".join(f"{m} v{v}" for m, v in result.models.items())
        out.print(f"{result.table} v{result.version}: {result.rows:,} rows measuring {models}", highlight=False)
        if result.latest_month:
            out.print(f"PSI in {result.latest_month}: flagged (> 0.25) {', '.join(result.flagged) or 'none'} "
                      f"(further than any training month: {', '.join(result.beyond_training) or 'none'}); "
                      f"watch (> 0.1) {', '.join(result.watch) or 'none'}", highlight=False)
        for model, why in result.skipped.items():
            out.print(f"{model} not measured: {why}", highlight=False)

    emit(c, result, render)


registry_app = typer.Typer(invoke_without_command=True, epilog=GLOBAL_HELP)
app.add_typer(registry_app, name="models")


@registry_app.callback(epilog=GLOBAL_HELP)
def registry(ctx: typer.Context) -> None:
    """Registered models, their versions and aliases, with their holdout metrics side by side
    ('lcdp models card MODEL' prints a version's model card)."""
    if ctx.invoked_subcommand is not None:
        return
    from models import tracking

    c = ctx_of(ctx)
    listing = tracking.registry_listing(c.settings)

    def render() -> None:
        t = Table("model", "version", "aliases", "gate", "metrics", "oracle", "run", title="registered models")
        for row in listing:
            t.add_row(row["model"], str(row["version"]), ", ".join(row["aliases"]), row["gate"],
                      "  ".join(f"{k} {tracking.metric_text(k, v)}" for k, v in row["metrics"].items()),
                      "  ".join(f"{k.removeprefix('oracle_')} {tracking.metric_text(k, v)}"
                                for k, v in row["oracle"].items()), row["run_id"])
        out.print(t)
        if any(not row["oracle"] for row in listing):
            out.print(ORACLE_NOTE, highlight=False)

    emit(c, {"models": listing}, render)


@registry_app.command("card", epilog=GLOBAL_HELP)
def card(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help=f"{' or '.join(MODEL_NAMES)}.")],
    version: Annotated[int | None, typer.Option(
        "--version", metavar="N", help="The registered version (default: the champion, else the newest).")] = None,
) -> None:
    """Print a registered version's model card (Markdown): intended use and not, the lake
    tables and versions it learnt from, its holdout metrics with 90 % intervals beside the
    baseline and the oracle, the bands' backtest, the gate's decision and the known limits.
    The same card is the version's description in MLflow and its run's model_card.md."""
    from models import card as model_card

    c = ctx_of(ctx)
    registered = declarations.model(_known(model)).registered
    shown, text = model_card.text(c.settings, registered, version)
    emit(c, {"model": registered, "version": shown, "card": text},
         lambda: out.print(text, highlight=False, markup=False, soft_wrap=True, end=""))

"""The models: ``train``, ``score`` and ``models`` (the registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lcdp import declarations
from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, err, out
from lcdp.errors import UnknownName, UsageError

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
) -> None:
    """Train a model on the lake, judge it on the latest months, register it in MLflow and run
    the promotion gate (the new version is 'challenger'; 'champion' if it passes)."""
    c = ctx_of(ctx)
    model = _known(model)
    if oracle is not None and not (oracle / "truth").is_dir():
        raise UsageError(f"{oracle} holds no generator truth (expected {oracle / 'truth'}; "
                         "give the folder 'lcdp generate' wrote)")
    from lcdp.pipeline import models
    from models import tracking
    from models.spending_pattern.train import SpendingResult

    with err.status(f"training {model}"):
        result = (models.reproduce(c.settings, model, reproduce) if reproduce
                  else models.train(c.settings, model, oracle_dir=oracle))

    def render() -> None:
        if isinstance(result, tracking.Reproduction):
            t = Table("metric", "original", "reproduced", title=f"run {result.run_id} reproduced as {result.reproduced_run_id}")
            for k, v in result.original.items():
                t.add_row(k, f"{v:.5f}", f"{result.reproduced[k]:.5f}")
            out.print(t)
            out.print("same metrics" if result.same else "metrics DIFFER", highlight=False)
            return
        if isinstance(result, SpendingResult):
            t = Table("", "WAPE", title=f"{result.model} v{result.version} ({result.alias}), holdout "
                      f"{', '.join(result.holdout_months)}, {result.cells} cells")
            for label, value in (("forecaster (reconciled)", result.wape), ("before reconciliation", result.base_wape),
                                 ("seasonal naive", result.seasonal_naive_wape), ("AutoETS", result.auto_ets_wape),
                                 ("oracle", result.oracle_wape)):
                t.add_row(label, "" if value is None else f"{value:.4f}")
            out.print(t)
            if result.oracle_wape is None:
                out.print(ORACLE_NOTE, highlight=False)
        else:
            t = Table("", "model", "baseline", "oracle", title=f"{result.model} v{result.version} ({result.alias})")
            for k in ("auc", "ks", "brier", "log_loss"):
                t.add_row(k, f"{getattr(result.metrics, k):.4f}", f"{getattr(result.baseline, k):.4f}",
                          f"{result.oracle_auc:.4f}" if k == "auc" and result.oracle_auc is not None else "")
            out.print(t)
            if result.oracle_auc is None:
                out.print(ORACLE_NOTE, highlight=False)
            out.print(f"holdout {', '.join(result.split.holdout_months)}: {result.metrics.rows:,} business-months, "
                      f"{result.metrics.events:,} with an event; {result.split.censored_rows:,} not labelled "
                      "(window incomplete)", highlight=False)
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


@app.command("models", epilog=GLOBAL_HELP)
def registry(ctx: typer.Context) -> None:
    """Registered models, their versions and aliases, with their holdout metrics side by side."""
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

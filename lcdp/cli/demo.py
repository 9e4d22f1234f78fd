"""``demo``: the whole platform on a generated world, through Airflow, with a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, err, out
from lcdp.errors import AirflowError, PipelineFailed, ServiceError

if TYPE_CHECKING:  # the command line starts without the demo's imports
    from lcdp.demo import DemoSummary

app = typer.Typer()


@app.command(epilog=GLOBAL_HELP)
def demo(
    ctx: typer.Context,
    merchants: Annotated[int, typer.Option(min=10, help="Businesses in the generated world.")] = 2000,
    months: Annotated[int, typer.Option(min=1, max=72, help="Months of history (the credit and spending models need 18 or more).")] = 48,
    seed: Annotated[int, typer.Option(help="Seed of the generated world: the same seed and start give the same world.")] = 7,
    start: Annotated[str | None, typer.Option(
        help="First month, YYYY-MM. [default: 2023-01, or earlier for a history too long to end by 2025-12]",
        show_default=False)] = None,
    dirty: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of records to corrupt with real-world faults "
                                         "(each lands in quarantine with its reason).")] = 0.02,
    services: Annotated[bool, typer.Option("--services", help="Run the platform as services (lcdp up): deliver, "
                                           "and let Airflow's scheduler run every DAG on its own; stop them after.")] = False,
    poll_seconds: Annotated[int, typer.Option(min=5, help="--services: how often each feed polls its source.")] = 20,
) -> None:
    """Generate partner data and run the whole pipeline through Airflow; print a summary."""
    from lcdp.demo.embedded import run_demo
    from lcdp.demo.scheduled import run_services_demo
    from lcdp.generator import WorldParams, default_start

    c = ctx_of(ctx)
    try:
        with err.status("starting") as spinner:
            params = WorldParams(merchants=merchants, months=months, seed=seed, start=start or default_start(months))
            step = lambda m: (spinner.update(m), err.print(f"• {m}", highlight=False))  # noqa: E731
            summary = (run_services_demo(c.settings, params, dirty, poll_seconds=poll_seconds, step=step) if services
                       else run_demo(c.settings, params, dirty, step=step))
    except AirflowError as exc:
        raise type(exc)(str(exc), hint=f"full Airflow output: {c.settings.home_dir / 'demo-airflow.log'}") from None
    except (ServiceError, PipelineFailed) as exc:
        raise type(exc)(str(exc).splitlines()[0], hint=f"service logs: {c.settings.home_dir / 'logs'}, task logs: "
                        f"{c.settings.airflow_home / 'logs'}") from None

    emit(c, summary, lambda: print_summary(summary, out))


def print_summary(summary: DemoSummary, console: Console) -> None:
    """The demo's printout: tables, ingestion, models beside their peers, data products."""
    t = Table("table", "rows", title="lake tables")
    for name, rows in summary.tables.items():
        t.add_row(name, f"{rows:,}")
    console.print(t)
    i = Table("feed", "uploads", "duplicates", "refused", "rows in", "valid", "quarantined", title="ingestion")
    for feed, v in summary.ingestion.items():
        i.add_row(feed, *(f"{v[k]:,}" for k in ("uploads", "duplicates", "refused", "rows_in", "rows_valid", "rows_quarantined")))
    console.print(i)
    m = Table("model", "version", "alias", "holdout metrics", "beside", title="models")
    for name, v in summary.models.items():
        if "skipped" in v:
            m.add_row(name, "", "", f"not trained: {v['skipped']}", "")
            continue
        ours = {k: v[k] for k in ("auc", "ks", "brier", "wape", "mase") if v.get(k) is not None}
        peers = {k: v[k] for k in ("oracle_auc", "baseline_auc", "seasonal_naive_wape", "auto_ets_wape",
                                   "oracle_wape") if v.get(k) is not None}
        m.add_row(name, str(v["version"]), v["alias"] or "", "  ".join(f"{k} {x:.4f}" for k, x in ours.items()),
                  "  ".join(f"{k} {x:.4f}" for k, x in peers.items()))
    console.print(m)
    p = Table("product", "rows", "suppressed cells", "version", title="data products (lcdp export --out DIR writes them)")
    for name, v in summary.exports.items():
        if "skipped" in v:
            p.add_row(name, "", "", f"not built: {v['skipped']}")
            continue
        p.add_row(name, f"{v['rows']:,}", f"{v['suppressed_cells']:,}", str(v["version"]))
    console.print(p)
    if summary.services:
        console.print("services (stopped after the demo; 'lcdp up' starts them again): "
                  + ", ".join(f"{s['name']} {'healthy' if s['healthy'] else 'unhealthy'} at {s['url']}"
                              for s in summary.services), highlight=False, soft_wrap=True)
    console.print(f"DAG runs: {summary.dag_runs}; {summary.seconds} s ({summary.stage_seconds})")
    console.print(f"dashboard: {summary.dashboard} (after 'lcdp serve'; sign in with a consumer or admin key, "
              "e.g. 'lcdp keys create --role admin --subject you')", highlight=False, soft_wrap=True)

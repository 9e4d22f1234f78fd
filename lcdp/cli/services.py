"""The platform as services on this machine: ``serve`` (the API and the dashboard),
``up``/``ps``/``down`` (every service, supervised), and ``db upgrade`` (the metadata database's
schema)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, err, out
from lcdp.errors import MetadataUnavailable, ServiceError, UsageError

app = typer.Typer()


@app.command(epilog=GLOBAL_HELP)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on. Default: LCDP_SERVICE_PORT (8700).")] = None,
) -> None:
    """Run the platform's web service: the policy dashboard and the API. On one address: the
    dashboard for provincial and city staff at /dashboard (sign in with a consumer or admin key:
    'lcdp keys create'), partner uploads (/v1/uploads), the consumers' export API
    (/v1/products), Delta Sharing (/delta-sharing), the API's docs at /docs and /openapi.json,
    health at /healthz."""
    from lcdp.runstate import bind_problem

    c = ctx_of(ctx)
    port = port or c.settings.service_port
    problem = bind_problem(host, port)
    if problem is not None:
        taken = "is taken" in problem
        raise UsageError(f"{problem} (another 'lcdp serve'?); choose another with --port" if taken else problem)
    import uvicorn

    from lcdp.service import create_app

    service = create_app(c.settings)
    err.print(f"serving the platform API on http://{host}:{port} (docs: /docs, health: /healthz, "
              f"dashboard: /dashboard); "
              f"home {c.settings.home_dir}", highlight=False, soft_wrap=True)
    uvicorn.run(service, host=host, port=port, log_level="warning")


@app.command(epilog=GLOBAL_HELP)
def up(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(min=10, help="Seconds to wait for every service to be healthy.")] = 300,
) -> None:
    """Start the platform's services on this machine, each a health-checked process with its log
    under <home>/logs: Sail Spark Connect, MLflow, the platform API, and Airflow's api-server,
    dag-processor and scheduler (which then runs the DAGs on their schedules and Assets). Safe to
    run again: what runs is left alone, a stale pid is cleaned."""
    from lcdp.ops import supervisor
    from lcdp.runstate import run_dir

    c = ctx_of(ctx)
    try:
        states = supervisor.up(c.settings, timeout_s=timeout,
                               on_event=lambda m: err.print(m, highlight=False, soft_wrap=True))
    except ServiceError as exc:  # its first line; the log it names holds the rest
        running = any(run_dir(c.settings).glob("*.json"))
        raise ServiceError(str(exc).splitlines()[0], hint="'lcdp down' stops the others" if running else None) from None
    emit(c, {"services": supervisor.describe(states)}, lambda: _services_table(states))


def _services_table(states) -> None:
    t = Table("service", "state", "health", "pid", "address", "log", title="platform services")
    for s in states:
        health = "" if s.healthy is None else ("healthy" if s.healthy else f"unhealthy: {s.detail}")
        t.add_row(s.name, s.state, health, str(s.pid or ""), s.url, s.log)
    out.print(t)


@app.command(epilog=GLOBAL_HELP)
def ps(ctx: typer.Context) -> None:
    """The platform's services: running or not, their health (asked now), address and log."""
    from lcdp.ops import supervisor

    c = ctx_of(ctx)
    states = supervisor.status(c.settings)
    emit(c, {"services": supervisor.describe(states)}, lambda: _services_table(states))


@app.command(epilog=GLOBAL_HELP)
def down(ctx: typer.Context) -> None:
    """Stop the services 'lcdp up' started for this home (and nothing else)."""
    from lcdp.ops import supervisor

    c = ctx_of(ctx)
    stopped = supervisor.down(c.settings, on_event=lambda m: err.print(m, highlight=False, soft_wrap=True))
    emit(c, {"stopped": stopped},
         lambda: out.print(f"stopped {', '.join(stopped)}" if stopped else "no service of this home was running"))


db_app = typer.Typer(help="The platform's metadata database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade", epilog=GLOBAL_HELP)
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the metadata database to the newest schema (Alembic; an old home upgrades in place)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from lcdp import metadata, migrations

    c = ctx_of(ctx)
    url = c.settings.metadata_db_url
    try:
        before, after = migrations.upgrade(create_engine(url))
    except SQLAlchemyError as exc:
        raise MetadataUnavailable(f"cannot upgrade {metadata.describe_url(url)}: {str(exc).splitlines()[0]}") from None
    emit(c, {"database": metadata.describe_url(url), "before": before, "after": after},
         lambda: out.print(f"{metadata.describe_url(url)}: {before or 'unversioned'} → {after}"
                           if before != after else f"{metadata.describe_url(url)}: at {after}, the newest",
                           highlight=False, soft_wrap=True))

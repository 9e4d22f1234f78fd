"""The home and the lake: ``init``, ``status``, ``fuse``, ``lineage``, ``maintain``,
``contracts`` and ``dictionary``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, out, progress
from lcdp.home import home_problem

app = typer.Typer()


@app.command(epilog=GLOBAL_HELP)
def init(ctx: typer.Context) -> None:
    """Create a platform home (the lake, landing zone, metadata DB and pseudonym key)."""
    from lcdp import metadata

    c = ctx_of(ctx)
    existed = home_problem(c.settings.home_dir) is None
    c.settings.ensure_dirs()
    metadata.engine(c.settings.metadata_db_url)
    c.settings.hmac_key  # noqa: B018 - made once, kept in the home (unless LCDP_PSEUDONYM_KEY is set)
    home = str(c.settings.home_dir)
    emit(c, {"home": home, "created": not existed},
         lambda: out.print(f"{'platform home already there' if existed else 'created platform home'}: {home}",
                           highlight=False, soft_wrap=True))


@app.command(epilog=GLOBAL_HELP)
def status(ctx: typer.Context) -> None:
    """State of every lake table and every partner's uploads."""
    from lcdp.status import collect

    c = ctx_of(ctx)
    state = collect(c.settings)

    def render() -> None:
        t = Table("table", "rows", "version", "last write", title=f"lake in {state.home}")
        for row in state.tables:
            t.add_row(row.name, "—" if row.rows is None else f"{row.rows:,}",
                      "—" if row.version is None else str(row.version), row.last_write or "not written yet")
        out.print(t)
        u = Table("feed", "uploads", "by status", "rows valid", "rows quarantined", "last upload", title="uploads")
        for row in state.uploads:
            u.add_row(f"{row.partner}.{row.dataset}", str(row.uploads),
                      ", ".join(f"{k} {v}" for k, v in row.by_status.items()),
                      f"{row.rows_valid:,}", f"{row.rows_quarantined:,}", row.last_upload or "")
        out.print(u)

    emit(c, state, render)


@app.command(epilog=GLOBAL_HELP)
def fuse(
    ctx: typer.Context,
    table: Annotated[list[str] | None, typer.Argument(help="Only these silver/gold tables (default: all, in order).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute from all of bronze instead of what is new.")] = False,
) -> None:
    """Bring silver and gold up to date with bronze: only what new deliveries changed."""
    from lcdp.errors import LcdpError, StepFailed
    from lcdp.lake import engine
    from lcdp.pipeline.fusion import STEP_NAMES, run_step, step

    c = ctx_of(ctx)
    names = table or STEP_NAMES
    for name in names:  # an unknown name is refused before any work
        step(name)
    results = []
    with progress() as bar:
        task = bar.add_task("fusion", total=len(names))
        for name in names:
            bar.update(task, description=f"fusing {name}")
            try:
                results.append(run_step(c.settings, name, full=full))
            except LcdpError:
                raise
            except Exception as exc:  # an engine failure is one line, its plan is not
                reason = engine.permanent_failure(exc)
                if reason is None:
                    raise
                raise StepFailed(f"fusion of {name} failed: {reason}") from exc
            bar.advance(task)

    def render() -> None:
        t = Table("table", "status", "mode", "recomputed", "rows", "version", "seconds", title="fusion")
        for r in results:
            t.add_row(r.table, r.status, r.mode or "", r.scope, "—" if r.rows is None else f"{r.rows:,}",
                      str(r.version), f"{r.seconds:.1f}")
        out.print(t)

    emit(c, {"steps": [r.model_dump(mode="json") for r in results]}, render)


@app.command(epilog=GLOBAL_HELP)
def lineage(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="A silver or gold table, e.g. gold.spending_cube.")],
    version: Annotated[int | None, typer.Option(help="A version of the table (default: the latest).")] = None,
) -> None:
    """The input versions behind a table version, down to the bronze uploads."""
    from lcdp.lake import catalog
    from lcdp.lake import lineage as lineage_

    c = ctx_of(ctx)
    catalog.table(table)  # an unknown name is refused, naming the known ones
    # default: the version 'lcdp status' shows; the notebook's reads say it in the same words
    version = catalog.checked_version(table, c.settings, version)
    tree = lineage_.trace(table, c.settings, version)

    def render() -> None:
        from rich.tree import Tree

        def add(node: Tree, entry: dict) -> None:
            label = f"{entry['table']} v{entry['version']}"
            if entry.get("data_version") is not None and entry["data_version"] != entry["version"]:
                label += f" (data written in v{entry['data_version']})"
            if "uploads" in entry:
                label += f": {len(entry['uploads'])} upload(s)"
            branch = node.add(label)
            for child in entry.get("inputs", []):
                add(branch, child)

        root = Tree("lineage")
        add(root, tree)
        out.print(root)

    emit(c, tree, render)


@app.command(epilog=GLOBAL_HELP)
def maintain(
    ctx: typer.Context,
    table: Annotated[list[str] | None, typer.Argument(help="Tables to maintain (default: every table).")] = None,
) -> None:
    """Compact small files and vacuum unreferenced ones, keeping time travel (see retention)."""
    from lcdp.lake import catalog
    from lcdp.lake.maintenance import maintain as maintain_table

    c = ctx_of(ctx)
    names = table or list(catalog.tables())
    for name in names:
        catalog.table(name)
    results = [maintain_table(c.settings, name) for name in names]

    def render() -> None:
        t = Table("table", "files compacted", "files vacuumed", "retention h", "pinned", "version", title="maintenance")
        for r in results:
            if r.version_before is not None:
                t.add_row(r.table, str(r.files_compacted), str(r.files_vacuumed), str(r.retention_hours),
                          ", ".join(map(str, r.pinned_versions)), str(r.version_after))
        out.print(t)

    emit(c, {"tables": [r.model_dump(mode="json") for r in results]}, render)


@app.command(epilog=GLOBAL_HELP)
def contracts(ctx: typer.Context) -> None:
    """Print the reference docs of every dataset contract (generated from schemas/)."""
    from lcdp.contracts import load_contracts, render_markdown

    c = ctx_of(ctx)
    emit(c, {f"{p}.{d}": k.model_dump(mode="json") for (p, d), k in load_contracts().items()},
         lambda: sys.stdout.write(render_markdown() + "\n"))


@app.command(epilog=GLOBAL_HELP)
def dictionary(ctx: typer.Context) -> None:
    """Print the data dictionary of every silver and gold table, data products included: grain,
    key, partition, and each column's type and meaning (generated from the declarations and
    the code that writes each table)."""
    from lcdp.lake.dictionary import render_markdown
    from lcdp.pipeline.dictionary import docs

    c = ctx_of(ctx)
    found = docs()
    emit(c, {"tables": [d.as_dict() for d in found]}, lambda: sys.stdout.write(render_markdown(found) + "\n"))


"""``lcdp``: the platform's command line (BRIEF §10). Every command takes ``--home`` and
``--json`` (one JSON object as the last line of stdout); logs and progress go to stderr."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lcdp import log
from lcdp.settings import Settings, load_settings

app = typer.Typer(help="Local Currency Data Platform.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)
out = Console()
err = Console(stderr=True)


@dataclass
class Ctx:
    settings: Settings
    json: bool


def _ctx(ctx: typer.Context) -> Ctx:
    return ctx.obj


def _emit(c: Ctx, payload: Any, render) -> None:
    """Human output, or with ``--json`` one JSON object as the last line of stdout."""
    if c.json:
        data = payload.model_dump(mode="json") if hasattr(payload, "model_dump") else payload
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    else:
        render()


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", envvar="LCDP_HOME", help="Platform home (lake, landing, metadata, Airflow).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line of stdout.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "WARNING",
) -> None:
    log.configure(level=log_level.upper())
    ctx.obj = Ctx(settings=load_settings(home), json=as_json)


@app.command()
def generate(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write partner files, truth and manifest into.")],
    merchants: Annotated[int, typer.Option(min=10)] = 300,
    months: Annotated[int, typer.Option(min=1, max=72)] = 12,
    seed: int = 7,
    start: Annotated[str, typer.Option(help="First month, YYYY-MM.")] = "2024-01",
    dirty: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of records to corrupt with real-world faults.")] = 0.0,
) -> None:
    """Generate partner files in their native formats, with ground truth and a manifest."""
    from lcdp.generator import WorldParams
    from lcdp.generator import generate as run_generate

    c = _ctx(ctx)
    try:
        with err.status("generating") as status:
            manifest = run_generate(out_dir, WorldParams(merchants=merchants, months=months, seed=seed, start=start),
                                    dirty=dirty, progress=lambda m: status.update(m))
    except ValueError as exc:
        _fail(str(exc))
    summary: dict[str, dict[str, int]] = {}
    for f in manifest.files:
        s = summary.setdefault(f"{f.partner}.{f.dataset}", {"files": 0, "rows": 0, "faulty_rows": 0})
        s["files"] += 1
        s["rows"] += f.rows
        s["faulty_rows"] += f.faulty_rows

    def render() -> None:
        t = Table("feed", "files", "rows", "faulty rows", title=f"generated in {out_dir}")
        for k, v in summary.items():
            t.add_row(k, str(v["files"]), str(v["rows"]), str(v["faulty_rows"]))
        out.print(t)

    _emit(c, {"out": str(out_dir), "feeds": summary, "manifest": str(out_dir / "manifest.json")}, render)


@app.command()
def ingest(
    ctx: typer.Context,
    partner: str,
    dataset: str,
    paths: Annotated[list[Path], typer.Argument(help="Files (or folders of files) to deliver, as one batch.")],
) -> None:
    """Ingest a delivery: prints its receipt. Exit 2 when the delivery is refused whole."""
    from lcdp.contracts import ContractError, get_contract
    from lcdp.ingest import ingest_files
    from lcdp.errors import DeliveryRefused

    c = _ctx(ctx)
    try:
        get_contract(partner, dataset)
    except ContractError as exc:
        _fail(str(exc))
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(x for x in p.iterdir() if x.is_file()) if p.is_dir() else [p])
    if not files:
        _fail(f"no files in {', '.join(map(str, paths))}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task(f"{partner}.{dataset}", total=len(files))
        seen: list[str] = []

        def on_progress(name: str, records: int) -> None:
            if name not in seen:
                seen.append(name)
            # files done so far, and the records of the one being parsed (a 2 GB file takes minutes)
            progress.update(task, completed=len(seen) - 1, description=f"{name}: {records:,} records parsed")

        try:
            receipts = ingest_files(c.settings, partner, dataset, files, on_progress)
        except DeliveryRefused as exc:
            _fail(str(exc))
    refused = [r for r in receipts if r.status in ("refused", "failed")]
    payload: Any = receipts[0] if len(receipts) == 1 else {"receipts": [r.model_dump(mode="json") for r in receipts]}

    def render() -> None:
        for r in receipts:
            out.print_json(r.model_dump_json())

    _emit(c, payload, render)
    if refused and len(refused) == len(receipts):
        _fail(f"delivery refused: {refused[0].error}")


@app.command()
def status(ctx: typer.Context) -> None:
    """State of every lake table and every partner's uploads."""
    from lcdp.status import collect

    c = _ctx(ctx)
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

    _emit(c, state, render)


@app.command()
def fuse(
    ctx: typer.Context,
    table: Annotated[list[str] | None, typer.Argument(help="Only these silver/gold tables (default: all, in order).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute from all of bronze instead of what is new.")] = False,
) -> None:
    """Bring silver and gold up to date with bronze: only what new deliveries changed."""
    from lcdp.lake import engine
    from lcdp.lake.catalog import UnknownTable
    from lcdp.lake.fusion import STEP_NAMES, run_step

    c = _ctx(ctx)
    names = table or STEP_NAMES
    results = []
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("fusion", total=len(names))
            for name in names:
                bar.update(task, description=f"fusing {name}")
                results.append(run_step(c.settings, name, full=full))
                bar.advance(task)
    except UnknownTable as exc:
        _fail(str(exc))
    except engine.EngineError as exc:
        _fail(str(exc), 1)

    def render() -> None:
        t = Table("table", "status", "mode", "recomputed", "rows", "version", "seconds", title="fusion")
        for r in results:
            t.add_row(r.table, r.status, r.mode or "", r.scope, "—" if r.rows is None else f"{r.rows:,}",
                      str(r.version), f"{r.seconds:.1f}")
        out.print(t)

    _emit(c, {"steps": [r.model_dump(mode="json") for r in results]}, render)


@app.command()
def lineage(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="A silver or gold table, e.g. gold.spending_cube.")],
    version: Annotated[int | None, typer.Option(help="A version of the table (default: the latest).")] = None,
) -> None:
    """The input versions behind a table version, down to the bronze uploads."""
    from lcdp.lake import catalog
    from lcdp.lake import lineage as lineage_

    c = _ctx(ctx)
    try:
        catalog.table(table)
    except catalog.UnknownTable as exc:
        _fail(str(exc))
    tree = lineage_.trace(table, c.settings, version)

    def render() -> None:
        from rich.tree import Tree

        def add(node: Tree, entry: dict) -> None:
            label = f"{entry['table']} v{entry['version']}"
            if "uploads" in entry:
                label += f": {len(entry['uploads'])} upload(s)"
            branch = node.add(label)
            for child in entry.get("inputs", []):
                add(branch, child)

        root = Tree("lineage")
        add(root, tree)
        out.print(root)

    _emit(c, tree, render)


@app.command()
def maintain(
    ctx: typer.Context,
    table: Annotated[list[str] | None, typer.Argument(help="Tables to maintain (default: every table).")] = None,
) -> None:
    """Compact small files and vacuum unreferenced ones, keeping time travel (see retention)."""
    from lcdp.lake import catalog
    from lcdp.lake.maintenance import maintain as maintain_table

    c = _ctx(ctx)
    names = table or list(catalog.tables())
    try:
        for name in names:
            catalog.table(name)
    except catalog.UnknownTable as exc:
        _fail(str(exc))
    results = [maintain_table(c.settings, name) for name in names]

    def render() -> None:
        t = Table("table", "files compacted", "files vacuumed", "retention h", "pinned", "version", title="maintenance")
        for r in results:
            if r.version_before is not None:
                t.add_row(r.table, str(r.files_compacted), str(r.files_vacuumed), str(r.retention_hours),
                          ", ".join(map(str, r.pinned_versions)), str(r.version_after))
        out.print(t)

    _emit(c, {"tables": [r.model_dump(mode="json") for r in results]}, render)


@app.command()
def demo(
    ctx: typer.Context,
    merchants: Annotated[int, typer.Option(min=10)] = 300,
    months: Annotated[int, typer.Option(min=1, max=72)] = 12,
    seed: int = 7,
    dirty: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.02,
) -> None:
    """Generate partner data and run the whole pipeline through Airflow; print a summary."""
    from lcdp.airflow_runner import AirflowError
    from lcdp.demo import run_demo
    from lcdp.generator import WorldParams

    c = _ctx(ctx)
    try:
        with err.status("starting") as spinner:
            summary = run_demo(c.settings, WorldParams(merchants=merchants, months=months, seed=seed), dirty,
                               step=lambda m: (spinner.update(m), err.print(f"• {m}", highlight=False)))
    except (AirflowError, ValueError) as exc:
        _fail(f"{exc}\n(full Airflow output: {c.settings.home_dir / 'demo-airflow.log'})", 1)

    def render() -> None:
        t = Table("table", "rows", title="lake tables")
        for name, rows in summary.tables.items():
            t.add_row(name, f"{rows:,}")
        out.print(t)
        i = Table("feed", "uploads", "duplicates", "refused", "rows in", "valid", "quarantined", title="ingestion")
        for feed, v in summary.ingestion.items():
            i.add_row(feed, *(f"{v[k]:,}" for k in ("uploads", "duplicates", "refused", "rows_in", "rows_valid", "rows_quarantined")))
        out.print(i)
        out.print(f"DAG runs: {summary.dag_runs}; {summary.seconds} s ({summary.stage_seconds})")

    _emit(c, summary, render)


@app.command()
def bench(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help="Stage to measure: ingest, upload, fusion.")] = "ingest",
    rows: Annotated[int, typer.Option(help="ingest: rows in the kona file.")] = 1_000_000,
    megabytes: Annotated[int, typer.Option(help="upload: size of the uploaded file in MiB.")] = 1024,
    merchants: Annotated[int, typer.Option(help="fusion: merchants in the generated lake.")] = 20_000,
    months: Annotated[int, typer.Option(help="fusion: months in the generated lake.")] = 24,
    work: Annotated[Path | None, typer.Option(help="fusion: folder for the bench lake (kept for reruns).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON result here.")] = None,
) -> None:
    """Measure a stage against a plain peer in the same run; prints JSON results."""
    from lcdp.bench.stages import BENCHES, STAGES

    c = _ctx(ctx)
    if stage not in STAGES:
        _fail(f"unknown bench stage {stage!r} (known: {', '.join(STAGES)})")
    with err.status(f"benchmarking {stage}"):
        if stage == "fusion":
            from lcdp.bench.fusion import bench_fusion

            result = bench_fusion(c.settings, merchants, months, keep=work)
        else:
            result = BENCHES[stage](c.settings, rows if stage == "ingest" else megabytes)
    if out_file:
        out_file.write_text(json.dumps(result, indent=2))
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


keys_app = typer.Typer(help="API keys for partners, consumers and admins.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="partner, consumer or admin.")],
    subject: Annotated[str, typer.Option(help="The partner id (for partner keys), consumer id or admin name.")],
    expires_days: Annotated[int | None, typer.Option(min=1, help="Days until the key expires (default: never).")] = None,
) -> None:
    """Create an API key and print it. It is shown this once; only its hash is kept."""
    from lcdp import keys

    c = _ctx(ctx)
    try:
        token = keys.create(c.settings.metadata_db_url, role, subject, expires_days)
    except keys.KeyRequestError as exc:
        _fail(str(exc))
    _emit(c, {"key": token, "key_id": token.split("_")[1], "role": role, "subject": subject},
          lambda: (out.print(token, highlight=False, soft_wrap=True),
                   err.print("Store it now: it cannot be shown again.")))


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke a key by its id (the part after ``lcdp_``)."""
    from lcdp import keys

    c = _ctx(ctx)
    if not keys.revoke(c.settings.metadata_db_url, key_id):
        _fail(f"no key {key_id!r}")
    _emit(c, {"revoked": key_id}, lambda: out.print(f"revoked {key_id}"))


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8080,
) -> None:
    """Run the partner upload API (OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    from lcdp.service import create_app

    c = _ctx(ctx)
    uvicorn.run(create_app(c.settings), host=host, port=port, log_level="warning")


@app.command()
def contracts(ctx: typer.Context) -> None:
    """Print the reference docs of every dataset contract (generated from schemas/)."""
    from lcdp.contracts import load_contracts, render_markdown

    c = _ctx(ctx)
    _emit(c, {f"{p}.{d}": k.model_dump(mode="json") for (p, d), k in load_contracts().items()},
          lambda: sys.stdout.write(render_markdown() + "\n"))


if __name__ == "__main__":  # pragma: no cover
    app()

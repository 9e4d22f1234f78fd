"""``lcdp``: the platform's command line (BRIEF §10). Every command takes ``--home`` and
``--json`` (one JSON object as the last line of stdout), before or after the command's name;
logs and progress go to stderr.

Every error is one line on stderr and exit 2 (with ``--json`` also ``{"error", "exit_code"}``
as the last line of stdout); an unexpected one names the file holding its traceback. Heavy
libraries are imported inside the commands that use them, so ``--help`` and refusals answer
at once.
"""

from __future__ import annotations

import json
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lcdp import __version__, log
from lcdp.home import DEFAULT_HOME, home_problem

if TYPE_CHECKING:
    from lcdp.settings import Settings

GLOBAL_HELP = ("Global options (before or after the command): --home DIR (or LCDP_HOME), --json, "
               "--log-level LEVEL; see 'lcdp --help'.")
#: Commands that work without a platform home (they make one, or need none).
NO_HOME_NEEDED = {"init", "demo", "generate", "contracts", "dictionary", "bench", None}

app = typer.Typer(help="Local Currency Data Platform.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None)
# Piped output is never cut to 80 columns: a table is as wide as its content.
out = Console(width=None if sys.stdout.isatty() else 10_000)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 10_000)
_state: dict[str, Any] = {"json": False, "home": None}


class Ctx:
    """What every command gets: the settings (loaded on first use: pydantic-settings is slow
    to import, and help and refusals should not wait for it) and ``--json``."""

    def __init__(self, home: Path | None, as_json: bool) -> None:
        self.home, self.json = home, as_json

    @cached_property
    def settings(self) -> Settings:
        from lcdp.settings import load_settings

        settings = load_settings(self.home)
        _state["metadata_url"] = settings.metadata_db_url
        return settings


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
    """One line on stderr (and a JSON object on stdout under ``--json``), then exit."""
    line = " ".join(str(message).split())
    if _state["json"]:
        sys.stdout.write(json.dumps({"error": line, "exit_code": code}, ensure_ascii=False) + "\n")
    err.print(f"error: {line}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"lcdp {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", envvar="LCDP_HOME", help="Platform home (lake, landing, metadata, Airflow).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line of stdout.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "WARNING",
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _state["json"] = as_json
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        _fail(f"unknown log level {log_level!r} (known: DEBUG, INFO, WARNING, ERROR)")
    log.set_level(log_level.upper())
    home_dir = (home or DEFAULT_HOME).expanduser().resolve()
    _state["home"] = home_dir
    problem = home_problem(home_dir)
    if problem and not _state.get("help") and (ctx.invoked_subcommand not in NO_HOME_NEEDED or home_dir.is_file()):
        _fail(problem)
    ctx.obj = Ctx(home, as_json)


@app.command(epilog=GLOBAL_HELP)
def init(ctx: typer.Context) -> None:
    """Create a platform home (the lake, landing zone, metadata DB and pseudonym key)."""
    from lcdp import metadata

    c = _ctx(ctx)
    existed = home_problem(c.settings.home_dir) is None
    c.settings.ensure_dirs()
    metadata.engine(c.settings.metadata_db_url)
    c.settings.hmac_key  # noqa: B018 - made once, kept in the home (unless LCDP_PSEUDONYM_KEY is set)
    home = str(c.settings.home_dir)
    _emit(c, {"home": home, "created": not existed},
          lambda: out.print(f"{'platform home already there' if existed else 'created platform home'}: {home}",
                            highlight=False, soft_wrap=True))


@app.command(epilog=GLOBAL_HELP)
def generate(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write partner files, truth and manifest into.")],
    merchants: Annotated[int, typer.Option(min=10, help="Businesses in the generated world.")] = 1000,
    months: Annotated[int, typer.Option(min=1, max=72, help="Months of history (the credit model needs 21 or more, the spending model 18).")] = 36,
    seed: int = 7,
    start: Annotated[str | None, typer.Option(
        help="First month, YYYY-MM. [default: 2024-01, or later if the months would not end by last month]",
        show_default=False)] = None,
    dirty: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of records to corrupt with real-world faults.")] = 0.0,
) -> None:
    """Generate partner files in their native formats, with ground truth and a manifest."""
    from lcdp.generator import WorldParams, default_start
    from lcdp.generator import generate as run_generate

    c = _ctx(ctx)
    try:
        with err.status("generating") as status:
            params = WorldParams(merchants=merchants, months=months, seed=seed, start=start or default_start(months))
            manifest = run_generate(out_dir, params,
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


@app.command(epilog=GLOBAL_HELP)
def ingest(
    ctx: typer.Context,
    partner: str,
    dataset: str,
    paths: Annotated[list[Path], typer.Argument(help="Files (or folders of files) to deliver, as one batch.")],
) -> None:
    """Ingest a delivery: prints its receipt. Exit 2 when the delivery is refused whole."""
    from schemas import feed_problem

    c = _ctx(ctx)
    problem = feed_problem(partner, dataset)  # from the contract files' names: answers at once
    if problem:
        _fail(problem)
    from lcdp.errors import DeliveryRefused
    from lcdp.ingest import ingest_files

    files: list[Path] = []
    for p in paths:
        try:
            files.extend(sorted(x for x in p.iterdir() if x.is_file()) if p.is_dir() else [p])
        except OSError as exc:
            _fail(f"cannot read {p}: {exc.strerror or exc}")
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


@app.command(epilog=GLOBAL_HELP)
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


@app.command(epilog=GLOBAL_HELP)
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
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - an engine failure is one line, its plan is not
        reason = engine.permanent_failure(exc)
        if reason is None:
            raise
        _fail(f"fusion of {name} failed: {reason}")

    def render() -> None:
        t = Table("table", "status", "mode", "recomputed", "rows", "version", "seconds", title="fusion")
        for r in results:
            t.add_row(r.table, r.status, r.mode or "", r.scope, "—" if r.rows is None else f"{r.rows:,}",
                      str(r.version), f"{r.seconds:.1f}")
        out.print(t)

    _emit(c, {"steps": [r.model_dump(mode="json") for r in results]}, render)


@app.command(epilog=GLOBAL_HELP)
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
    current = catalog.version(table, c.settings)
    if current is None:
        _fail(f"{table} has not been written yet (see 'lcdp status')")
    if version is None:
        version = current  # the version 'lcdp status' shows
    elif not 0 <= version <= current:  # type: ignore[operator]
        _fail(f"{table} has no version {version} (versions 0 to {current})")
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

    _emit(c, tree, render)


@app.command(epilog=GLOBAL_HELP)
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


@app.command(epilog=GLOBAL_HELP)
def demo(
    ctx: typer.Context,
    merchants: Annotated[int, typer.Option(min=10, help="Businesses in the generated world.")] = 1000,
    months: Annotated[int, typer.Option(min=1, max=72, help="Months of history (the credit model needs 21 or more, the spending model 18).")] = 36,
    seed: int = 7,
    dirty: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.02,
    services: Annotated[bool, typer.Option("--services", help="Run the platform as services (lcdp up): deliver, "
                                           "and let Airflow's scheduler run every DAG on its own; stop them after.")] = False,
    poll_seconds: Annotated[int, typer.Option(min=5, help="--services: how often each feed polls its source.")] = 20,
) -> None:
    """Generate partner data and run the whole pipeline through Airflow; print a summary."""
    from lcdp.airflow_runner import AirflowError
    from lcdp.demo import run_demo
    from lcdp.generator import WorldParams, default_start
    from lcdp.ops.scheduled_demo import PipelineFailed, run_services_demo
    from lcdp.ops.supervisor import ServiceError

    c = _ctx(ctx)
    try:
        with err.status("starting") as spinner:
            params = WorldParams(merchants=merchants, months=months, seed=seed, start=default_start(months))
            step = lambda m: (spinner.update(m), err.print(f"• {m}", highlight=False))  # noqa: E731
            summary = (run_services_demo(c.settings, params, dirty, poll_seconds=poll_seconds, step=step) if services
                       else run_demo(c.settings, params, dirty, step=step))
    except AirflowError as exc:
        _fail(f"{exc} (full Airflow output: {c.settings.home_dir / 'demo-airflow.log'})")
    except (ServiceError, PipelineFailed) as exc:
        _fail(f"{str(exc).splitlines()[0]} (service logs: {c.settings.home_dir / 'logs'}, task logs: "
              f"{c.settings.airflow_home / 'logs'})")
    except ValueError as exc:
        _fail(str(exc))

    def render() -> None:
        t = Table("table", "rows", title="lake tables")
        for name, rows in summary.tables.items():
            t.add_row(name, f"{rows:,}")
        out.print(t)
        i = Table("feed", "uploads", "duplicates", "refused", "rows in", "valid", "quarantined", title="ingestion")
        for feed, v in summary.ingestion.items():
            i.add_row(feed, *(f"{v[k]:,}" for k in ("uploads", "duplicates", "refused", "rows_in", "rows_valid", "rows_quarantined")))
        out.print(i)
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
        out.print(m)
        if summary.services:
            out.print("services (stopped after the demo; 'lcdp up' starts them again): "
                      + ", ".join(f"{s['name']} {'healthy' if s['healthy'] else 'unhealthy'} at {s['url']}"
                                  for s in summary.services), highlight=False, soft_wrap=True)
        out.print(f"DAG runs: {summary.dag_runs}; {summary.seconds} s ({summary.stage_seconds})")
        out.print(f"dashboard: {summary.dashboard} (after 'lcdp serve'; sign in with a consumer or admin key, "
                  "e.g. 'lcdp keys create --role admin --subject you')", highlight=False, soft_wrap=True)

    _emit(c, summary, render)


@app.command(epilog=GLOBAL_HELP)
def bench(
    ctx: typer.Context,
    stage: Annotated[str | None, typer.Argument(
        help="Stage to measure: ingest, upload, fusion, train, export, growth. Without one: every stage, "
        "with a JSON report and a Markdown summary in bench/results.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="The suite at small sizes (a few minutes).")] = False,
    results: Annotated[Path | None, typer.Option(
        help="The suite: folder for the report and summary (default: bench/results of this checkout).")] = None,
    rows: Annotated[int, typer.Option(help="ingest: rows in the kona file; train: business-months.")] = 1_000_000,
    megabytes: Annotated[int, typer.Option(help="upload: size of the uploaded file in MiB.")] = 1024,
    merchants: Annotated[int, typer.Option(help="fusion: merchants in the generated lake.")] = 20_000,
    months: Annotated[int, typer.Option(help="fusion, growth: months in the generated lake.")] = 24,
    work: Annotated[Path | None, typer.Option(
        help="fusion, growth and the suite: folder for the bench lakes (fusion's are kept for reruns "
        "with the same sizes).")] = None,
    grid: Annotated[bool, typer.Option(
        "--grid", help="fusion: every cell of merchants {300, 1000, 5000} × months {6, 12, 24, 60}, "
        "with the slopes of time against each (tens of minutes).")] = False,
    requests: Annotated[int, typer.Option(min=1, help="export: requests per side.")] = 2000,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="export: concurrent connections.")] = 16,
    seconds: Annotated[float, typer.Option(min=1, help="export: time limit per side.")] = 60.0,
    base: Annotated[int, typer.Option(min=10, help="growth: merchants at 1× (then 4× and 16×).")] = 500,
    plot: Annotated[Path | None, typer.Option(
        help="growth: where to write the PNG (default: beside --out, else lcdp-growth.png in the temp folder).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON result here.")] = None,
) -> None:
    """Measure a stage against a plain peer in the same run and print JSON; without a stage,
    every stage, written to bench/results as a JSON report and a Markdown summary."""
    from lcdp.bench.stages import BENCHES, STAGES

    c = _ctx(ctx)
    if stage is None:
        _bench_suite(c, quick, results, work, out_file)
        return
    if stage not in STAGES:
        _fail(f"unknown bench stage {stage!r} (known: {', '.join(STAGES)})")
    if quick or results:
        _fail("--quick and --results are for the whole suite: lcdp bench --quick")
    if grid and stage != "fusion":
        _fail("--grid is for the fusion stage: lcdp bench fusion --grid")
    if plot and stage != "growth":
        _fail("--plot is for the growth stage: lcdp bench growth --plot FILE")
    with err.status(f"benchmarking {stage}") as status:
        if stage == "fusion" and grid:
            from lcdp.bench.fusion import GRID_MERCHANTS, GRID_MONTHS, bench_fusion_grid

            total, done = len(GRID_MERCHANTS) * len(GRID_MONTHS), []

            def cell_done(cell: dict) -> None:
                done.append(cell)
                outcome = (f"{cell['seconds']} s, peak {cell['peak_rss_mib']} MiB" if cell["passed"]
                           else f"FAILED: {cell.get('error') or 'gold differs from DuckDB'}")
                err.print(f"[{len(done)}/{total}] {cell['merchants']} merchants × {cell['months']} months: {outcome}",
                          highlight=False, markup=False)
                status.update(f"benchmarking fusion grid ({len(done)}/{total} cells)")

            result = bench_fusion_grid(c.settings, keep=work, progress=cell_done)
        elif stage == "fusion":
            from lcdp.bench.fusion import bench_fusion

            result = bench_fusion(c.settings, merchants, months, keep=work)
        elif stage == "growth":
            import tempfile

            from lcdp.bench.growth import bench_growth

            plot = plot or (out_file.with_suffix(".png") if out_file else Path(tempfile.gettempdir()) / "lcdp-growth.png")
            try:
                result = bench_growth(base, months, work=work, plot_path=plot,
                                      progress=lambda m: status.update(f"benchmarking growth: {m}"))
            except ValueError as exc:
                _fail(str(exc))
            err.print(f"plot: {plot}", highlight=False, markup=False)
        elif stage == "train":
            from models.bench import bench_train

            result = bench_train(rows)
        elif stage == "export":
            from lcdp.bench.exports import bench_export

            result = bench_export(requests=requests, concurrency=concurrency, seconds=seconds)
        else:
            result = BENCHES[stage](c.settings, rows if stage == "ingest" else megabytes)
    if out_file:
        out_file.write_text(json.dumps(result, indent=2))
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


def _bench_suite(c: Ctx, quick: bool, results: Path | None, work: Path | None, out_file: Path | None) -> None:
    from lcdp.bench import suite

    names = list(suite.stage_runs(c.settings, suite.QUICK, None))
    done: list[str] = []
    with err.status(f"benchmarking {names[0]} (1/{len(names)})") as status:
        def stage_done(name: str, result: dict) -> None:
            done.append(name)
            outcome = f"FAILED: {result['error']}" if "error" in result else f"{result['wall_seconds']} s"
            err.print(f"[{len(done)}/{len(names)}] {name}: {outcome}", highlight=False, markup=False)
            if len(done) < len(names):
                status.update(f"benchmarking {names[len(done)]} ({len(done) + 1}/{len(names)})")

        report, json_path, md_path = suite.run_suite(c.settings, quick=quick, out_dir=results or suite.RESULTS,
                                                     work=work, progress=stage_done)
    err.print(f"report: {json_path}\nsummary: {md_path}", highlight=False, markup=False)
    if out_file:
        out_file.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    if c.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        out.print(md_path.read_text(), highlight=False, markup=False, soft_wrap=True)
    failed = [name for name, r in report["stages"].items() if "error" in r]
    if failed:
        _fail(f"{len(failed)} stage(s) failed: {', '.join(failed)} (reasons in {json_path})")


MODEL_NAMES = ("credit-risk", "spending-pattern")


@app.command(epilog=GLOBAL_HELP)
def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="credit-risk or spending-pattern.")],
    reproduce: Annotated[str | None, typer.Option(
        "--reproduce", metavar="RUN_ID",
        help="Retrain a logged run from the table versions and parameters it logged; compare its metrics.")] = None,
    oracle: Annotated[Path | None, typer.Option(
        help="The folder 'lcdp generate' wrote: report the generator's oracle beside the model.")] = None,
) -> None:
    """Train a model on the lake, judge it on the latest months, register it in MLflow and run
    the promotion gate (the new version is 'challenger'; 'champion' if it passes)."""
    c = _ctx(ctx)
    if model not in MODEL_NAMES:
        _fail(f"unknown model {model!r} (known: {', '.join(MODEL_NAMES)})")
    if oracle is not None and not (oracle / "truth").is_dir():
        _fail(f"{oracle} holds no generator truth (expected {oracle / 'truth'}; give the folder 'lcdp generate' wrote)")
    from models import tracking
    from models.credit_risk import train as credit
    from models.spending_pattern import train as spending

    module = credit if model == "credit-risk" else spending
    try:
        with err.status(f"training {model}"):
            result = (module.reproduce(c.settings, reproduce) if reproduce
                      else module.train(c.settings, oracle_dir=oracle))
    except (credit.InsufficientData, spending.InsufficientHistory, LookupError) as exc:
        _fail(str(exc))

    def render() -> None:
        if isinstance(result, tracking.Reproduction):
            t = Table("metric", "original", "reproduced", title=f"run {result.run_id} reproduced as {result.reproduced_run_id}")
            for k, v in result.original.items():
                t.add_row(k, f"{v:.5f}", f"{result.reproduced[k]:.5f}")
            out.print(t)
            out.print("same metrics" if result.same else "metrics DIFFER", highlight=False)
            return
        if isinstance(result, spending.SpendingResult):
            t = Table("", "WAPE", title=f"{result.model} v{result.version} ({result.alias}), holdout "
                      f"{', '.join(result.holdout_months)}, {result.cells} cells")
            for label, value in (("forecaster (reconciled)", result.wape), ("before reconciliation", result.base_wape),
                                 ("seasonal naive", result.seasonal_naive_wape), ("AutoETS", result.auto_ets_wape),
                                 ("oracle", result.oracle_wape)):
                t.add_row(label, "" if value is None else f"{value:.4f}")
            out.print(t)
        else:
            t = Table("", "model", "baseline", "oracle", title=f"{result.model} v{result.version} ({result.alias})")
            for k in ("auc", "ks", "brier", "log_loss"):
                t.add_row(k, f"{getattr(result.metrics, k):.4f}", f"{getattr(result.baseline, k):.4f}",
                          f"{result.oracle_auc:.4f}" if k == "auc" and result.oracle_auc is not None else "")
            out.print(t)
            out.print(f"holdout {', '.join(result.split.holdout_months)}: {result.metrics.rows:,} business-months, "
                      f"{result.metrics.events:,} with an event; {result.split.censored_rows:,} not labelled "
                      "(window incomplete)", highlight=False)
        out.print(f"run {result.run_id}", highlight=False)
        if result.gate is not None:
            out.print(f"gate: {'promoted' if result.gate.promoted else 'refused'}: {result.gate.why()}", highlight=False)

    _emit(c, result, render)


@app.command(epilog=GLOBAL_HELP)
def score(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="credit-risk or spending-pattern (default: both).")] = None,
) -> None:
    """Write the champions' outputs into the lake: gold.credit_risk_scores (every
    business-month: probability, points, risk band, reasons) and gold.spending_forecasts (the
    next three months, reconciled, with intervals)."""
    from models import scoring, tracking

    c = _ctx(ctx)
    if model is not None and model not in MODEL_NAMES:
        _fail(f"unknown model {model!r} (known: {', '.join(MODEL_NAMES)})")
    jobs = {"credit-risk": scoring.score_credit_risk, "spending-pattern": scoring.score_spending_pattern}
    chosen = [model] if model else list(MODEL_NAMES)
    try:
        for name in chosen:  # refuse before writing anything when a champion is missing
            tracking.champion(c.settings, f"lcdp-{name}")
        results = []
        for name in chosen:
            with err.status(f"scoring with the {name} champion"):
                results.append(jobs[name](c.settings))
    except (tracking.NoChampion, LookupError, ValueError) as exc:
        _fail(str(exc))

    def render() -> None:
        t = Table("table", "version", "rows", "model", "seconds", title="scores")
        for r in results:
            t.add_row(r.table, str(r.version), f"{r.rows:,}", f"{r.model} v{r.model_version}", f"{r.seconds}")
        out.print(t)

    _emit(c, {"tables": [r.model_dump() for r in results]}, render)


@app.command(epilog=GLOBAL_HELP)
def export(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="A product (spending, risk, forecasts; default: all).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write each product's file here.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv (UTF-8 with BOM), parquet or json.")] = "csv",
    full: Annotated[bool, typer.Option("--full", help="Rebuild even when no source moved.")] = False,
) -> None:
    """Build the disclosure-controlled data products (gold.export_*) that are out of date with
    their sources, and with --out write each as a file. A product whose audit fails publishes
    nothing and the command exits 2."""
    from lcdp.exports import build as builder
    from lcdp.exports import files
    from lcdp.exports.disclosure import DisclosureFailed
    from lcdp.lake import catalog

    c = _ctx(ctx)
    if fmt not in files.FORMATS:
        _fail(f"unknown format {fmt!r} (known: {', '.join(files.FORMATS)})")
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        _fail(f"--out {out_dir} is a file, not a folder")
    names = list(builder.products())
    if name is not None and name not in names:
        _fail(f"no product {name!r} (products: {', '.join(names)})")
    chosen = [name] if name else names
    results, written = [], {}
    try:
        for product in chosen:
            with err.status(f"building {product} (disclosure control and its audit)"):
                result = builder.build(c.settings, product, full=full)
            results.append(result)
            if out_dir is not None:
                table = catalog.to_arrow(result.table, c.settings, result.version)
                written[product] = str(files.write(table, out_dir, product, fmt))
    except (builder.ExportUnavailable, DisclosureFailed) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write into {out_dir}: {exc.strerror or exc}")

    def render() -> None:
        t = Table("product", "table", "status", "version", "rows", "suppressed", "by rule", "secondary", "file",
                  title="data products")
        for r in results:
            d = r.disclosure
            rules = ", ".join(f"{k}: {v:,}" for k, v in d.primary_by_rule.items()) if d else "(as built before)"
            t.add_row(r.product, r.table, r.status, str(r.version), f"{r.rows:,}", f"{r.suppressed_cells:,}",
                      rules, f"{d.secondary:,}" if d else "", written.get(r.product, ""))
        out.print(t)

    _emit(c, {"products": {r.product: {**r.model_dump(mode="json", exclude={"disclosure": {"audit": {"findings"}}}),
                                      "file": written.get(r.product)} for r in results}}, render)


@app.command("models", epilog=GLOBAL_HELP)
def models_(ctx: typer.Context) -> None:
    """Registered models, their versions and aliases, with their holdout metrics side by side."""
    from models import tracking

    c = _ctx(ctx)
    listing = tracking.registry_listing(c.settings)

    def render() -> None:
        t = Table("model", "version", "aliases", "gate", "metrics", "run", title="registered models")
        for row in listing:
            t.add_row(row["model"], str(row["version"]), ", ".join(row["aliases"]), row["gate"],
                      "  ".join(f"{k} {v:.4f}" for k, v in row["metrics"].items()), row["run_id"])
        out.print(t)

    _emit(c, {"models": listing}, render)


keys_app = typer.Typer(help="API keys for partners, consumers and admins.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create", epilog=GLOBAL_HELP)
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
    key_id = keys.key_id_of(token)

    def render() -> None:
        out.print(token, highlight=False, soft_wrap=True)
        err.print(f"key id {key_id} ({role} {subject}). Store the key now: it cannot be shown again; "
                  f"'lcdp keys revoke {key_id}' revokes it.", highlight=False, soft_wrap=True)

    _emit(c, {"key": token, "key_id": key_id, "role": role, "subject": subject}, render)


@keys_app.command("list", epilog=GLOBAL_HELP)
def keys_list(ctx: typer.Context) -> None:
    """Every API key: id, role, subject, created, expires, revoked (never the secret)."""
    from lcdp import keys

    c = _ctx(ctx)
    found = keys.list_keys(c.settings.metadata_db_url)

    def render() -> None:
        t = Table("key id", "role", "subject", "created", "expires", "revoked", title="API keys")
        for k in found:
            t.add_row(k.key_id, k.role, k.subject, k.created_at, k.expires_at or "never", k.revoked_at or "")
        out.print(t)

    _emit(c, {"keys": [k.model_dump(mode="json") for k in found]}, render)


@keys_app.command("revoke", epilog=GLOBAL_HELP)
def keys_revoke(ctx: typer.Context,
                key: Annotated[str, typer.Argument(help="The key id (see 'lcdp keys list'), or the whole key.")]) -> None:
    """Revoke a key, by its id or by the key itself."""
    from lcdp import keys

    c = _ctx(ctx)
    key_id = keys.key_id_of(key)
    if not keys.revoke(c.settings.metadata_db_url, key_id):
        _fail(f"no key {key_id!r} (see 'lcdp keys list')")
    _emit(c, {"revoked": key_id}, lambda: out.print(f"revoked {key_id}"))


grants_app = typer.Typer(help="Which consumer may read which data product.", no_args_is_help=True)
app.add_typer(grants_app, name="grants")


def _grant(ctx: typer.Context, consumer: str, product: str, adding: bool) -> None:
    from lcdp.exports import grants
    from lcdp.exports.build import products

    c = _ctx(ctx)
    change = grants.add if adding else grants.remove
    try:
        changed = change(c.settings.metadata_db_url, consumer, product, list(products()))
    except grants.GrantError as exc:
        _fail(str(exc))
    if adding:
        said = f"granted {product} to {consumer}" if changed else f"{consumer} had {product} already"
    else:
        said = f"took {product} from {consumer}" if changed else f"{consumer} did not have {product}"
    _emit(c, {"consumer": consumer, "product": product, "granted": adding, "changed": changed},
          lambda: out.print(said, highlight=False))


@grants_app.command("add", epilog=GLOBAL_HELP)
def grants_add(ctx: typer.Context,
               consumer: Annotated[str, typer.Option(help="The consumer id (the subject of its consumer key).")],
               product: Annotated[str, typer.Option(help="A product: spending, risk, forecasts.")]) -> None:
    """Let a consumer read a product (export API and Delta Sharing)."""
    _grant(ctx, consumer, product, adding=True)


@grants_app.command("remove", epilog=GLOBAL_HELP)
def grants_remove(ctx: typer.Context,
                  consumer: Annotated[str, typer.Option(help="The consumer id.")],
                  product: Annotated[str, typer.Option(help="A product: spending, risk, forecasts.")]) -> None:
    """Take a product back from a consumer; its next request is refused."""
    _grant(ctx, consumer, product, adding=False)


@grants_app.command("list", epilog=GLOBAL_HELP)
def grants_list(ctx: typer.Context,
                consumer: Annotated[str | None, typer.Option(help="Only this consumer's grants.")] = None) -> None:
    """Every grant: consumer, product, since when."""
    from lcdp.exports import grants

    c = _ctx(ctx)
    found = grants.list_grants(c.settings.metadata_db_url, consumer)

    def render() -> None:
        t = Table("consumer", "product", "since", title="grants")
        for g in found:
            t.add_row(g.consumer, g.product, g.created_at)
        out.print(t)

    _emit(c, {"grants": [g.model_dump() for g in found]}, render)


share_app = typer.Typer(help="Delta Sharing for consumers (the service serves it under /delta-sharing).",
                         no_args_is_help=True)
app.add_typer(share_app, name="share")


@share_app.command("profile", epilog=GLOBAL_HELP)
def share_profile(
    ctx: typer.Context,
    consumer: Annotated[str, typer.Option(help="The consumer id the profile reads as (its grants apply).")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the profile (JSON, readable by you only).")],
    expires_days: Annotated[float, typer.Option(min=0.0, help="Days until the profile stops working.")] = 30.0,
) -> None:
    """Issue a Delta Sharing profile for a consumer: its endpoint is LCDP_PUBLIC_URL + /delta-sharing,
    its bearer token a new consumer key that expires with the profile. Any official client
    (delta-sharing for pandas or Spark) reads the products granted to the consumer with it."""
    from lcdp.service import sharing

    c = _ctx(ctx)
    if expires_days <= 0:
        _fail("--expires-days must be above 0")
    if out_file.exists() and out_file.is_dir():
        _fail(f"--out {out_file} is a folder; name the profile file")
    try:
        content = sharing.profile(c.settings, consumer, expires_days)
        sharing.write_profile(out_file, content)
    except ValueError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {out_file}: {exc.strerror or exc}")
    summary = {"profile": str(out_file), "consumer": consumer, "endpoint": content["endpoint"],
               "expires": content["expirationTime"]}
    _emit(c, summary, lambda: out.print(f"wrote {out_file} for {consumer} (endpoint {content['endpoint']}, "
                                        f"expires {content['expirationTime']}); grants: lcdp grants list "
                                        f"--consumer {consumer}", highlight=False, soft_wrap=True))


@app.command(epilog=GLOBAL_HELP)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Default: LCDP_SERVICE_PORT (8700).")] = None,
) -> None:
    """Run the platform API: partner uploads, the consumers' export API and Delta Sharing
    (OpenAPI at /docs and /openapi.json, health at /healthz)."""
    import socket

    c = _ctx(ctx)
    port = port or c.settings.service_port
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == 98:  # EADDRINUSE
            _fail(f"port {port} on {host} is taken (another 'lcdp serve'?); choose another with --port")
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
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

    c = _ctx(ctx)
    try:
        states = supervisor.up(c.settings, timeout_s=timeout,
                               on_event=lambda m: err.print(m, highlight=False, soft_wrap=True))
    except supervisor.ServiceError as exc:
        running = any(supervisor.run_dir(c.settings).glob("*.json"))
        _fail(str(exc).splitlines()[0] + (" ('lcdp down' stops the others)" if running else ""))
    _emit(c, {"services": supervisor.describe(states)}, lambda: _services_table(states))


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

    c = _ctx(ctx)
    states = supervisor.status(c.settings)
    _emit(c, {"services": supervisor.describe(states)}, lambda: _services_table(states))


@app.command(epilog=GLOBAL_HELP)
def down(ctx: typer.Context) -> None:
    """Stop the services 'lcdp up' started for this home (and nothing else)."""
    from lcdp.ops import supervisor

    c = _ctx(ctx)
    stopped = supervisor.down(c.settings, on_event=lambda m: err.print(m, highlight=False, soft_wrap=True))
    _emit(c, {"stopped": stopped},
          lambda: out.print(f"stopped {', '.join(stopped)}" if stopped else "no service of this home was running"))


db_app = typer.Typer(help="The platform's metadata database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade", epilog=GLOBAL_HELP)
def db_upgrade(ctx: typer.Context) -> None:
    """Bring the metadata database to the newest schema (Alembic; an old home upgrades in place)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from lcdp import metadata, migrations

    c = _ctx(ctx)
    url = c.settings.metadata_db_url
    try:
        before, after = migrations.upgrade(create_engine(url))
    except SQLAlchemyError as exc:
        _fail(f"cannot upgrade {metadata.describe_url(url)}: {str(exc).splitlines()[0]}")
    _emit(c, {"database": metadata.describe_url(url), "before": before, "after": after},
          lambda: out.print(f"{metadata.describe_url(url)}: {before or 'unversioned'} → {after}"
                            if before != after else f"{metadata.describe_url(url)}: at {after}, the newest",
                            highlight=False, soft_wrap=True))


@app.command(epilog=GLOBAL_HELP)
def contracts(ctx: typer.Context) -> None:
    """Print the reference docs of every dataset contract (generated from schemas/)."""
    from lcdp.contracts import load_contracts, render_markdown

    c = _ctx(ctx)
    _emit(c, {f"{p}.{d}": k.model_dump(mode="json") for (p, d), k in load_contracts().items()},
          lambda: sys.stdout.write(render_markdown() + "\n"))


@app.command(epilog=GLOBAL_HELP)
def dictionary(ctx: typer.Context) -> None:
    """Print the data dictionary of every silver and gold table, data products included: grain,
    key, partition, and each column's type and meaning (generated from the jobs that write them
    and the products' declarations)."""
    from jobs import gold_features, gold_spending_cube, silver_merchants, silver_snapshots, silver_transactions
    from lcdp.lake.dictionary import render_markdown
    from models import scoring
    from models.credit_risk import score as credit_scores

    c = _ctx(ctx)
    from jobs.exports import modules as products

    docs = [silver_merchants.DOC, silver_transactions.DOC, *silver_snapshots.DOCS, gold_features.DOC,
            gold_spending_cube.DOC, credit_scores.DOC, scoring.FORECASTS_DOC,
            *(m.PRODUCT.table_doc() for m in products().values())]
    _emit(c, {"tables": [d.as_dict() for d in docs]}, lambda: sys.stdout.write(render_markdown(docs) + "\n"))


_GLOBAL_VALUED = ("--home", "--log-level")
_GLOBAL_FLAGS = ("--json",)  # --version only before a command: lineage has its own


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move the global options to the front, so ``lcdp status --json`` means ``lcdp --json
    status`` (click only knows a group's options before the command's name)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg.split("=", 1)[0] in _GLOBAL_VALUED:
            take = 1 if "=" in arg else 2
            front += argv[i:i + take]
            i += take
            continue
        (front if arg in _GLOBAL_FLAGS else rest).append(arg)
        i += 1
    return front + rest


def _error_log(exc: BaseException) -> Path:
    """Write an unexpected error's traceback (no locals) where the user can find it."""
    import datetime as dt
    import tempfile
    import traceback

    home = _state.get("home")
    folder = home / "logs" if isinstance(home, Path) and home.is_dir() else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lcdp-errors.log"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"--- {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} lcdp {' '.join(sys.argv[1:])}\n")
        fh.write("".join(traceback.format_exception(exc)))
    return path


def _click_exceptions():
    """Typer 0.29 carries its own copy of click: its exception classes, wherever they live."""
    try:
        from typer._click import exceptions as bundled
    except ImportError:  # an older typer on plain click
        from click import exceptions as bundled
    return bundled


def run() -> None:
    """The ``lcdp`` script: the app, with every failure turned into one line and exit 2."""
    clicks = _click_exceptions()
    argv = hoist_global_options(sys.argv[1:])
    options = argv[: argv.index("--") if "--" in argv else len(argv)]
    _state["json"] = "--json" in options
    _state["help"] = "--help" in options  # a command's help needs no home
    try:
        # without standalone mode the app returns a command's exit code instead of exiting
        code = app(args=argv, prog_name="lcdp", standalone_mode=False)
    except clicks.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.ctx.get_help() + "\n")
        sys.exit(0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except clicks.UsageError as exc:
        where = f"lcdp {exc.ctx.info_name} --help" if exc.ctx and exc.ctx.parent else "lcdp --help"
        _exit_with(f"{exc.format_message()} (see '{where}')", 2)
    except clicks.ClickException as exc:
        _exit_with(exc.format_message(), 2)
    except (typer.Abort, KeyboardInterrupt):
        _exit_with("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the one place every other failure ends up
        _exit_with(_describe(exc), 2)
    _leave(code if isinstance(code, int) else 0)


def _leave(code: int) -> None:
    """Exit once the command's work and output are done: our exit hooks run (the engine is
    stopped), then the process ends without the interpreter's teardown of native libraries,
    which once aborted a finished ``lcdp lineage`` ("terminate called without an active
    exception", exit -6) after it had printed its answer."""
    import atexit
    import os

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_with(message: str, code: int) -> None:
    try:
        _fail(message, code)
    except typer.Exit as done:
        sys.exit(done.exit_code)


def _describe(exc: Exception) -> str:
    """One line for an exception that no command turned into a message of its own."""
    from lcdp.errors import DeliveryRefused
    from lcdp.home import HomeError

    if isinstance(exc, (DeliveryRefused, HomeError)):
        return str(exc)
    try:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            name = "LCDP_" + "_".join(str(p) for p in first.get("loc", ())).upper()
            return f"setting {name} is invalid: {first.get('msg')}"
    except ImportError:  # pragma: no cover
        pass
    if type(exc).__module__.startswith("sqlalchemy"):
        from lcdp.metadata import describe_url

        url = _state.get("metadata_url") or ""
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return (f"cannot use the metadata database {describe_url(url)}: {detail[0] if detail else type(exc).__name__} "
                "(check LCDP_METADATA_URL and that the server runs)")
    path = _error_log(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'unexpected failure'} (traceback in {path})"


if __name__ == "__main__":  # pragma: no cover
    run()

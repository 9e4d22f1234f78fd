"""``bench``: each stage measured beside a plain peer in the same run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from lcdp.cli.context import GLOBAL_HELP, Ctx, ctx_of, err, out
from lcdp.errors import BenchFailed, UsageError

app = typer.Typer()


@app.command(epilog=GLOBAL_HELP)
def bench(
    ctx: typer.Context,
    stage: Annotated[str | None, typer.Argument(
        help="Stage to measure: ingest, upload, fusion, train, export, growth, public-credit. Without one: "
        "every stage, with a JSON report and a Markdown summary in bench/results.")] = None,
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
    dataset: Annotated[list[str] | None, typer.Option(
        help="public-credit: a public data set to compare on (repeatable; default: german and "
        "credit_data).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON result here.")] = None,
) -> None:
    """Measure a stage against a plain peer in the same run and print JSON; without a stage,
    every stage, written to bench/results as a JSON report and a Markdown summary."""
    from lcdp.bench.stages import BENCHES, STAGES

    c = ctx_of(ctx)
    if stage is None:
        _bench_suite(c, quick, results, work, out_file)
        return
    if stage not in STAGES:
        raise UsageError(f"unknown bench stage {stage!r} (known: {', '.join(STAGES)})")
    if quick or results:
        raise UsageError("--quick and --results are for the whole suite: lcdp bench --quick")
    if grid and stage != "fusion":
        raise UsageError("--grid is for the fusion stage: lcdp bench fusion --grid")
    if plot and stage != "growth":
        raise UsageError("--plot is for the growth stage: lcdp bench growth --plot FILE")
    if dataset and stage != "public-credit":
        raise UsageError("--dataset is for the public-credit stage: lcdp bench public-credit --dataset german")
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
            result = bench_growth(base, months, work=work, plot_path=plot,
                                  progress=lambda m: status.update(f"benchmarking growth: {m}"))
            err.print(f"plot: {plot}", highlight=False, markup=False)
        elif stage == "train":
            from lcdp.bench.train import bench_train

            result = bench_train(rows)
        elif stage == "public-credit":
            from lcdp.bench.public_credit import bench_public_credit

            result = bench_public_credit(dataset, progress=lambda m: status.update(f"benchmarking public-credit: {m}"))
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
        raise BenchFailed(f"{len(failed)} stage(s) failed: {', '.join(failed)}", hint=f"reasons in {json_path}")

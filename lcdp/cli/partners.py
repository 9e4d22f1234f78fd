"""What partners send: ``generate`` (synthetic partner files) and ``ingest`` (a delivery)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, err, help_section, out, progress
from lcdp.errors import DeliveryRefused, UsageError

app = typer.Typer()


@app.command(epilog=GLOBAL_HELP)
def generate(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write partner files, truth and manifest into.")],
    merchants: Annotated[int, typer.Option(min=10, help="Businesses in the generated world.")] = 1000,
    months: Annotated[int, typer.Option(min=1, max=72, help="Months of history (the credit and spending models need 18 or more).")] = 36,
    seed: Annotated[int, typer.Option(help="Seed of the generated world: the same seed and start give the same files.")] = 7,
    start: Annotated[str | None, typer.Option(
        help="First month, YYYY-MM. [default: 2023-01, or earlier for a history too long to end by 2025-12]",
        show_default=False)] = None,
    dirty: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of records to corrupt with real-world faults.")] = 0.0,
) -> None:
    """Generate partner files in their native formats, with ground truth and a manifest."""
    from lcdp.generator import WorldParams, default_start
    from lcdp.generator import generate as run_generate

    c = ctx_of(ctx)
    with err.status("generating") as status:
        params = WorldParams(merchants=merchants, months=months, seed=seed, start=start or default_start(months))
        manifest = run_generate(out_dir, params, dirty=dirty, progress=lambda m: status.update(m))
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

    emit(c, {"out": str(out_dir), "feeds": summary, "manifest": str(out_dir / "manifest.json")}, render)


def _contract_rows() -> list[tuple[str, str]]:
    """Each contract's partner and dataset with its description, format and version: what
    ``lcdp ingest --help`` lists, read from schemas/ when the help is shown."""
    from lcdp.contracts import load_contracts

    return [(f"{partner} {dataset}", f"{k.description.strip()} ({k.format.kind}, contract v{k.version})")
            for (partner, dataset), k in sorted(load_contracts().items())]


@app.command(epilog=GLOBAL_HELP,
             cls=help_section("Partners and their datasets (their columns: 'lcdp contracts')",
                              _contract_rows))
def ingest(
    ctx: typer.Context,
    partner: Annotated[str, typer.Argument(help="The partner delivering (one of those listed above).", show_default=False)],
    dataset: Annotated[str, typer.Argument(help="The partner's dataset the files hold (listed above).", show_default=False)],
    paths: Annotated[list[Path], typer.Argument(help="Files (or folders of files) to deliver, as one batch.")],
) -> None:
    """Ingest a partner's delivery and print its receipt: its files are parsed and validated
    against the dataset's contract, valid rows go to bronze, the others to quarantine with their
    reasons. Exit 2 when the delivery is refused whole."""
    from schemas import feed_problem

    c = ctx_of(ctx)
    problem = feed_problem(partner, dataset)  # from the contract files' names: answers at once
    if problem:
        raise UsageError(problem)
    from lcdp.ingest import ingest_files
    from lcdp.metadata import REFUSED_WHOLE

    files: list[Path] = []
    for p in paths:
        try:
            files.extend(sorted(x for x in p.iterdir() if x.is_file()) if p.is_dir() else [p])
        except OSError as exc:
            raise DeliveryRefused(f"cannot read {p}: {exc.strerror or exc}") from None
    if not files:
        raise DeliveryRefused(f"no files in {', '.join(map(str, paths))}")
    with progress() as bar:
        task = bar.add_task(f"{partner}.{dataset}", total=len(files))
        seen: list[str] = []

        def on_progress(name: str, records: int) -> None:
            if name not in seen:
                seen.append(name)
            # files done so far, and the records of the one being parsed (a 2 GB file takes minutes)
            bar.update(task, completed=len(seen) - 1, description=f"{name}: {records:,} records parsed")

        receipts = ingest_files(c.settings, partner, dataset, files, on_progress)
    refused = [r for r in receipts if r.status in REFUSED_WHOLE]
    payload: Any = receipts[0] if len(receipts) == 1 else {"receipts": [r.model_dump(mode="json") for r in receipts]}

    def render() -> None:
        for r in receipts:
            out.print_json(r.model_dump_json())

    emit(c, payload, render)
    if refused and len(refused) == len(receipts):
        raise DeliveryRefused(f"delivery refused: {refused[0].error}")

"""The data products: ``export`` builds them (disclosure control and its audit) and writes
them as files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lcdp import declarations
from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, err, out
from lcdp.errors import UnknownName, UsageError

app = typer.Typer()
PRODUCT_NAMES = ", ".join(declarations.product_names())


@app.command(epilog=GLOBAL_HELP)
def export(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help=f"A product ({PRODUCT_NAMES}; default: all).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write each product's file here.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv (UTF-8 with BOM), parquet or json.")] = "csv",
    full: Annotated[bool, typer.Option("--full", help="Rebuild even when no source moved.")] = False,
) -> None:
    """Build the disclosure-controlled data products (gold.export_*) that are out of date with
    their sources, and with --out write each as a file, beside a data dictionary in Korean and
    English (README.md and <product>.dictionary.json). A product whose audit fails publishes
    nothing and the command exits 2."""
    from lcdp.exports import dictionary, files
    from lcdp.lake import catalog
    from lcdp.pipeline import products

    c = ctx_of(ctx)
    if fmt not in files.FORMATS:
        raise UsageError(f"unknown format {fmt!r} (known: {', '.join(files.FORMATS)})")
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a folder")
    if name is not None:
        try:
            declarations.product(name)
        except UnknownName as exc:
            raise UsageError(str(exc)) from None
    chosen = [name] if name else products.names()
    results, written = [], {}
    for product in chosen:
        with err.status(f"building {product} (disclosure control and its audit)"):
            result = products.build(c.settings, product, full=full)
        results.append(result)
        if out_dir is not None:
            table = catalog.to_arrow(result.table, c.settings, result.version)
            try:
                written[product] = str(files.write(table, out_dir, product, fmt))
            except OSError as exc:
                raise UsageError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    documented: list[str] = []
    if out_dir is not None:
        builds = {r.product: {"version": r.version, "rows": r.rows, "suppressed_cells": r.suppressed_cells}
                  for r in results}
        try:
            documented = [str(p) for p in dictionary.write(
                out_dir, [products.declared(p) for p in chosen], {p: Path(f).name for p, f in written.items()}, builds)]
        except OSError as exc:
            raise UsageError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None

    def render() -> None:
        t = Table("product", "table", "status", "version", "rows", "suppressed", "by rule", "secondary",
                  "audited with", "file", title="data products")
        for r in results:
            d = r.disclosure
            rules = ", ".join(f"{k}: {v:,}" for k, v in d.primary_by_rule.items()) if d else "(as built before)"
            t.add_row(r.product, r.table, r.status, str(r.version), f"{r.rows:,}", f"{r.suppressed_cells:,}",
                      rules, f"{d.secondary:,}" if d else "",
                      f"{d.releases_before} earlier release(s)" if d else "", written.get(r.product, ""))
        out.print(t)
        if documented:
            out.print(f"data dictionary: {', '.join(documented)}")

    emit(c, {"products": {r.product: {**r.model_dump(mode="json", exclude={"disclosure": {"audit": {"findings"}}}),
                                      "file": written.get(r.product)} for r in results},
             "dictionary": documented}, render)

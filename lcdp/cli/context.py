"""What every command shares: the settings (loaded on first use), ``--json``, the two consoles
and the way a result is printed."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperCommand

if TYPE_CHECKING:
    from lcdp.settings import Settings

GLOBAL_HELP = ("Global options (before or after the command): --home DIR (or LCDP_HOME), --json, "
               "--log-level LEVEL; see 'lcdp --help'.")

# Piped output is never cut to 80 columns: a table is as wide as its content.
out = Console(width=None if sys.stdout.isatty() else 10_000)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 10_000)

#: What the process knows before a command runs: ``--json``, the home, the metadata URL once
#: the settings are loaded (for the one-line error of an unreachable database).
state: dict[str, Any] = {"json": False, "home": None}


class Ctx:
    """What every command gets: the settings (loaded on first use: pydantic-settings is slow
    to import, and help and refusals should not wait for it) and ``--json``."""

    def __init__(self, home: Path | None, as_json: bool) -> None:
        self.home, self.json = home, as_json

    @cached_property
    def settings(self) -> Settings:
        from lcdp.settings import load_settings

        settings = load_settings(self.home)
        state["metadata_url"] = settings.metadata_db_url
        return settings


def ctx_of(ctx: typer.Context) -> Ctx:
    return ctx.obj


def help_section(title: str, rows: Callable[[], list[tuple[str, str]]]) -> type[TyperCommand]:
    """A command class (``@app.command(cls=...)``) whose help adds a section of ``rows`` (term,
    meaning) after its description. The rows are computed only when the help is shown: they
    may read files (the contracts) that no other invocation of the CLI should wait for."""

    class WithSection(TyperCommand):
        def format_help_text(self, ctx, formatter) -> None:
            super().format_help_text(ctx, formatter)
            with formatter.section(title):
                formatter.write_dl(rows())

    return WithSection


def emit(c: Ctx, payload: Any, render: Callable[[], None]) -> None:
    """Human output, or with ``--json`` one JSON object as the last line of stdout."""
    if c.json:
        data = payload.model_dump(mode="json") if hasattr(payload, "model_dump") else payload
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    else:
        render()


def progress() -> Progress:
    """A progress bar on stderr that disappears when the work is done."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True)

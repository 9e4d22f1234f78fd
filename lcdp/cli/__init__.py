"""``lcdp``: the platform's command line. Every command takes ``--home`` and ``--json`` (one
JSON object as the last line of stdout), before or after the command's name; logs and
progress go to stderr.

The commands live one module per area (``lake``, ``partners``, ``models``, ``products``,
``access``, ``services``, ``demo``, ``bench``); this module assembles them and is the one
place where a failure becomes what the user sees: every error is a platform error
(``lcdp.errors``), printed as one line on stderr with its exit code (with ``--json`` also
``{"error", "exit_code"}`` as the last line of stdout); one the platform did not foresee names
the file holding its traceback. Heavy libraries are imported inside the commands that use
them, so ``--help`` and refusals answer at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from lcdp import __version__, log
from lcdp.cli import access, bench, demo, lake, models, partners, products, services
from lcdp.cli.context import Ctx, err, state
from lcdp.errors import HomeError, Interrupted, LcdpError, UsageError
from lcdp.home import DEFAULT_HOME, home_problem, keep_private

#: Commands that work without a platform home (they make one, or need none).
NO_HOME_NEEDED = {"init", "demo", "generate", "contracts", "dictionary", "bench", None}

app = typer.Typer(help="Local Currency Data Platform.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None)
for area in (lake, partners, models, products, access, services, demo, bench):
    app.add_typer(area.app)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"lcdp {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", envvar="LCDP_HOME", help="Platform home (lake, landing, metadata, Airflow).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line of stdout.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="Level of the logs on stderr: DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    state["json"] = as_json
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise UsageError(f"unknown log level {log_level!r} (known: DEBUG, INFO, WARNING, ERROR)")
    log.set_level(log_level.upper())
    home_dir = (home or DEFAULT_HOME).expanduser().resolve()
    state["home"] = home_dir
    problem = home_problem(home_dir)
    if problem and not state.get("help") and (ctx.invoked_subcommand not in NO_HOME_NEEDED or home_dir.is_file()):
        raise HomeError(problem)
    if problem is None:
        keep_private(home_dir)  # what this command writes in the home is its owner's alone
    ctx.obj = Ctx(home, as_json)


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


def run() -> None:
    """The ``lcdp`` script: the app, with every failure turned into one line and its exit code."""
    clicks = _click_exceptions()
    argv = hoist_global_options(sys.argv[1:])
    options = argv[: argv.index("--") if "--" in argv else len(argv)]
    state["json"] = "--json" in options
    state["help"] = "--help" in options  # a command's help needs no home
    try:
        # without standalone mode the app returns a command's exit code instead of exiting
        code = app(args=argv, prog_name="lcdp", standalone_mode=False)
    except clicks.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.ctx.get_help() + "\n")
        sys.exit(0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the one place every failure ends up
        error = platform_error(exc, clicks)
        report(error)
        sys.exit(error.exit_code)
    _leave(code if isinstance(code, int) else 0)


def report(error: LcdpError) -> None:
    """One line on stderr, and with ``--json`` ``{"error", "exit_code"}`` as stdout's last line."""
    line = error.line()
    if state["json"]:
        sys.stdout.write(json.dumps({"error": line, "exit_code": error.exit_code}, ensure_ascii=False) + "\n")
    err.print(f"error: {line}", highlight=False, markup=False, soft_wrap=True)


def platform_error(exc: BaseException, clicks=None) -> LcdpError:
    """Any failure as a platform error: itself when it is one; a usage error of click's, an
    interrupt, an invalid setting and an unreachable metadata database as theirs; anything
    else as an unexpected error whose traceback is kept in a file."""
    from lcdp.errors import InvalidSetting, MetadataUnavailable, UnexpectedError

    clicks = clicks or _click_exceptions()
    if isinstance(exc, LcdpError):
        return exc
    if isinstance(exc, clicks.UsageError):
        where = f"lcdp {exc.ctx.info_name} --help" if exc.ctx and exc.ctx.parent else "lcdp --help"
        return UsageError(f"{exc.format_message()} (see '{where}')")
    if isinstance(exc, clicks.ClickException):
        return UsageError(exc.format_message())
    if isinstance(exc, (typer.Abort, KeyboardInterrupt)):
        return Interrupted("interrupted")
    try:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            name = "LCDP_" + "_".join(str(p) for p in first.get("loc", ())).upper()
            return InvalidSetting(f"setting {name} is invalid: {first.get('msg')}")
    except ImportError:  # pragma: no cover
        pass
    if type(exc).__module__.startswith("sqlalchemy"):
        from lcdp.metadata import describe_url

        url = state.get("metadata_url") or ""
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return MetadataUnavailable(f"cannot use the metadata database {describe_url(url)}: "
                                   f"{detail[0] if detail else type(exc).__name__}",
                                   hint="check LCDP_METADATA_URL and that the server runs")
    path = _error_log(exc)
    text = str(exc).strip().splitlines()
    return UnexpectedError(f"{type(exc).__name__}: {text[0] if text else 'unexpected failure'}",
                           hint=f"traceback in {path}")


def _error_log(exc: BaseException) -> Path:
    """Write an unexpected error's traceback (no locals) where the user can find it."""
    import datetime as dt
    import tempfile
    import traceback

    home = state.get("home")
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


"""``--help`` explains everything: every command and every one of its options and arguments
says what it is; ``ingest`` lists the partners and datasets its contracts define; ``serve``
names the dashboard beside the API."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import typer.main

from lcdp.cli import app
from lcdp.contracts import load_contracts
from tests.test_cli_surprises import ENV, HEAVY, PROBE

LCDP = str(Path(sys.executable).with_name("lcdp"))


def commands(command, path: tuple[str, ...] = ("lcdp",)) -> Iterator[tuple[str, object]]:
    """Every command and group under ``command`` (itself included), with its full name."""
    yield " ".join(path), command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from commands(sub, (*path, name))


def help_of(*args: str) -> str:
    proc = subprocess.run([LCDP, *args, "--help"], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_every_command_option_and_argument_has_help():
    tree = list(commands(typer.main.get_command(app)))
    assert {"lcdp ingest", "lcdp serve", "lcdp demo", "lcdp db upgrade"} <= {name for name, _ in tree}
    missing = [name for name, command in tree if not (command.help or "").strip()]
    missing += [f"{name} {param.human_readable_name}" for name, command in tree for param in command.params
                if not (getattr(param, "help", None) or "").strip()]
    assert not missing, f"no help text: {missing}"


def test_ingest_help_lists_every_partner_and_dataset_of_the_contracts():
    text = help_of("ingest")
    flat = " ".join(text.split())
    assert "Partners and their datasets" in text
    for (partner, dataset), contract in load_contracts().items():
        assert f"\n  {partner} {dataset} " in text, (partner, dataset)
        assert " ".join(contract.description.split()) in flat, (partner, dataset)


def test_ingest_help_loads_no_heavy_library():
    """The partner list is read from the contracts when the help is shown; that stays cheap."""
    proc = subprocess.run([sys.executable, "-c", PROBE % (sorted(HEAVY),), "ingest", "--help"],
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert "kona transactions" in proc.stdout
    assert next(line for line in proc.stderr.splitlines() if line.startswith("LOADED")) == "LOADED "


def test_serve_help_names_the_dashboard_and_the_api():
    flat = " ".join(help_of("serve").split())
    for part in ("/dashboard", "/v1/uploads", "/v1/products", "/delta-sharing", "/docs", "/healthz"):
        assert part in flat, part

"""The layering rule, checked: imports point down (edges → orchestration → jobs and models →
core → schemas), never up, not even inside a function. The contracts live in pyproject.toml
(``[tool.importlinter]``) and ``lint-imports`` (import-linter) checks them; docs/architecture.md
says why each layer sits where it does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
PACKAGES = ("lcdp", "jobs", "models", "schemas")


def lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the code under ``root`` (its pyproject.toml and packages)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT_IMPORTS, "--no-cache", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def layers() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["id"] == "layers"]
    return contract["layers"]


def test_the_code_keeps_its_layers():
    proc = lint(REPO)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout


def test_every_part_of_the_platform_has_its_layer():
    """A new module or package of ``lcdp`` must be placed in a layer, or the contract would
    not check it."""
    named = {m for layer in layers() for m in re.split(r"[|:]", layer) if m.strip()}
    named = {m.strip() for m in named}
    parts = {f"lcdp.{p.stem}" for p in (REPO / "lcdp").glob("*.py") if p.stem != "__init__"}
    parts |= {f"lcdp.{p.parent.name}" for p in (REPO / "lcdp").glob("*/__init__.py")}
    assert parts - named == set(), "modules of lcdp in no layer of pyproject.toml"
    assert {"jobs", "models", "schemas"} <= named


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """The packages and pyproject.toml in a folder of their own, to break on purpose."""
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("module", "imported"), [
    ("lcdp/lake/engine.py", "jobs.gold_features"),
    ("lcdp/lake/catalog/tables.py", "models.tracking"),
    ("lcdp/lake/lineage.py", "lcdp.pipeline.fusion"),
    ("lcdp/settings.py", "lcdp.ops.supervisor"),
    ("lcdp/exports/grants.py", "lcdp.service.app"),
    ("lcdp/ingest/pipeline.py", "lcdp.dashboard.routes"),
    ("jobs/gold_spending_cube.py", "lcdp.pipeline.products"),
    ("models/tracking.py", "lcdp.cli"),
])
def test_an_import_that_points_up_breaks_the_contract(copy, module, imported):
    """Even inside a function, where it would not run until called."""
    path = copy / module
    original = path.read_text()
    path.write_text(original + f"\n\ndef _reaches_up():\n    import {imported}\n\n    return {imported}\n")
    try:
        proc = lint(copy)
    finally:
        path.write_text(original)
    assert proc.returncode != 0, proc.stdout[-3000:]
    dotted = module.removesuffix(".py").replace("/", ".")
    assert f"{dotted} -> {imported}" in proc.stdout, proc.stdout[-3000:]

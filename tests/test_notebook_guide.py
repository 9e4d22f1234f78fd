"""The data scientist's path, as docs/models.md writes it ("Training your own model on the
lake"): its python blocks run, as written and one after the other, against a copy of the demo
home; and the notebook's reads of the lake refuse a version in the command line's words."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from conftest import LCDP
from lcdp.errors import UnknownTable, UnknownVersion
from lcdp.lake import catalog
from lcdp.lake.notebook import open_lake
from lcdp.settings import Settings

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "models.md"
SECTION = "## Training your own model on the lake"


def guide_code() -> str:
    """The python blocks of the guide's section, joined: one notebook, top to bottom."""
    section = GUIDE.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    code = [part.split("```", 1)[0] for part in section.split("```python\n")[1:]]
    assert code, f"{GUIDE.name} has no python block under {SECTION!r}"
    return "\n".join(code)


def copy_of(home: Path, to: Path) -> Path:
    """``home`` for a test that writes to it: its databases (written in place: MLflow's store,
    the metadata's pins) copied, every other file hard-linked (the guide reads the lake and
    adds new artifact files; the demo's 600 MB are not copied)."""
    def link_or_copy(source: str, target: str) -> None:
        if ".db" in Path(source).name:
            shutil.copy2(source, target)
        else:
            os.link(source, target)

    shutil.copytree(home, to, symlinks=True, copy_function=link_or_copy)
    return to


def test_the_guide_runs_as_written(demo_home, tmp_path):
    home = copy_of(Path(demo_home["home"]), tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LCDP_")} | {"LCDP_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", guide_code()], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    assert "holdout AUC 0." in proc.stdout and "left out: ['registry_status'" in proc.stdout, proc.stdout
    assert "scored" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def three_versions(tmp_path: Path) -> tuple[Settings, Path, str]:
    """A home (made by ``lcdp init``) whose ``silver.merchants`` has versions 0 to 2."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LCDP_")} | {"LCDP_HOME": str(home)}
    made = subprocess.run([LCDP, "init"], env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    settings = Settings(home=home)
    name = "silver.merchants"
    for month in range(3):
        write_deltalake(catalog.table(name).uri(settings), pa.table({"month": [month]}), mode="append")
    return settings, home, name


def test_reading_a_version_the_table_has_not_reached_says_so_as_the_command_line_does(tmp_path):
    settings, home, name = three_versions(tmp_path)
    lake = open_lake(home)
    assert sorted(lake.arrow(name, version=2).column("month").to_pylist()) == [0, 1, 2]
    assert lake.pandas(name, version=0)["month"].tolist() == [0]
    for version in (3, -1):
        with pytest.raises(UnknownVersion) as refused:
            lake.pandas(name, version=version)
        assert str(refused.value) == f"{name} has no version {version} (versions 0 to 2)"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LCDP_")} | {"LCDP_HOME": str(home)}
        cli = subprocess.run([LCDP, "lineage", name, "--version", str(version)], env=env, capture_output=True,
                             text=True, timeout=300)
        assert cli.returncode != 0 and f"error: {refused.value}" in " ".join(cli.stderr.split())
    with pytest.raises(UnknownVersion, match="has no version 7"):
        lake.spark(name, version=7)  # refused before the engine starts
    with pytest.raises(UnknownTable, match="gold.spending_cube has not been written yet"):
        lake.arrow("gold.spending_cube", version=0)

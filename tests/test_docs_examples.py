"""Every example of README.md and docs/ runs, as written, against a home made by README's demo
command, so an example cannot drift from the code.

- ``bash`` blocks run from the repository's root under ``set -euo pipefail``, with ``.venv/bin``
  first on ``PATH``, ``LCDP_HOME`` naming the demo home and ``lcdp serve`` answering on
  ``http://127.0.0.1:8700`` (the default address the examples name);
- ``python`` blocks run with the suite's interpreter, in the same environment;
- README's two commands are the ones CI and the suite run: the test command is ``.ci/run``'s,
  the demo command made the demo home;
- docs/extending.md runs in a copy of the repository: its file blocks are written (or added
  to ``schemas/lake.py``) there, then its shell block runs against a home holding the demo's
  silver tables, through that copy's code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEMO_SIZE, readme_commands
from lcdp.service.background import wait_healthy

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICE = "http://127.0.0.1:8700"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
EXTENDING = REPO / "docs" / "extending.md"


def blocks(path: Path) -> list[tuple[str, int, str]]:
    """The fenced blocks of a Markdown file: language, line, text."""
    text = path.read_text(encoding="utf-8")
    return [(m.group(1), text.count("\n", 0, m.start()) + 1, m.group(2)) for m in FENCE.finditer(text)]


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted(REPO.glob("*/README.md"))]


def examples() -> list:
    """Every bash and python block to run against the demo home (README's two commands,
    docs/extending.md and the training guide of docs/models.md, which writes to its home, have
    tests of their own)."""
    from test_notebook_guide import guide_code

    guide = guide_code()
    found = []
    for path in documents():
        if path == EXTENDING:
            continue
        for lang, line, text in blocks(path):
            if lang in ("bash", "python") and "infra/bootstrap.sh" not in text and text.strip() not in guide:
                found.append(pytest.param(lang, text, id=f"{path.relative_to(REPO)}:{line}"))
    return found


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LCDP_")}
    return env | {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "LCDP_HOME": str(home)} | extra


def run_example(lang: str, text: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = ["bash", "-c", "set -euo pipefail\n" + text] if lang == "bash" else [sys.executable, "-c", text]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def served(demo_home):
    """``lcdp serve`` on the demo home at the address the examples name."""
    env = environment(demo_home["home"])
    server = subprocess.Popen([str(BIN / "lcdp"), "serve"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(SERVICE, server, timeout_s=120)
    except RuntimeError as exc:
        server.kill()
        pytest.fail(f"lcdp serve did not answer on {SERVICE} (is the port taken?): {exc}")
    yield env
    server.terminate()
    server.wait(timeout=30)


def test_readme_gives_the_two_commands_ci_and_the_suite_run(demo_home):
    commands = readme_commands()
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci[-1] == commands["tests"]
    assert commands["demo"] == "bash infra/bootstrap.sh && .venv/bin/lcdp demo"
    if demo_home["command"] is not None:
        assert demo_home["command"] == " ".join([commands["demo"], "--json", *DEMO_SIZE])


def _count(n: int) -> str:
    return f"{n:,}"


def _interval(figure: list[float]) -> str:
    value, low, high = figure
    return f"{value:+.4f} [{low:+.4f}, {high:+.4f}]"


def _rows(product: str):
    return lambda s: f"{s['exports'][product]['rows']:,} ({s['exports'][product]['suppressed_cells']:,})"


#: README's "What the demo gives": each figure's row title → how the demo's summary gives it
README_FIGURES = {
    "payments the card operator delivered (rows in)": lambda s: _count(s["ingestion"]["kona.transactions"]["rows_in"]),
    "of them quarantined, each with its reason": lambda s: _count(s["ingestion"]["kona.transactions"]["rows_quarantined"]),
    "payments in `silver.transactions`": lambda s: _count(s["tables"]["silver.transactions"]),
    "merchants in `silver.merchants`": lambda s: _count(s["tables"]["silver.merchants"]),
    "business-months in `gold.merchant_month_features`": lambda s: _count(s["tables"]["gold.merchant_month_features"]),
    "credit-risk AUC (baseline; oracle)": lambda s: "{auc:.4f} ({baseline_auc:.4f}; {oracle_auc:.4f})".format(
        **s["models"]["credit_risk"]),
    "credit-risk AUC minus the oracle's, 90 % interval over businesses (baseline's)":
        lambda s: "{} ({})".format(*(_interval(s["models"]["credit_risk"][k])
                                     for k in ("model_minus_oracle_auc", "baseline_minus_oracle_auc"))),
    "holdout business-months in risk bands A / B / C / D / E":
        lambda s: " / ".join(f"{b['share']:.0%}" for b in s["models"]["credit_risk"]["bands"].values()),
    "spending WAPE (seasonal naive; AutoETS; oracle)":
        lambda s: "{wape:.4f} ({seasonal_naive_wape:.4f}; {auto_ets_wape:.4f}; {oracle_wape:.4f})".format(
            **s["models"]["spending_pattern"]),
    "spending WAPE over the oracle's at 시군 × industry, 90 % interval over series; 80 % interval coverage":
        lambda s: "{:.3f} [{:.3f}, {:.3f}]; {:.1%}".format(*s["models"]["spending_pattern"]["model_over_oracle_wape"],
                                                         s["models"]["spending_pattern"]["coverage"]),
    "`spending` product rows (suppressed cells)": _rows("spending"),
    "`risk` product rows (suppressed cells)": _rows("risk"),
    "`forecasts` product rows (suppressed cells)": _rows("forecasts"),
}


def readme_figures() -> dict[str, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## What the demo gives", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return {title.strip(): value.strip() for title, value in rows[2:]}


def test_readme_s_demo_figures_are_what_a_fresh_run_gives(demo_home):
    """README quoted figures no run could give (the world moved with today's date); they are
    now the figures of README's demo command, which this suite has just run (the summary a
    demo keeps beside its partner data, when LCDP_TEST_DEMO_HOME reuses a home)."""
    summary = demo_home["summary"]
    assert summary is not None, "the demo home keeps no summary.json: make it again with README's demo command"
    assert readme_figures() == {title: figure(summary) for title, figure in README_FIGURES.items()}


def test_every_document_has_examples_and_each_is_runnable_code():
    """Each page shows something to run; an example block is bash or python (output samples
    and configuration are fenced as text, yaml or json, and are not examples)."""
    for path in documents():
        langs = [lang for lang, _, _ in blocks(path)]
        assert all(lang in ("bash", "python", "text", "yaml", "json", "") for lang in langs), (path, langs)
        if path.parent.name == "docs":
            assert {"bash", "python"} & set(langs), f"{path.name} has no example"


@pytest.mark.parametrize(("lang", "text"), examples())
def test_the_example_runs(served, lang, text):
    proc = run_example(lang, text, REPO, served)
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def _apply(copy: Path, header: str, body: str) -> None:
    """A file block of docs/extending.md: a new file, or an entry added to a tuple of
    ``schemas/lake.py`` (``# schemas/lake.py: add to TABLES``)."""
    target, _, action = header.removeprefix("# ").partition(": ")
    path = copy / target
    if not action:
        path.write_text(body, encoding="utf-8")
        return
    name = action.removeprefix("add to ").strip()
    text = path.read_text(encoding="utf-8")
    start = re.search(rf"^{name}: tuple\[\w+, \.\.\.\] = \(\n", text, re.M)
    assert start, f"no tuple {name} in {target}"
    end = text.index("\n)\n", start.end())
    path.write_text(text[:end] + "\n" + body.rstrip("\n") + text[end:], encoding="utf-8")


def test_extending_adds_a_gold_table_and_a_product_as_its_module_and_one_entry(demo_home, tmp_path):
    """docs/extending.md as written, in a copy of the repository: two new modules and two
    entries, then the new table is fused and the new product built and written through the
    command line, and both are documented by ``lcdp dictionary``."""
    copy = tmp_path / "repo"
    for part in ("lcdp", "jobs", "models", "schemas"):
        shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    shell = []
    for lang, _, text in blocks(EXTENDING):
        first, _, rest = text.partition("\n")
        if lang == "python" and first.startswith("# ") and "/" in first:
            _apply(copy, first, rest if ": add to " in first else text)
        elif lang == "bash":
            shell.append(text)
    assert len(shell) == 1 and (copy / "jobs" / "exports" / "region_payments.py").exists()
    # a home holding the demo's silver tables (hard links: the demo home is not touched)
    home = tmp_path / "home"
    env = environment(home, PYTHONPATH=str(copy))
    assert subprocess.run([str(BIN / "lcdp"), "init"], env=env, capture_output=True, timeout=300).returncode == 0
    for table in ("transactions", "merchants"):
        shutil.copytree(demo_home["home"] / "lake" / "silver" / table, home / "lake" / "silver" / table,
                        copy_function=os.link)
    proc = run_example("bash", shell[0], copy, env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    written = (Path("/tmp/lcdp-region-payments") / "region_payments.csv").read_text(encoding="utf-8-sig")
    assert written.splitlines()[0] == "month,sigun_cd,sigun_name,payments,status"
    rows = written.splitlines()[1:]
    assert any(",ALL,경기도 전체," in row for row in rows)
    assert rows and all(row.endswith((",published", ",suppressed")) for row in rows)
    # the copy's code saw the new entries; the repository's own code did not change
    status = subprocess.run([str(BIN / "lcdp"), "--json", "status"], env=env, capture_output=True, text=True,
                            timeout=300)
    tables = {t["name"]: t["rows"] for t in json.loads(status.stdout.splitlines()[-1])["tables"]}
    assert tables["gold.region_month"] > 0 and tables["gold.export_region_payments"] > 0
    from lcdp import declarations

    assert "gold.region_month" not in declarations.table_names()


def test_the_demo_prints_each_product_s_rows_and_suppressed_cells(demo_home):
    """README promised each product's rows and suppressed cells, and only `--json` had them."""
    from rich.console import Console

    from lcdp.cli.demo import print_summary
    from lcdp.demo import DemoSummary

    console = Console(record=True, width=200)
    summary = DemoSummary.model_validate(demo_home["summary"])
    print_summary(summary, console)
    printed = console.export_text()
    assert "data products" in printed
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in printed.splitlines() if "│" in line]
    for name, product in summary.exports.items():
        assert [name, f"{product['rows']:,}", f"{product['suppressed_cells']:,}", str(product["version"])] in rows, \
            printed[-2000:]

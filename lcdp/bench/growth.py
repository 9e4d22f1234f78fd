"""The growth curve (``lcdp bench growth``): the whole pipeline — generate, ingest, fuse,
train, score, export — at 1×, 4× and 16× of a base number of merchants, each stage in a fresh
process, with its seconds and peak memory, a check that no stage grows worse than linearly in
the input rows, a PNG of cost against input rows, and the extrapolation to a province-year.

Growth is in merchants at a fixed number of months, because that is how the program grows
(the province has about 413,762 merchants) and because the models need a fixed history: 29
months is the least both train on (the credit model 29, the spending model 18).

Each stage is the function the DAG task calls, run directly (no Airflow: its own cost does not
grow with the data and would blur the curve). The models are trained with the generator's
truth as the oracle, as the demo does, so both are judged and promoted and scoring has a
champion to score with.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from lcdp.bench.fusion import BENCH_KEY
from lcdp.bench.stages import measure
from lcdp.calendar import default_start
from lcdp.errors import UsageError

FACTORS = (1, 4, 16)
MONTHS = 29
#: Merchants of the real program, and the months of the year the extrapolation is for.
PROVINCE_MERCHANTS = 413_762
PROVINCE_MONTHS = 12
#: A stage whose time grows faster than input rows to this power, between the two largest
#: sizes, is named as growing worse than linearly (the margin is for the machine's noise).
LINEAR_TOLERANCE = 1.15
STAGES = ("generate", "ingest", "fuse", "train", "score", "export")

_SETTINGS = """
    from pathlib import Path
    from lcdp.settings import Settings
    from lcdp.lake import engine
    settings = Settings(home=Path({home!r}), pseudonym_key={key!r})
    settings.ensure_dirs()
    engine.spark(settings)
"""

#: What each stage runs; ``{data}`` is the generated partner files, ``{home}`` the lake.
_WORK = {
    "generate": ("""
        from pathlib import Path
        from lcdp.generator import WorldParams, generate
    """, """
        manifest = generate(Path({data!r}), WorldParams(merchants={merchants}, months={months}, seed={seed},
                                                         start={start!r}))
        kona = sum(f.rows for f in manifest.files if f.partner == "kona")
        result = {{"rows": sum(f.rows for f in manifest.files), "payments": kona}}
    """),
    "ingest": (_SETTINGS, """
        from lcdp.generator import Manifest
        from lcdp.ingest import ingest_files
        manifest = Manifest.model_validate_json((Path({data!r}) / "manifest.json").read_text())
        rows = 0
        for feed in sorted({{(f.partner, f.dataset) for f in manifest.files}}):
            paths = [Path({data!r}) / f.path for f in manifest.for_dataset(*feed)]
            rows += sum(r.rows_valid for r in ingest_files(settings, *feed, paths))
        result = {{"rows": rows}}
    """),
    "fuse": (_SETTINGS, """
        from lcdp.pipeline import fusion
        steps = fusion.run_all(settings, full=True)
        result = {{"rows": sum(s.rows or 0 for s in steps)}}
    """),
    "train": (_SETTINGS, """
        from lcdp.pipeline import models
        runs = {{r.model: r for r in (models.train(settings, m, oracle_dir=Path({data!r})) for m in models.names())}}
        result = {{"aliases": {{name: r.alias for name, r in runs.items()}}}}
    """),
    "score": (_SETTINGS, """
        from lcdp.pipeline import models
        from models import tracking
        # scoring needs a champion; at small sizes a first version may lose to its baseline,
        # and the bench measures cost, not quality: its own throwaway registry promotes it
        promoted_by_bench = []
        for row in tracking.registry_listing(settings):  # newest first
            model = row["model"]
            if model not in promoted_by_bench and tracking.alias_version(settings, model, tracking.CHAMPION) is None:
                tracking.client(settings).set_registered_model_alias(model, tracking.CHAMPION, row["version"])
                promoted_by_bench.append(model)
        scored = [models.score(settings, m) for m in models.names()]
        result = {{"rows": sum(s.rows for s in scored), "promoted_by_bench": promoted_by_bench}}
    """),
    "export": (_SETTINGS, """
        from lcdp.pipeline.products import build, names
        built = [build(settings, name) for name in names()]
        result = {{"rows": sum(b.rows for b in built)}}
    """),
}


def run_size(folder: Path, merchants: int, months: int, seed: int,
             progress: Callable[[str], None] = lambda _m: None) -> dict:
    """Every stage at one size, in order, in a fresh home; each stage's seconds and peak."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    fields = {"data": str(folder / "partner-files"), "home": str(folder / "home"), "key": BENCH_KEY,
              "merchants": merchants, "months": months, "seed": seed, "start": default_start(months)}
    stages: dict[str, dict] = {}
    for stage in STAGES:
        progress(f"{merchants:,} merchants: {stage}")
        setup, work = _WORK[stage]
        stages[stage] = measure(setup.format(**fields), work.format(**fields))
    generated = stages["generate"]
    return {"merchants": merchants, "months": months, "input_rows": generated["rows"],
            "payments": generated["payments"], "stages": stages}


def exponents(sizes: list[dict]) -> dict[str, float]:
    """Each stage's (and the whole pipeline's) growth exponent between the two largest sizes:
    log(time ratio) / log(input-rows ratio). 1 is linear; below 1, fixed costs still weigh."""
    small, large = sizes[-2], sizes[-1]
    rows = math.log(large["input_rows"] / small["input_rows"])
    out = {}
    for stage in (*STAGES, "total"):
        a, b = stage_seconds(small, stage), stage_seconds(large, stage)
        out[stage] = round(math.log(b / a) / rows, 2)
    return out


def stage_seconds(size: dict, stage: str) -> float:
    """A stage's seconds at one size; ``total``: the whole pipeline's."""
    if stage == "total":
        return sum(s["seconds"] for s in size["stages"].values())
    return size["stages"][stage]["seconds"]


def extrapolate(sizes: list[dict]) -> dict:
    """Seconds per stage for a province-year of input, on the line through the two largest
    sizes (their fixed cost kept, their cost per row extended): linear growth taken at its
    word, which the exponents above check."""
    small, large = sizes[-2], sizes[-1]
    per_merchant_month = large["input_rows"] / (large["merchants"] * large["months"])
    rows = round(per_merchant_month * PROVINCE_MERCHANTS * PROVINCE_MONTHS)
    payments = round(large["payments"] / (large["merchants"] * large["months"]) * PROVINCE_MERCHANTS * PROVINCE_MONTHS)
    seconds = {}
    for stage in (*STAGES, "total"):
        a, b = stage_seconds(small, stage), stage_seconds(large, stage)
        slope = max(0.0, (b - a) / (large["input_rows"] - small["input_rows"]))
        seconds[stage] = round(b + slope * (rows - large["input_rows"]), 1)
    return {"merchants": PROVINCE_MERCHANTS, "months": PROVINCE_MONTHS, "input_rows": rows, "payments": payments,
            "seconds": seconds, "hours": round(seconds["total"] / 3600, 2),
            "basis": f"the line through {small['merchants']:,} and {large['merchants']:,} merchants "
                     f"× {large['months']} months"}


def plot(report: dict, path: Path) -> Path:
    """Seconds and peak memory of every stage against input rows, log-log, with a line of
    slope 1 through the smallest total for the eye."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["sizes"]
    x = [s["input_rows"] for s in sizes]
    fig, (time_ax, mem_ax) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    for stage in STAGES:
        time_ax.plot(x, [s["stages"][stage]["seconds"] for s in sizes], marker="o", label=stage)
        mem_ax.plot(x, [s["stages"][stage]["peak_rss_mib"] for s in sizes], marker="o", label=stage)
    totals = [stage_seconds(s, "total") for s in sizes]
    time_ax.plot(x, totals, marker="s", color="black", label="total")
    time_ax.plot(x, [totals[0] * v / x[0] for v in x], linestyle=":", color="grey", label="linear from 1×")
    for ax, label in ((time_ax, "seconds"), (mem_ax, "peak memory, MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # the decades are enough
        ax.set_xlabel("input rows (all partners' files)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    time_ax.set_title("time per stage")
    mem_ax.set_title("peak memory per stage (its own process)")
    time_ax.legend(fontsize=8)
    merchants = ", ".join(f"{s['merchants']:,}" for s in sizes)
    fig.suptitle(f"lcdp growth curve: {merchants} merchants × {sizes[0]['months']} months")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def bench_growth(base_merchants: int = 500, months: int = MONTHS, factors: tuple[int, ...] = FACTORS,
                 work: Path | None = None, plot_path: Path | None = None, seed: int = 5,
                 progress: Callable[[str], None] = lambda _m: None) -> dict:
    """The pipeline at each factor of ``base_merchants``; the report, and the plot at
    ``plot_path`` (beside the report by default: the caller names it)."""
    if len(factors) < 2 or sorted(factors) != list(factors) or len(set(factors)) != len(factors):
        raise UsageError("growth needs at least two distinct factors, smallest first")
    from lcdp.pipeline.models import months_needed

    credit_months, spending_months = months_needed("credit-risk"), months_needed("spending-pattern")
    if months < max(credit_months, spending_months):
        raise UsageError(f"growth needs at least {max(credit_months, spending_months)} months, the history "
                         f"both models train on (credit {credit_months}, spending {spending_months}); got {months}")
    root = work or Path(tempfile.mkdtemp(prefix="lcdp-bench-growth-"))
    try:
        sizes = [run_size(root / f"x{f}", base_merchants * f, months, seed, progress) for f in factors]
    finally:
        if work is None:
            shutil.rmtree(root, ignore_errors=True)
    grow = exponents(sizes)
    report = {
        "stage": "growth", "base_merchants": base_merchants, "months": months, "factors": list(factors),
        "sizes": sizes, "exponents": grow,
        "worse_than_linear": [s for s in STAGES if grow[s] > LINEAR_TOLERANCE],
        "largest": {"merchants": sizes[-1]["merchants"], "months": months, "input_rows": sizes[-1]["input_rows"],
                    "payments": sizes[-1]["payments"]},
        "province_year": extrapolate(sizes),
        "note": "each stage in a fresh process; seconds exclude imports and the engine's start. Exponent: "
                "log(time ratio) / log(input-rows ratio) between the two largest sizes (1 = linear).",
    }
    if plot_path is not None:
        report["plot"] = str(plot(report, plot_path))
    return report

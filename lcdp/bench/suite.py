"""``lcdp bench`` with no stage: every stage benchmark in one run, one JSON report and a
Markdown summary in ``bench/results/<date>-<machine>.{json,md}``.

Each stage is the same function ``lcdp bench STAGE`` runs, at the suite's sizes (``FULL`` by
default, ``QUICK`` for a run of a few minutes). A stage that fails is recorded with its
one-line reason and the suite goes on, so one broken stage never hides the others' figures.
Every figure is read beside a peer measured in the same run: these machines are too noisy
for absolute numbers to mean much from one day to the next.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lcdp.settings import Settings

#: Where the reports go, in the checkout (committed: docs/benchmarks.md quotes the latest).
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


@dataclass(frozen=True)
class Sizes:
    ingest_rows: int
    upload_megabytes: int
    fusion_merchants: int
    fusion_months: int
    train_rows: int
    export_requests: int
    export_seconds: float
    growth_merchants: int
    growth_factors: tuple[int, ...] = (1, 4, 16)
    public_credit: tuple[str, ...] = ("german",)  # the public data sets (``lcdp.bench.public_credit``)


FULL = Sizes(ingest_rows=1_000_000, upload_megabytes=1024, fusion_merchants=20_000, fusion_months=24,
             train_rows=1_000_000, export_requests=2000, export_seconds=60.0, growth_merchants=500,
             public_credit=("german", "credit_data"))
QUICK = Sizes(ingest_rows=100_000, upload_megabytes=64, fusion_merchants=1000, fusion_months=12,
              train_rows=100_000, export_requests=200, export_seconds=15.0, growth_merchants=150,
              growth_factors=(1, 4))


def machine() -> dict:
    """What the figures were measured on."""
    with open("/proc/meminfo") as fh:
        total_kib = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or platform.machine())
    return {"cpus": os.cpu_count(), "memory_gib": round(total_kib / 1024 ** 2, 1), "cpu": cpu,
            "arch": platform.machine(), "python": platform.python_version(), "kernel": platform.release()}


def machine_slug(info: dict) -> str:
    return f"{info['cpus']}cpu-{round(info['memory_gib'])}gib-{info['arch']}"


def stage_runs(settings: Settings, sizes: Sizes, work: Path | None,
               plot: Path | None = None) -> dict[str, Callable[[], dict]]:
    from lcdp.bench.exports import bench_export
    from lcdp.bench.fusion import bench_fusion
    from lcdp.bench.growth import bench_growth
    from lcdp.bench.public_credit import bench_public_credit
    from lcdp.bench.stages import bench_ingest, bench_upload
    from lcdp.bench.train import bench_train

    return {
        "ingest": lambda: bench_ingest(settings, sizes.ingest_rows),
        "upload": lambda: bench_upload(settings, sizes.upload_megabytes),
        "fusion": lambda: bench_fusion(settings, sizes.fusion_merchants, sizes.fusion_months,
                                       keep=work / "fusion" if work else None),
        "train": lambda: bench_train(sizes.train_rows),
        "export": lambda: bench_export(requests=sizes.export_requests, seconds=sizes.export_seconds),
        "growth": lambda: bench_growth(sizes.growth_merchants, factors=sizes.growth_factors,
                                       work=work / "growth" if work else None, plot_path=plot),
        "public-credit": lambda: bench_public_credit(list(sizes.public_credit)),
    }


def run_suite(settings: Settings, quick: bool = False, out_dir: Path = RESULTS, work: Path | None = None,
              progress: Callable[[str, dict], None] = lambda _stage, _result: None,
              sizes: Sizes | None = None) -> tuple[dict, Path, Path]:
    """Every stage in turn; returns the report and the paths of its JSON and Markdown files.
    ``sizes`` overrides the suite's (the tests run it small)."""
    from lcdp.lake.engine import permanent_failure

    sizes = sizes or (QUICK if quick else FULL)
    info = machine()
    started = dt.datetime.now(dt.timezone.utc)
    report: dict = {"date": started.date().isoformat(), "started_at": started.isoformat(timespec="seconds"),
                    "machine": info, "quick": quick,
                    "sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in sizes.__dict__.items()},
                    "stages": {}}
    stem = f"{report['date']}-{machine_slug(info)}{'-quick' if quick else ''}"
    for name, run in stage_runs(settings, sizes, work, plot=out_dir / f"{stem}-growth.png").items():
        t = time.perf_counter()
        try:
            result = run()
        except Exception as exc:  # a broken stage is a finding, not the end of the suite
            text = str(exc).strip()
            result = {"stage": name, "error": permanent_failure(exc) or (text.splitlines() or [repr(exc)])[-1][:400]}
        result["wall_seconds"] = round(time.perf_counter() - t, 1)
        report["stages"][name] = result
        progress(name, result)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(summary(report))
    return report, json_path, md_path


def rows(report: dict) -> list[dict]:
    """One line per measured thing: ours beside its peer, with the ratio."""
    out = []
    stages = report["stages"]

    def line(stage: str, what: str, ours: dict, peer_name: str, peer: dict, ratio: float | None,
             rows: int | None = None) -> None:
        out.append({"stage": stage, "what": what, "seconds": ours.get("seconds"),
                    "rows_per_s": round(rows / ours["seconds"]) if rows and ours.get("seconds") else None,
                    "peak_rss_mib": ours.get("peak_rss_mib"), "peer": peer_name, "peer_seconds": peer.get("seconds"),
                    "peer_peak_rss_mib": peer.get("peak_rss_mib"), "ratio": ratio})

    for name, r in stages.items():
        if "error" in r:
            out.append({"stage": name, "what": f"FAILED: {r['error']}"})
            continue
        if name == "ingest":
            line(name, f"{r['input']['rows']:,} kona rows, CP949 CSV", r["lcdp_ingest"], "pyarrow read_csv",
                 r["pyarrow_read_csv"], r["ratio_seconds"], r["input"]["rows"])
        elif name == "upload":
            u = r["upload_to_receipt"]
            line(name, f"{r['input']['bytes'] / 2 ** 20:,.0f} MiB streamed to the receipt",
                 {"seconds": u["seconds"], "peak_rss_mib": u["service_peak_rss_mib"]},
                 "the same bytes resent", r["resend_same_bytes"], r["ratio_seconds_vs_resend"], r["input"]["rows"])
        elif name == "fusion":
            payments = r["input"]["bronze_rows"].get("bronze.kona_transactions")
            size = f"{r['input']['merchants']:,} × {r['input']['months']} months"
            line(name, f"full fusion, {size}", r["lcdp_fusion"], "DuckDB gold", r["duckdb_gold"],
                 r["ratio_seconds"], payments)
            day = r.get("one_more_day")
            if day:
                line(name, f"one more day ({day['ingest']['rows']:,} payments) fused", day["lcdp_fusion"],
                     "the full fusion", r["lcdp_fusion"], day["ratio_seconds_vs_full_fusion"])
        elif name == "train":
            line(name, f"credit model, {r['input']['business_months']:,} business-months",
                 r["lcdp_credit_risk_fit"], "xgboost.train", r["xgboost_train"], r["ratio_seconds"],
                 r["input"]["business_months"])
        elif name == "export":
            api, peer = r["export_api"], r["static_file_peer"]
            line(name, f"export API p50 of a {r['page_rows']:,}-row page ({api['requests_per_s']} req/s)",
                 {"seconds": api["p50_ms"] / 1000}, "static file, same server",
                 {"seconds": peer["p50_ms"] / 1000}, r["ratio"]["p50"])
        elif name == "public-credit":
            for data in r["datasets"].values():
                ours, peer = data["models"]["lcdp_credit_risk"], data["models"][data["best_peer"]]
                d = data["ours_minus_best_peer"]
                line(name, f"{data['title']}, {data['folds']}-fold AUC {ours['auc']:.3f} against {peer['auc']:.3f} "
                     f"(ours − peer {d['mean']:+.3f}, 90 % [{d['low']:+.3f}, {d['high']:+.3f}])", ours,
                     data["best_peer"], peer, round(ours["seconds"] / peer["seconds"], 2))
        elif name == "growth":
            from lcdp.bench.growth import stage_seconds

            small, large = r["sizes"][-2], r["sizes"][-1]
            total = {s: {"seconds": round(stage_seconds(size, "total"), 2),
                         "peak_rss_mib": max(x["peak_rss_mib"] for x in size["stages"].values())}
                     for s, size in (("small", small), ("large", large))}
            line(name, f"whole pipeline, {large['merchants']:,} × {large['months']} months "
                 f"({large['input_rows'] / small['input_rows']:.1f}× the rows)", total["large"],
                 f"the same at {small['merchants']:,} merchants", total["small"],
                 round(total["large"]["seconds"] / total["small"]["seconds"], 2), large["input_rows"])
    return out


def growth_summary(r: dict) -> str:
    """The growth stage as Markdown: seconds and peak per stage and size, exponents, the
    province-year extrapolation and the plot."""
    from lcdp.bench.growth import STAGES

    sizes = r["sizes"]
    head = ("| stage | " + " | ".join(f"{s['merchants']:,} merchants: s / peak MiB" for s in sizes)
            + " | exponent | province-year s |\n|---|" + "---:|" * (len(sizes) + 2) + "\n")
    year = r["province_year"]
    lines = [f"| {stage} | " + " | ".join(f"{s['stages'][stage]['seconds']:,.1f} / {s['stages'][stage]['peak_rss_mib']:,.0f}"
                                          for s in sizes)
             + f" | {r['exponents'][stage]:.2f} | {year['seconds'][stage]:,.0f} |" for stage in STAGES]
    inputs = "; ".join(f"{s['merchants']:,} merchants, {s['input_rows']:,} rows ({s['payments']:,} payments)"
                       for s in sizes)
    verdict = (f"Growing worse than linearly: {', '.join(r['worse_than_linear'])}." if r["worse_than_linear"]
               else "No stage grows worse than linearly.")
    plot = f"\n\n![growth curve]({Path(r['plot']).name})" if r.get("plot") else ""
    return (f"\n## Growth curve\n\nInput: {inputs}; {r['months']} months each.\n\n{head}" + "\n".join(lines)
            + f"\n\nExponent: log(time ratio) / log(rows ratio) between the two largest sizes (1 = linear). "
            f"{verdict} Largest size run: {r['largest']['merchants']:,} merchants × {r['largest']['months']} months. "
            f"A province-year ({year['merchants']:,} merchants × {year['months']} months, about "
            f"{year['payments']:,} payments) extrapolates to {year['hours']} hours on {year['basis']}.{plot}\n")


def summary(report: dict) -> str:
    """The report as Markdown: the machine, then a table of every measurement."""
    m = report["machine"]
    head = (f"# lcdp bench, {report['date']}{' (quick)' if report['quick'] else ''}\n\n"
            f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, {m['arch']}, "
            f"Python {m['python']}, Linux {m['kernel']}.\n\n"
            "| stage | what | seconds | rows/s | peak MiB | peer | peer seconds | peer peak MiB | ratio |\n"
            "|---|---|---:|---:|---:|---|---:|---:|---:|\n")

    def cell(value, fmt: str = "{:,}") -> str:
        return "" if value is None else fmt.format(value)

    lines = [f"| {r['stage']} | {r['what']} | {cell(r.get('seconds'), '{:,.2f}')} | {cell(r.get('rows_per_s'))} | "
             f"{cell(r.get('peak_rss_mib'), '{:,.0f}')} | {r.get('peer', '')} | "
             f"{cell(r.get('peer_seconds'), '{:,.2f}')} | {cell(r.get('peer_peak_rss_mib'), '{:,.0f}')} | "
             f"{cell(r.get('ratio'), '{:.2f}')} |" for r in rows(report)]
    growth = report["stages"].get("growth", {})
    return head + "\n".join(lines) + "\n\nRatio: ours over the peer measured in the same run (seconds; " \
        "for one more day, over the full fusion; for growth, over the pipeline at the next smaller size).\n" \
        + (growth_summary(growth) if "sizes" in growth else "")

"""``lcdp bench`` as one suite: every stage measured beside its peer, one JSON report and a
Markdown summary that says the same."""

from __future__ import annotations

import json

import pytest

from lcdp.bench.growth import STAGES
from lcdp.bench.suite import Sizes, machine_slug, rows, run_suite
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")  # the export stage fuses in this process; stopped at the end

TINY = Sizes(ingest_rows=5000, upload_megabytes=4, fusion_merchants=300, fusion_months=6, train_rows=6000,
             export_requests=40, export_seconds=10.0, growth_merchants=150, growth_factors=(1, 2))


def test_the_suite_measures_every_stage_and_writes_one_report_and_its_summary(tmp_path):
    report, json_path, md_path = run_suite(Settings(home=tmp_path / "home"), out_dir=tmp_path / "results",
                                           work=tmp_path / "work", sizes=TINY)
    assert json.loads(json_path.read_text()) == report
    assert json_path.stem == md_path.stem == f"{report['date']}-{machine_slug(report['machine'])}"
    assert list(report["stages"]) == ["ingest", "upload", "fusion", "train", "export", "growth", "public-credit"]
    assert {name: r.get("error") for name, r in report["stages"].items()} == dict.fromkeys(report["stages"])

    fusion = report["stages"]["fusion"]
    day = fusion["one_more_day"]
    assert fusion["same_result"]["equal"] and day["same_result"]["equal"]
    assert day["ingest"]["rows"] > 0
    modes = {t: s["mode"] for t, s in day["lcdp_fusion"]["steps"].items()}
    assert modes["gold.merchant_month_features"] == modes["gold.spending_cube"] == "incremental"

    lines = rows(report)
    assert {line["stage"] for line in lines} == set(report["stages"])
    assert all(line["seconds"] > 0 and line["peer_seconds"] > 0 and line["ratio"] > 0 for line in lines)
    growth = report["stages"]["growth"]
    assert [s["merchants"] for s in growth["sizes"]] == [150, 300]
    assert all(set(s["stages"]) == set(STAGES) for s in growth["sizes"])
    assert growth["sizes"][1]["input_rows"] > 1.5 * growth["sizes"][0]["input_rows"]
    assert all(stage["seconds"] > 0 and stage["peak_rss_mib"] > 0 for s in growth["sizes"] for stage in s["stages"].values())
    assert growth["sizes"][1]["stages"]["score"]["rows"] > 0 and growth["province_year"]["seconds"]["total"] > 0
    plot = md_path.parent / f"{md_path.stem}-growth.png"
    assert growth["plot"] == str(plot) and plot.read_bytes()[:4] == b"\x89PNG"

    summary = md_path.read_text()
    assert "## Growth curve" in summary and f"]({plot.name})" in summary
    assert f"{report['machine']['cpus']} CPUs" in summary
    for line in lines:
        assert f"| {line['stage']} | {line['what']} |" in summary and f"{line['ratio']:.2f} |" in summary

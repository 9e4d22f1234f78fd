"""DAG integrity, and the demo through real Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lcdp.lake import catalog
from lcdp.settings import REPO_ROOT, Settings

LCDP = str(Path(sys.executable).with_name("lcdp"))


def test_every_dag_file_imports_quickly_without_heavy_modules(tmp_path):
    """Parse each DAG file in a fresh interpreter (after Airflow itself is imported): no import
    error, no cycle, well under a second, and no heavy module (Spark, pyarrow, the platform)
    imported at parse time."""
    for dag_file in sorted((REPO_ROOT / "dags").glob("*.py")):
        code = (
            "import sys, time, runpy\n"
            "import airflow.sdk\n"
            "t = time.perf_counter()\n"
            f"ns = runpy.run_path({str(dag_file)!r})\n"
            "took = time.perf_counter() - t\n"
            "from airflow.sdk import DAG\n"
            "dags = [v for v in ns.values() if isinstance(v, DAG)]\n"
            "heavy = sorted(m for m in ('pyspark', 'pyarrow', 'lcdp', 'deltalake', 'pandas') if m in sys.modules)\n"
            "for d in dags: d.topological_sort()  # raises on a cycle\n"
            "print(f'{took}|{len(dags)}|{\",\".join(heavy)}')\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        took, n_dags, heavy = proc.stdout.strip().splitlines()[-1].split("|")
        assert int(n_dags) >= 1, f"{dag_file.name} defines no DAG"
        assert float(took) < 1.0, f"{dag_file.name} took {took} s to parse"
        assert heavy == "", f"{dag_file.name} imports {heavy} at parse time"


@pytest.mark.slow
def test_demo_delivers_every_feed_through_its_channel_and_reports_every_table(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "LCDP_PSEUDONYM_KEY": "demo-test-key-0123456789"}
    started = time.perf_counter()
    proc = subprocess.run([LCDP, "--home", str(home), "--json", "demo", "--merchants", "40", "--months", "2"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["dag_runs"] == {"lcdp_feed_ggdata_merchants": "success", "lcdp_feed_kona_transactions": "success",
                                   "lcdp_feed_gjf_employment": "success", "lcdp_feed_ked_credit": "success",
                                   "lcdp_feed_gcgf_guarantees": "success", "lcdp_fusion": "success",
                                   "lcdp_models": "success", "lcdp_exports": "success",
                                   "lcdp_maintenance": "success"}
    assert summary["channels"]["ked.credit"] == "upload API"
    # two months hold no complete 12-month label nor a year of spending: the models DAG
    # skipped training (and scoring, with no champion) instead of failing the run
    assert summary["models"] == {
        "credit_risk": {"skipped": "needs 18 months of history, the world has 2 (lcdp demo --months 36)"},
        "spending_pattern": {"skipped": "needs 18 months of history, the world has 2 (lcdp demo --months 36)"}}
    assert "gold.credit_risk_scores" not in summary["tables"]
    # the spending product needs only silver; the others wait for a champion's scores
    assert set(summary["exports"]) == {"spending", "risk", "forecasts"}
    spending = summary["exports"]["spending"]
    assert spending["rows"] == summary["tables"]["gold.export_spending"] > 0
    assert 0 < spending["suppressed_cells"] < spending["rows"]
    assert summary["exports"]["risk"] == {"rows": 0, "suppressed_cells": 0, "skipped": "needs gold.credit_risk_scores"}
    feeds = ["kona_transactions", "ggdata_merchants", "ked_credit", "gcgf_guarantees", "gjf_employment"]
    for feed in feeds:
        for layer in ("bronze", "quarantine"):
            name = f"{layer}.{feed}"
            assert name in summary["tables"], name
            assert DeltaTable(str(home / "lake" / layer / feed)).to_pyarrow_table().num_rows == summary["tables"][name]
        assert summary["tables"][f"bronze.{feed}"] > 0
    for feed, counts in summary["ingestion"].items():
        assert counts["rows_in"] == counts["rows_valid"] + counts["rows_quarantined"], feed
    # the fusion DAG built every silver and gold table, and the summary counts them
    for layer, names in (("silver", catalog.SILVER_TABLES), ("gold", catalog.GOLD_TABLES)):
        for name in names:
            rows = DeltaTable(str(home / "lake" / layer / name)).to_pyarrow_table().num_rows
            assert summary["tables"][f"{layer}.{name}"] == rows > 0, name
    assert summary["seconds"] <= time.perf_counter() - started
    # Airflow really ran it: its metadata DB has the successful run
    assert (home / "airflow" / "airflow.db").exists()

    # Right after the demo (whose maintenance DAG compacted every table), and again after one
    # more compaction, fusion has nothing to do: compaction is no new data, so no commit.
    def lcdp(*args: str) -> dict:
        done = subprocess.run([LCDP, "--home", str(home), *args, "--json"], capture_output=True, text=True,
                              env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def versions() -> dict:
        return {t["name"]: t["version"] for t in lcdp("status")["tables"]}

    for maintain_first in (False, True):
        if maintain_first:
            lcdp("maintain")
        before = versions()
        steps = lcdp("fuse")["steps"]
        assert {s["table"]: s["status"] for s in steps} == {s["table"]: "up to date" for s in steps}
        assert versions() == before
    # lineage shows the version status shows
    assert lcdp("lineage", "gold.spending_cube")["version"] == before["gold.spending_cube"]
    # nor are the products behind: their sources were compacted, not changed (the first
    # export after the demo once rebuilt and audited every product again)
    exported = lcdp("export", "spending")["products"]  # the others need scores this world has not
    assert exported["spending"]["status"] == "up to date", exported["spending"]
    assert versions() == before
    # and a scheduler started on this home finds nothing queued: the demo ran every DAG itself
    from lcdp.ops import airflow_runner

    assert airflow_runner.consume_asset_queue(Settings(home=home)) == 0


def test_one_feed_dag_per_feed_each_publishing_its_bronze_asset():
    import runpy

    import yaml

    registry = yaml.safe_load((REPO_ROOT / "infra" / "feeds.yaml").read_text())["feeds"]
    ns = runpy.run_path(str(REPO_ROOT / "dags" / "lcdp_feeds.py"))
    from airflow.sdk import DAG

    dags = {d.dag_id: d for d in ns.values() if isinstance(d, DAG)}
    assert len(registry) == 5
    assert set(dags) == {f"lcdp_feed_{f['partner']}_{f['dataset']}" for f in registry}
    for feed in registry:
        dag = dags[f"lcdp_feed_{feed['partner']}_{feed['dataset']}"]
        (pull,) = dag.tasks
        assert [a.uri for a in pull.outlets] == [f"lcdp://bronze/{feed['partner']}_{feed['dataset']}"]
        assert pull.retries == feed["retries"] and pull.execution_timeout.total_seconds() == feed["timeout_minutes"] * 60
        assert dag.max_active_runs == 1
        assert dag.dagrun_timeout.total_seconds() == feed["deadline_minutes"] * 60


@pytest.mark.slow
def test_feed_dags_pull_through_real_airflow(tmp_path, spark):
    from lcdp.ops import airflow_runner
    from lcdp.lake import catalog
    from lcdp.pull.simulator import PortalSimulator
    from lcdp.settings import Settings
    from tests.conftest import kona_row, write_kona

    settings = Settings(home=tmp_path / "home", pseudonym_key="feed-dag-key-0123456789")
    rows = [{"SIGUN_CD": "41110", "CMPNM_NM": f"가게{i}", "BIZREGNO": "120-81-47521",
             "FRCS_NO": f"{1000000000 + i}", "LEAD_TAX_MAN_STATE_CD": "01"} for i in range(30)]
    drop = tmp_path / "drop"
    drop.mkdir()
    write_kona(drop / "kona_tx_20240301.csv", [kona_row("T00000001"), kona_row("T00000002", amount="x")])
    airflow_runner.prepare(settings)
    with PortalSimulator(rows, key="k", faults={2: ["http500"]}) as sim:
        run = airflow_runner.run_dag(settings, "lcdp_feed_ggdata_merchants", {"source": sim.url, "key": "k"})
    assert run["state"] == "success"
    assert catalog.row_count("bronze.ggdata_merchants", settings) == 30
    run = airflow_runner.run_dag(settings, "lcdp_feed_kona_transactions", {"source": str(drop), "settle_seconds": 0})
    assert run["state"] == "success"
    assert catalog.row_count("bronze.kona_transactions", settings) == 1
    assert catalog.row_count("quarantine.kona_transactions", settings) == 1
    # pull feeds publish their Asset only when something new reached bronze: the same files
    # and the same pages again make a skipped run, so fusion is not triggered for nothing
    again = airflow_runner.run_dag(settings, "lcdp_feed_kona_transactions", {"source": str(drop), "settle_seconds": 0})
    assert airflow_runner.task_states(settings, "lcdp_feed_kona_transactions", again["run_id"]) == {"pull": "skipped"}
    with PortalSimulator(rows, key="k") as sim:
        again = airflow_runner.run_dag(settings, "lcdp_feed_ggdata_merchants", {"source": sim.url, "key": "k"})
    assert airflow_runner.task_states(settings, "lcdp_feed_ggdata_merchants", again["run_id"]) == {"pull": "skipped"}
    assert catalog.row_count("bronze.ggdata_merchants", settings) == 30
    # a push feed's DAG publishes what partners uploaded since its last run, then has nothing new
    from lcdp.ingest import ingest_file

    psv = tmp_path / "ked_credit_202401.psv"
    psv.write_text("brn|company_name|snapshot_month|credit_grade|delinquency_count|delinquency_days|loan_balance|"
                   "years_in_business\n120-81-47521|가게|2024-01|3|0|0|1000|2.5\n")
    ingest_file(settings, "ked", "credit", psv)
    first = airflow_runner.run_dag(settings, "lcdp_feed_ked_credit", {})
    states = airflow_runner.task_states(settings, "lcdp_feed_ked_credit", first["run_id"])
    assert states == {"pull": "success"}
    second = airflow_runner.run_dag(settings, "lcdp_feed_ked_credit", {})
    assert airflow_runner.task_states(settings, "lcdp_feed_ked_credit", second["run_id"]) == {"pull": "skipped"}

    # A fusion step whose error a retry would only repeat (here the engine's memory pool, made
    # too small for any aggregate) fails its run at once: one line saying what to change, no
    # retries (the step retries twice otherwise), and a few kB more in the logs.
    def size(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    tiny = settings.model_copy(update={"engine_memory_bytes": 4096})
    log_file = tmp_path / "fusion-airflow.log"
    before = size(settings.airflow_home)
    started = time.perf_counter()
    with pytest.raises(airflow_runner.PermanentTaskFailure) as failed:
        airflow_runner.run_dag(tiny, "lcdp_fusion", {}, log_file)
    message = str(failed.value)
    assert "\n" not in message and len(message) < 1000, message
    assert "ran out of its memory pool" in message and "LCDP_ENGINE_MEMORY_BYTES" in message, message
    print(f"fusion DAG failed in {time.perf_counter() - started:.1f} s; Airflow home grew by "
          f"{size(settings.airflow_home) - before} B, its output was {log_file.stat().st_size} B")
    output = log_file.read_text()
    failures = output.count("AirflowFailException: ")  # the independent silver steps each fail
    assert failures >= 1 and output.count("Task failed with exception") == failures
    assert "up_for_retry" not in output  # what a retryable failure's state becomes
    assert log_file.stat().st_size < 10 * 1024 * failures  # a plain traceback, no locals, no plan


def test_fusion_dag_runs_on_every_bronze_asset_and_publishes_silver_and_gold():
    import runpy

    import yaml

    from lcdp.pipeline.fusion import STEPS

    feeds = yaml.safe_load((REPO_ROOT / "infra" / "feeds.yaml").read_text())["feeds"]
    (dag,) = [d for d in runpy.run_path(str(REPO_ROOT / "dags" / "lcdp_fusion.py")).values()
              if type(d).__name__ == "DAG"]
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"
    assert {a.uri for a in condition.objects} == {f"lcdp://bronze/{f['partner']}_{f['dataset']}" for f in feeds}
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(tasks) == {s.table.replace(".", "_") for s in STEPS}
    for step in STEPS:  # the DAG's wiring matches the steps' declared inputs
        task = tasks[step.table.replace(".", "_")]
        assert [a.uri for a in task.outlets] == [f"lcdp://{step.table.replace('.', '/')}"]
        upstream = {i.replace(".", "_") for i in step.inputs if not i.startswith("bronze.")}
        assert task.upstream_task_ids == upstream
    assert dag.max_active_runs == 1


def test_maintenance_dag_maps_one_task_per_table_after_each_release():
    """It ran @daily, so `lcdp up` on an unchanged lake started it at once; it now runs when a
    data product has a new version, i.e. when the lake changed."""
    import runpy

    from schemas.lake import PRODUCTS

    (dag,) = [d for d in runpy.run_path(str(REPO_ROOT / "dags" / "lcdp_maintenance.py")).values()
              if type(d).__name__ == "DAG"]
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"
    assert {a.uri for a in condition.objects} == {
        f"lcdp://{p.table.replace('.', '/')}" for p in PRODUCTS}
    assert {t.task_id for t in dag.tasks} == {"tables", "maintain"}


def test_models_dag_monitors_after_every_scoring_even_when_training_or_scoring_skipped():
    """``monitor`` runs after each model's train → score chain (none failed: a skipped
    training, nothing new, still measures) and publishes the monitoring table's Asset; the DAG
    stays scheduled on the models' features tables."""
    import runpy

    from schemas.lake import MODELS, MONITORING

    (dag,) = [d for d in runpy.run_path(str(REPO_ROOT / "dags" / "lcdp_models.py")).values()
              if type(d).__name__ == "DAG"]
    condition = dag.timetable.asset_condition
    assert {a.uri for a in condition.objects} == {f"lcdp://{m.features.replace('.', '/')}" for m in MODELS}
    tasks = {t.task_id: t for t in dag.tasks}
    slugs = [m.name.replace("-", "_") for m in MODELS]
    monitor = tasks["monitor"]
    assert monitor.upstream_task_ids == {f"score_{s}" for s in slugs}
    assert monitor.trigger_rule == "none_failed" and not monitor.downstream_task_ids
    assert [a.uri for a in monitor.outlets] == [f"lcdp://{MONITORING.name.replace('.', '/')}"]
    for slug in slugs:
        assert tasks[f"score_{slug}"].upstream_task_ids == {f"train_and_gate_{slug}"}

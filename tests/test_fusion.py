"""Fusion on generated partner data: reconciliation to the won, incremental = full, replays
change nothing, lineage down to the uploads, and a run killed mid-write."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lcdp.lake import catalog, lineage
from lcdp.pipeline import fusion
from lcdp import metadata
from lcdp.generator import Manifest, WorldParams, generate
from lcdp.ingest import ingest_files
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")
KEY = "fusion-test-key-0123456789"
LCDP = str(Path(sys.executable).with_name("lcdp"))
FEEDS = [("ggdata", "merchants"), ("kona", "transactions"), ("ked", "credit"), ("gcgf", "guarantees"),
         ("gjf", "employment")]
FUSED = [*(f"silver.{t}" for t in catalog.SILVER_TABLES), *(f"gold.{t}" for t in catalog.GOLD_TABLES)]
LINEAGE_COLUMNS = {"_upload_id", "_ingested_at"}
SEOUL = ZoneInfo("Asia/Seoul")


def ingest_all(settings: Settings, data: Path, manifest: Manifest, only=None) -> None:
    for partner, dataset in FEEDS:
        entries = [e for e in manifest.for_dataset(partner, dataset) if only is None or only(e)]
        if entries:
            ingest_files(settings, partner, dataset, [data / e.path for e in entries])


def rows(settings: Settings, name: str, drop_lineage: bool = False) -> list[tuple]:
    """A table's rows, sorted, as tuples (optionally without lineage columns)."""
    table = DeltaTable(catalog.table(name).uri(settings)).to_pyarrow_table()
    columns = sorted(c for c in table.column_names if not (drop_lineage and c in LINEAGE_COLUMNS))
    data = table.select(columns).to_pylist()
    return sorted((tuple(r[c] for c in columns) for r in data), key=repr)


def snapshot(settings: Settings, names, drop_lineage: bool = False) -> dict[str, list[tuple]]:
    return {n: rows(settings, n, drop_lineage) for n in names}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Manifest]:
    """Three months of partner files for 150 merchants, 3 % of records corrupted."""
    out = tmp_path_factory.mktemp("fusion-data")
    return out, generate(out, WorldParams(merchants=150, months=3, seed=21), dirty=0.03)


@pytest.fixture(scope="module")
def fused(world, tmp_path_factory) -> Settings:
    """A home with every delivery ingested and fused once (the reference)."""
    data, manifest = world
    settings = Settings(home=tmp_path_factory.mktemp("fused") / "home", pseudonym_key=KEY)
    ingest_all(settings, data, manifest)
    results = fusion.run_all(settings)
    assert [r.mode for r in results] == ["full"] * len(FUSED)
    return settings


def copy_home(settings: Settings, target: Path) -> Settings:
    shutil.copytree(settings.home_dir, target)
    return Settings(home=target, pseudonym_key=KEY)


def _table(settings: Settings, name: str) -> list[dict]:
    return DeltaTable(catalog.table(name).uri(settings)).to_pyarrow_table().to_pylist()


def test_spending_reconciles_from_bronze_to_silver_to_gold_per_region_and_month(fused):
    """Bronze (quarantine excluded, refunds netted into their payment's month) = silver =
    the gold cube, to the won, for every region and month; unknown merchants included."""
    registry = {}
    for r in sorted(_table(fused, "bronze.ggdata_merchants"), key=lambda r: r["_ingested_at"]):
        registry[r["merchant_key"]] = r["SIGUN_CD"]
    bronze = _table(fused, "bronze.kona_transactions")
    payments = {r["tx_id"]: r for r in bronze if not r["orig_tx_id"]}
    expected: dict[tuple, int] = defaultdict(int)
    unknown_payments = 0
    for r in bronze:
        owner = payments.get(r["orig_tx_id"] or r["tx_id"], r)  # a refund counts in its payment's month
        month = owner["tx_ts"].astimezone(SEOUL).date().replace(day=1)
        expected[(registry.get(owner["merchant_key"]), month)] += r["amount"]
        unknown_payments += r is owner and not r["orig_tx_id"] and r["merchant_key"] not in registry
    silver: dict[tuple, int] = defaultdict(int)
    silver_unknown = 0
    for r in _table(fused, "silver.transactions"):
        silver[(r["sigun_cd"], r["tx_month"])] += r["net_amount"]
        silver_unknown += r["kind"] == "payment" and not r["merchant_known"]
    cube: dict[tuple, int] = defaultdict(int)
    for r in _table(fused, "gold.spending_cube"):
        cube[(r["sigun_cd"], r["month"])] += r["spending"]
    assert len(expected) > 40 and sum(expected.values()) > 10**8
    assert dict(silver) == dict(expected)
    assert dict(cube) == dict(expected)
    # payments at merchants the registry lost to quarantine are kept, and counted
    assert silver_unknown == unknown_payments > 0
    assert catalog.row_count("quarantine.ggdata_merchants", fused) > 0
    features = _table(fused, "gold.merchant_month_features")
    known = {k: v for k, v in expected.items() if k[0] is not None}
    assert sum(r["sales_amount"] for r in features) == sum(known.values())
    assert len({(r["business_key"], r["month"]) for r in features}) == len(features)


def test_silver_keeps_every_bronze_transaction_once(fused):
    bronze = _table(fused, "bronze.kona_transactions")
    silver = _table(fused, "silver.transactions")
    refunds = sum(1 for r in bronze if r["orig_tx_id"])
    folded = sum(r["refund_count"] for r in silver)
    orphans = sum(1 for r in silver if r["kind"] == "orphan_refund")
    assert len(silver) == len(bronze) - refunds + orphans
    assert folded + orphans == refunds and folded > 0


def test_incremental_runs_give_the_same_tables_as_one_full_run(world, tmp_path):
    """Deliveries arriving in three rounds, fused after each (refunds before their payments,
    the registry last), end in the same silver and gold as one fusion of the same bronze
    from scratch."""
    data, manifest = world
    settings = Settings(home=tmp_path / "home", pseudonym_key=KEY)

    def first_round(entry) -> bool:
        if entry.partner == "kona":
            return int(Path(entry.path).stem[-2:]) % 2 == 0  # even days: many refunds come first
        return entry.partner in ("ked", "gjf") and Path(entry.path).stem.endswith("01")

    rounds = [first_round, lambda e: e.partner != "ggdata" and not first_round(e), lambda e: e.partner == "ggdata"]
    modes = []
    for only in rounds:
        ingest_all(settings, data, manifest, only)
        modes.append([r.mode for r in fusion.run_all(settings)])
    assert modes[0][:2] == ["full", "full"]
    assert modes[1][:2] == [None, "incremental"]  # no registry yet: its step is up to date
    assert modes[2][:2] == ["incremental", "incremental"]  # the registry places the payments
    assert modes[2][5:] == ["full", "incremental"]  # a registry change may touch any month of features
    orphans_folded = sum(r["refund_count"] for r in _table(settings, "silver.transactions"))
    assert orphans_folded > 0

    scratch = copy_home(settings, tmp_path / "scratch")
    for layer in ("silver", "gold"):
        shutil.rmtree(scratch.lake_root / layer)
    assert {r.mode for r in fusion.run_all(scratch)} == {"full"}
    assert snapshot(settings, FUSED) == snapshot(scratch, FUSED)


def test_one_more_day_recomputes_its_months_only_and_equals_a_fusion_from_scratch(tmp_path):
    """A lake of 14 months, then one more day of card payments: the features recompute from
    that day's month on (reading back only as far as their windows reach), the cube only the
    months the day touched; then a late bureau restatement of an earlier month recomputes
    from that month. After each, every table equals a fusion of the same bronze from scratch."""
    data = tmp_path / "data"
    manifest = generate(data, WorldParams(merchants=60, months=14, seed=5), dirty=0.02)
    settings = Settings(home=tmp_path / "home", pseudonym_key=KEY)
    days = sorted(e.path for e in manifest.for_dataset("kona", "transactions"))
    last_day = dt.datetime.strptime(Path(days[-1]).stem[-8:], "%Y%m%d").date()
    late_credit = sorted(e.path for e in manifest.for_dataset("ked", "credit"))[-6]
    ingest_all(settings, data, manifest, lambda e: e.path not in (days[-1], late_credit))
    assert {r.mode for r in fusion.run_all(settings)} == {"full"}

    def scratch_equals(label: str) -> None:
        scratch = copy_home(settings, tmp_path / label)
        for layer in ("silver", "gold"):
            shutil.rmtree(scratch.lake_root / layer)
        assert {r.mode for r in fusion.run_all(scratch)} == {"full"}
        assert snapshot(settings, FUSED) == snapshot(scratch, FUSED)

    ingest_files(settings, "kona", "transactions", [data / days[-1]])
    steps = {r.table: r for r in fusion.run_all(settings)}
    features, cube = steps["gold.merchant_month_features"], steps["gold.spending_cube"]
    assert features.mode == cube.mode == "incremental"
    # refunds in the day may reach the month before; nothing reaches further back
    assert features.scope in (f"months from {last_day:%Y-%m}",
                              f"months from {(last_day.replace(day=1) - dt.timedelta(days=1)):%Y-%m}")
    assert cube.scope in ("1 month(s)", "2 month(s)")
    scratch_equals("scratch-day")

    ingest_files(settings, "ked", "credit", [data / late_credit])
    steps = {r.table: r for r in fusion.run_all(settings)}
    month = dt.datetime.strptime(Path(late_credit).stem[-6:], "%Y%m").date()
    assert steps["gold.merchant_month_features"].scope == f"months from {month:%Y-%m}"
    assert steps["gold.spending_cube"].status == "up to date"
    scratch_equals("scratch-credit")


def _resend_with_new_bytes(src: Path, dst: Path) -> Path:
    """The same records in different bytes, so the platform cannot tell by sha256."""
    if src.suffix == ".parquet":
        pq.write_table(pq.read_table(src), dst, compression="zstd")
    elif src.suffix == ".json":
        dst.write_text(json.dumps(json.loads(src.read_text(encoding="utf-8")), ensure_ascii=False, indent=1),
                       encoding="utf-8")
    elif src.suffix == ".jsonl":
        def compact(line: str) -> str:
            try:
                return json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False)
            except ValueError:
                return line  # the corrupted lines go again as they were

        lines = src.read_text(encoding="utf-8").splitlines()
        dst.write_text("".join(compact(line) + "\n" for line in lines), encoding="utf-8")
    else:
        dst.write_bytes(src.read_bytes() + (b"\r\n" if src.suffix == ".csv" else b"\n"))
    return dst


def test_replaying_every_delivery_leaves_every_table_identical(world, fused, tmp_path):
    data, manifest = world
    settings = copy_home(fused, tmp_path / "home")
    every_table = [n for n in catalog.tables() if catalog.version(n, settings) is not None]
    before = snapshot(settings, every_table)
    versions = {n: catalog.version(n, settings) for n in every_table}

    # the same files again: recognised as duplicates, nothing moves, fusion has nothing to do
    ingest_all(settings, data, manifest)
    assert {r.status for r in fusion.run_all(settings)} == {"up to date"}
    assert snapshot(settings, every_table) == before
    assert {n: catalog.version(n, settings) for n in every_table} == versions

    # the same records in new bytes: they reach bronze again (snapshots as restatements,
    # payments as quarantined duplicates), and silver and gold stay exactly as they were
    resent = tmp_path / "resent"
    for partner, dataset in FEEDS:
        folder = resent / partner / dataset
        folder.mkdir(parents=True)
        paths = [_resend_with_new_bytes(data / e.path, folder / Path(e.path).name)
                 for e in manifest.for_dataset(partner, dataset)]
        ingest_files(settings, partner, dataset, paths)
    assert catalog.row_count("bronze.ked_credit", settings) > len(before["bronze.ked_credit"])
    assert catalog.row_count("bronze.kona_transactions", settings) == len(before["bronze.kona_transactions"])
    results = fusion.run_all(settings)
    restated = {"silver.merchants", "silver.credit_monthly", "silver.guarantees", "silver.employment_monthly"}
    assert {r.mode for r in results if r.table in restated} == {"incremental"}
    assert snapshot(settings, FUSED) == {n: before[n] for n in FUSED}

    # and recomputing everything from bronze (a replay of every batch) changes nothing either
    fusion.run_all(settings, full=True)
    assert snapshot(settings, FUSED) == {n: before[n] for n in FUSED}


def test_every_fused_version_records_its_inputs_down_to_the_uploads(fused):
    for name in FUSED:
        entry = lineage.latest(name, fused)
        step = next(s for s in fusion.STEPS if s.table == name)
        assert set(entry["inputs"]) == set(step.inputs)
        assert entry["data_version"] < entry["version"]
    gold = lineage.latest("gold.merchant_month_features", fused)
    assert gold["inputs"] == {n: catalog.version(n, fused) for n in gold["inputs"]}
    tree = lineage.trace("gold.spending_cube", fused)
    (silver_tx,) = tree["inputs"]
    bronze = {child["table"]: child for child in silver_tx["inputs"]}
    uploads = {u.upload_id: u for u in metadata.list_uploads(fused.metadata_db_url)}
    assert set(bronze["bronze.kona_transactions"]["uploads"]) <= set(uploads)
    assert len(bronze["bronze.kona_transactions"]["uploads"]) > 80

    # one gold row traced to the very files it came from
    row = max(_table(fused, "gold.merchant_month_features"), key=lambda r: (r["payments"], r["month"]))
    behind = lineage.uploads_behind_feature_row(fused, row["business_key"], row["month"])
    kona_files = {uploads[u].file_name for u in behind["silver.transactions"]}
    assert kona_files and all(f.startswith("kona_tx_") for f in kona_files)
    assert any(f.startswith(f"kona_tx_{row['month']:%Y%m}") for f in kona_files)
    assert {uploads[u].file_name for u in behind["silver.credit_monthly"]} <= {
        f"ked_credit_{m:%Y%m}.psv" for m in (row["month"], row["month"] - dt.timedelta(days=20),
                                             row["month"] - dt.timedelta(days=50))}


def test_a_fusion_killed_mid_write_leaves_readable_tables_and_the_next_run_completes_it(fused, tmp_path):
    """SIGKILL ``lcdp fuse`` at several points of a full recompute: after each kill every
    table reads at a committed version; the next run ends where an unbroken run ends."""
    settings = copy_home(fused, tmp_path / "home")
    env = {**os.environ, "LCDP_HOME": str(settings.home_dir), "LCDP_PSEUDONYM_KEY": KEY}
    expected = snapshot(settings, FUSED)

    started = time.perf_counter()
    subprocess.run([LCDP, "fuse", "--full"], env=env, check=True, capture_output=True, timeout=600)
    duration = time.perf_counter() - started
    assert snapshot(settings, FUSED) == expected

    killed_in_writes = 0
    for fraction in (0.35, 0.5, 0.65, 0.8, 0.95):
        versions = {n: catalog.version(n, settings) for n in FUSED}
        proc = subprocess.Popen([LCDP, "fuse", "--full"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = {n: catalog.version(n, settings) for n in FUSED}
        killed_in_writes += after != versions
        for name in FUSED:  # every table reads, at a committed version, with all its rows
            table = DeltaTable(catalog.table(name).uri(settings))
            assert table.to_pyarrow_table().num_rows == table.to_pyarrow_dataset().count_rows() > 0
        # and what it reads is a whole committed result: a full recompute of the same bronze
        # commits the same content, so every version any kill left must equal it
        assert snapshot(settings, FUSED) == expected
    assert killed_in_writes >= 1, "no kill landed during the writes; the test timing is off"
    after_kills = subprocess.run([LCDP, "fuse"], env=env, capture_output=True, text=True, timeout=600)
    errors = settings.home_dir / "logs" / "lcdp-errors.log"  # where an unexpected error's traceback goes
    assert after_kills.returncode == 0, after_kills.stderr[-2000:] + (errors.read_text()[-4000:] if errors.exists() else "")
    assert snapshot(settings, FUSED) == expected
    # the killed writers' files are garbage for vacuum, not data: with no retention, every
    # file left on disk is one the current version reads
    from lcdp.lake.maintenance import maintain

    no_retention = Settings(home=settings.home_dir, pseudonym_key=KEY, retention_hours=0)
    assert sum(maintain(no_retention, name).files_vacuumed for name in FUSED) > 0
    for name in FUSED:
        root = catalog.table(name).path(settings)
        on_disk = {str(p.relative_to(root)) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts}
        assert on_disk == set(catalog.files(name, settings, catalog.version(name, settings))), name
    assert snapshot(settings, FUSED) == expected


def test_cli_fuse_lineage_and_maintain(fused, tmp_path):
    settings = copy_home(fused, tmp_path / "home")
    env = {**os.environ, "LCDP_HOME": str(settings.home_dir), "LCDP_PSEUDONYM_KEY": KEY}

    def lcdp(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([LCDP, *args], env=env, capture_output=True, text=True, timeout=300)

    done = lcdp("--json", "fuse")
    assert done.returncode == 0, done.stderr[-2000:]
    steps = json.loads(done.stdout.strip().splitlines()[-1])["steps"]
    assert [s["table"] for s in steps] == FUSED and {s["status"] for s in steps} == {"up to date"}

    tree = json.loads(lcdp("--json", "lineage", "gold.merchant_month_features").stdout.strip().splitlines()[-1])
    assert {i["table"] for i in tree["inputs"]} == set(lineage.latest("gold.merchant_month_features", settings)["inputs"])

    wrong = lcdp("fuse", "silver.nope")
    assert wrong.returncode == 2 and "no fusion step writes 'silver.nope'" in wrong.stderr

    maintained = lcdp("--json", "maintain", "silver.transactions")
    assert maintained.returncode == 0, maintained.stderr[-2000:]
    (result,) = json.loads(maintained.stdout.strip().splitlines()[-1])["tables"]
    assert result["files_compacted"] > 1 and result["retention_hours"] == 720
    assert rows(settings, "silver.transactions") == rows(fused, "silver.transactions")

"""The same jobs on other engines: the fusion run with Sail in ``local-cluster`` mode (the
protocol of its Kubernetes cluster mode: driver and workers exchanging tasks) gives tables
identical to the default local mode on the same bronze, and the ``jobs/`` functions give the
same rows on JVM Spark 4 (Spark Connect, local) as on Sail."""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pyspark
import pytest
from deltalake import DeltaTable

from lcdp.generator import WorldParams, generate
from lcdp.ingest.pipeline import ingest_files
from lcdp.lake import catalog
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")
KEY = "engines-test-key-0123456789"
LCDP = str(Path(sys.executable).with_name("lcdp"))
CHAIN = Path(__file__).with_name("engine_chain.py")
FEEDS = [("ggdata", "merchants"), ("kona", "transactions"), ("ked", "credit"), ("gcgf", "guarantees"),
         ("gjf", "employment")]
FUSED = [*(f"silver.{t}" for t in catalog.SILVER_TABLES), *(f"gold.{t}" for t in catalog.GOLD_TABLES)]
LINEAGE = {"_ingested_at"}


@pytest.fixture(scope="module")
def bronze_home(tmp_path_factory) -> Settings:
    """A home with every delivery of a small world in bronze (nothing fused)."""
    data = tmp_path_factory.mktemp("engines-data")
    manifest = generate(data, WorldParams(merchants=80, months=4, seed=5), dirty=0.02)
    settings = Settings(home=tmp_path_factory.mktemp("engines") / "home", pseudonym_key=KEY)
    for partner, dataset in FEEDS:
        ingest_files(settings, partner, dataset, [data / e.path for e in manifest.for_dataset(partner, dataset)])
    return settings


def _canonical(value):
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.10g}")  # last-bit sums differ by order
    return value


def _rows(table) -> list[tuple]:
    columns = sorted(c for c in table.column_names if c not in LINEAGE)
    return sorted((tuple(_canonical(r[c]) for c in columns) for r in table.select(columns).to_pylist()), key=repr)


def _fuse(settings: Settings, home: Path, **env) -> tuple[dict[str, list[tuple]], str]:
    shutil.copytree(settings.home_dir, home)
    copy = Settings(home=home, pseudonym_key=KEY)
    child = {"PATH": "/usr/bin:/bin", **copy.as_env(), **env}
    proc = subprocess.run([LCDP, "fuse"], env=child, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {name: _rows(DeltaTable(catalog.table(name).uri(copy)).to_pyarrow_table()) for name in FUSED}, proc.stderr


def test_fusion_in_sails_local_cluster_mode_equals_the_default_mode(bronze_home, tmp_path):
    driver_log = "warn,sail_execution::driver=info"  # the cluster driver says when it starts a worker
    default, default_log = _fuse(bronze_home, tmp_path / "local", RUST_LOG=driver_log)
    cluster, cluster_log = _fuse(bronze_home, tmp_path / "cluster", SAIL_MODE="local-cluster", RUST_LOG=driver_log)
    assert "starting worker" in cluster_log and "starting worker" not in default_log
    assert all(default[name] for name in FUSED)
    for name in FUSED:
        assert cluster[name] == default[name], name


def _export_bronze(settings: Settings, folder: Path) -> None:
    for partner, dataset in FEEDS:
        name = f"bronze.{partner}_{dataset}"
        (folder / name).mkdir(parents=True)
        pq.write_table(DeltaTable(catalog.table(name).uri(settings)).to_pyarrow_table(), folder / name / "part-0.parquet")


def _chain(engine: str, src: Path, out: Path) -> dict[str, list[tuple]]:
    with open(out.with_suffix(".log"), "w") as log:
        proc = subprocess.run([sys.executable, str(CHAIN), engine, str(src), str(out)], stdout=log, stderr=log,
                              timeout=600)
    assert proc.returncode == 0, out.with_suffix(".log").read_text()[-3000:]
    return {name: _rows(pq.read_table(out / name)) for name in FUSED}


@pytest.fixture
def jvm_spark_connect(tmp_path) -> Iterator[str]:
    """A JVM Spark 4 Spark Connect server (pyspark's jars, Java 17) on a free loopback port."""
    spark_home = Path(pyspark.__file__).parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path / "spark-connect-server.log", "w")
    server = subprocess.Popen(
        [str(spark_home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
         "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
         "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.sql.session.timeZone=UTC",
         # Parquet at the edge: timestamps as UTC microseconds, as Sail writes them (not INT96)
         "--conf", "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS"],
        env={**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (tmp_path / "spark-connect-server.log").read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the JVM Spark Connect server did not listen in 180 s"
                time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_the_jobs_give_the_same_rows_on_jvm_spark_connect_as_on_sail(bronze_home, jvm_spark_connect, tmp_path):
    _export_bronze(bronze_home, tmp_path / "bronze")
    sail = _chain("sail", tmp_path / "bronze", tmp_path / "sail")
    jvm = _chain(jvm_spark_connect, tmp_path / "bronze", tmp_path / "jvm")
    assert all(sail[name] for name in FUSED)
    for name in FUSED:
        assert jvm[name] == sail[name], name


def test_the_embedded_engine_keeps_an_idle_session_as_long_as_the_process(spark):
    """Sail drops a session idle for 900 s by default; the suite's session engine waits longer
    than that while the demo runs, and lost its session once ("session ... is not running")."""
    import os

    assert int(os.environ["SAIL_SPARK__SESSION_TIMEOUT_SECS"]) >= 24 * 3600
    assert spark.range(3).count() == 3

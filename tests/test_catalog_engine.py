"""The lake catalog's helpers and the engine's behaviour."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from deltalake import DeltaTable

from lcdp.lake import catalog, engine


def test_every_table_has_one_name_and_one_place(settings):
    tables = catalog.tables()
    assert "bronze.kona_transactions" in tables and "quarantine.ggdata_merchants" in tables
    assert "silver.merchants" in tables and "gold.spending_cube" in tables
    paths = {t.path(settings) for t in tables.values()}
    assert len(paths) == len(tables)
    assert catalog.table("bronze.kona_transactions").path(settings) == settings.lake_root / "bronze" / "kona_transactions"
    with pytest.raises(catalog.UnknownTable, match="no table 'bronze.kona_loans'.*bronze.kona_transactions"):
        catalog.table("bronze.kona_loans")


def test_a_table_asked_for_by_many_writers_at_once_is_made_once(settings):
    """An ingest's worker threads each ensure the table their block goes into; on a new
    dataset they race to create it. Every one of them must find it made, never fail (a CI
    run lost a delivery to "Metadata changed since last commit")."""
    writers = 6
    for attempt in range(8):
        home = settings.model_copy(update={"home": settings.home / f"race-{attempt}"})
        start = threading.Barrier(writers)

        def ask(_: int, home=home, start=start) -> None:
            start.wait()
            catalog.ensure("bronze.kona_transactions", home)

        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(ask, range(writers)))  # re-raises a writer's failure
        made = DeltaTable(str(catalog.table("bronze.kona_transactions").path(home)))
        assert made.to_pyarrow_table().num_rows == 0
        assert made.schema().to_arrow().names == catalog.table("bronze.kona_transactions").schema.names


def test_append_merge_time_travel_history_and_maintenance(settings, spark):
    name = "silver.merchants"
    v0 = catalog.merge(spark, spark.createDataFrame([(1, "a"), (2, "b")], "k long, v string"), name, settings, ["k"])
    v1 = catalog.merge(spark, spark.createDataFrame([(2, "B"), (3, "c")], "k long, v string"), name, settings, ["k"])
    assert v1 == v0 + 1
    assert sorted(tuple(r) for r in catalog.read(spark, name, settings).collect()) == [(1, "a"), (2, "B"), (3, "c")]
    assert sorted(tuple(r) for r in catalog.read(spark, name, settings, version=v0).collect()) == [(1, "a"), (2, "b")]
    v2 = catalog.append(spark.createDataFrame([(4, "d")], "k long, v string"), name, settings)
    assert catalog.row_count(name, settings) == 4 and catalog.row_count(name, settings, version=v0) == 2
    assert [h["version"] for h in catalog.history(name, settings)][:3] == [v2, v1, v0]
    metrics = catalog.compact(name, settings)
    assert metrics["numFilesRemoved"] >= 2 and catalog.row_count(name, settings) == 4
    # vacuum keeps every file a version inside the retention still needs: time travel survives
    catalog.vacuum(name, settings, retention_hours=24 * 30)
    assert sorted(tuple(r) for r in catalog.read(spark, name, settings, version=v0).collect()) == [(1, "a"), (2, "b")]
    assert DeltaTable(catalog.table(name).uri(settings)).to_pyarrow_table().num_rows == 4


def test_engine_is_started_once_per_process(spark):
    assert engine.spark() is spark


def test_unreachable_spark_connect_url_fails_fast_and_says_what_to_do():
    with pytest.raises(engine.EngineError, match="cannot reach the Spark Connect server at 127.0.0.1:9"):
        engine._check_reachable("sc://127.0.0.1:9", timeout_s=1)


def test_every_version_reads_after_a_checkpoint(settings, spark):
    """Writes checkpoint every 10 commits, and Sail alone cannot read a version behind one
    ("Missing commit file"): fusion compares a snapshot's old and new versions, models read
    pinned ones. Every version must read, with its own rows and the table's types."""
    name = "silver.credit_monthly"
    uri = catalog.table(name).uri(settings)
    for i in range(12):
        spark.createDataFrame([(i, dt.date(2024, 1, 1 + i))], "k long, d date").write.format("delta") \
            .mode("overwrite").save(uri)
    assert catalog._checkpointed_after(uri, 3) and not catalog._checkpointed_after(uri, 10)
    for v in range(12):
        df = catalog.read(spark, name, settings, v)
        assert [tuple(r) for r in df.collect()] == [(v, dt.date(2024, 1, 1 + v))]
        assert df.schema.simpleString() == "struct<k:bigint,d:date>"
    old, new = catalog.read(spark, name, settings, 3), catalog.read(spark, name, settings, 11)
    assert new.subtract(old).count() == 1 and old.subtract(old).count() == 0


def test_data_files_committed_directly_read_and_skip_like_the_engines_own(settings, spark):
    """Ingest writes bronze's data files itself and commits them (``commit_files``): their
    statistics come from the files' footers, readers skip by them without losing a row (the
    timestamp bounds are widened to Delta's milliseconds), and both engines read them."""
    import pyarrow as pa

    from lcdp.contracts import get_contract

    contract = get_contract("kona", "transactions")
    name = catalog.bronze(contract).qualified
    base = dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)

    def rows(upload: str, first: int, n: int) -> pa.Table:
        stamps = [base + dt.timedelta(seconds=first + i, microseconds=250 + i) for i in range(n)]
        columns = {f.name: pa.nulls(n, f.type) for f in contract.bronze_schema()}
        columns.update(tx_id=pa.array([f"T{first + i:08d}" for i in range(n)]), tx_ts=pa.array(stamps, columns["tx_ts"].type),
                       amount=pa.array(range(first, first + n), pa.int64()), channel=pa.array(["카드"] * n),
                       _upload_id=pa.array([upload] * n), _source_file=pa.array([f"kona/{upload}.csv"] * n),
                       _row_number=pa.array(range(1, n + 1), pa.int64()),
                       _ingested_at=pa.array([base] * n, columns["_ingested_at"].type))
        return pa.table(columns, schema=contract.bronze_schema())

    before = catalog.version(name, settings) if catalog.delta(name, settings) else None
    files = [catalog.write_data_file(catalog.new_data_file(name, settings, u), rows(u, first, 50))
             for u, first in (("u1", 0), ("u2", 1000))]
    assert catalog.version(name, settings) == (before if before is not None else 0)  # written, not committed
    version = catalog.commit_files(name, settings, files)
    assert version == catalog.version(name, settings) == 1
    actions = pa.table(DeltaTable(catalog.table(name).uri(settings)).get_add_actions(flatten=True))
    stats = {a["path"]: a for a in actions.to_pylist()}
    u2 = stats[files[1].name]
    assert (u2["num_records"], u2["min.amount"], u2["max.amount"]) == (50, 1000, 1049)
    assert u2["min.channel"] == u2["max.channel"] == "카드" and u2["null_count.channel"] == 0
    true_max = base + dt.timedelta(seconds=1049, microseconds=299)
    assert u2["min.tx_ts"] <= base + dt.timedelta(seconds=1000, microseconds=250) and u2["max.tx_ts"] >= true_max
    # readers that skip files by these statistics still find every matching row
    lake = catalog.read(spark, name, settings)
    assert lake.count() == 100
    assert lake.where("_upload_id = 'u2'").count() == 50
    latest = true_max - dt.timedelta(microseconds=1)
    assert [r.tx_id for r in lake.where(lake.tx_ts > latest).collect()] == ["T00001049"]
    assert DeltaTable(catalog.table(name).uri(settings)).to_pyarrow_table(filters=[("amount", ">=", 1049)]).num_rows == 1


def test_a_version_written_in_chunks_is_one_commit_or_nothing(settings, spark):
    """``new_version``: chunks written by the engine become one version when committed (whole
    table, or the partitions named), and a block left without a commit leaves nothing behind."""
    name, ddl = "gold.spending_cube", ("sigun_cd string, industry_code string, age_band string, gender string, "
                                       "hour_band string, day_type string, spending bigint, transactions bigint, "
                                       "cardholders bigint, merchants bigint, month date")
    catalog.create_empty(spark, name, settings, ddl, "month")

    def cells(month: int, spending: int):
        return spark.createDataFrame([("41110", "I", "20대", "남", "00-05", "weekday", spending, 1, 1, 1,
                                       dt.date(2024, month, 1))], ddl)

    def content():
        return sorted((r.month.month, r.spending) for r in catalog.read(spark, name, settings).collect())

    with catalog.new_version(name, settings) as version:
        for month in (1, 2, 3):
            version.write(cells(month, 100 * month))
        assert catalog.version(name, settings) == 0 and content() == []  # written, not visible
        assert version.commit() == 1
    assert content() == [(1, 100), (2, 200), (3, 300)]
    with catalog.new_version(name, settings) as version:
        version.write(cells(2, 222))
        version.commit(replace=[dt.date(2024, 2, 1), dt.date(2024, 3, 1)])  # March replaced by nothing
    assert content() == [(1, 100), (2, 222)] and catalog.version(name, settings) == 2
    root = catalog.table(name).path(settings)
    before = set(root.rglob("*.parquet"))
    with pytest.raises(RuntimeError, match="stopped"):
        with catalog.new_version(name, settings) as version:
            version.write(cells(1, 999))
            raise RuntimeError("stopped before the commit")
    assert set(root.rglob("*.parquet")) == before and content() == [(1, 100), (2, 222)]
    assert catalog.changed_files(name, settings, 1, 2)[0] and not catalog.data_changed(name, settings, 2, 2)

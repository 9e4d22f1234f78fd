"""The Spark jobs of ``jobs/`` chained bronze → silver → gold on one engine, Parquet at the
edges (JVM Spark here has no Delta jars): ``python tests/engine_chain.py ENGINE IN OUT``.

ENGINE is ``sail`` (the embedded engine, ``SAIL_MODE`` from the environment) or the ``sc://``
URL of another Spark Connect server (the test starts JVM Spark 4 from pyspark's own jars). IN holds
one Parquet folder per bronze table (``bronze.kona_transactions``...); OUT gets one per silver
and gold table. Intermediate frames are staged as Parquet in OUT/_stage, as the fusion
steps stage them. tests/test_engines.py compares the outputs of two engines row by row.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def session(engine: str):
    from pyspark.sql import SparkSession

    if engine.startswith("sc://"):
        spark = SparkSession.builder.remote(engine).getOrCreate()
    else:
        from lcdp.lake import engine as lake_engine
        from lcdp.settings import Settings

        spark = lake_engine.spark(Settings(home=Path(sys.argv[3])))
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def main(engine: str, src: Path, out: Path) -> None:
    from jobs import gold_features, gold_spending_cube, silver_merchants, silver_transactions
    from jobs.silver_snapshots import SNAPSHOTS, conform

    spark = session(engine)
    staged = iter(range(1000))

    def stage(frame):
        path = out / "_stage" / str(next(staged))
        frame.write.mode("overwrite").parquet(str(path))
        return spark.read.parquet(str(path))

    def bronze(name: str):
        return spark.read.parquet(str(src / name))

    def write(frame, name: str):
        print(f"{engine}: writing {name}", file=sys.stderr, flush=True)
        frame.write.mode("overwrite").parquet(str(out / name))
        return spark.read.parquet(str(out / name))

    obs = silver_merchants.observations(bronze("bronze.ggdata_merchants"))
    merchants = write(silver_merchants.merchant_history(obs, silver_merchants.industry_codes(obs)), "silver.merchants")
    events = stage(silver_transactions.events(bronze("bronze.kona_transactions")))
    transactions = write(silver_transactions.place(silver_transactions.net_refunds(events), merchants),
                         "silver.transactions")
    snapshots = {name: write(conform(snap, bronze(snap.bronze)), name) for name, snap in SNAPSHOTS.items()}
    write(gold_features.merchant_month_features(
        transactions, merchants, snapshots["silver.credit_monthly"], snapshots["silver.guarantees"],
        snapshots["silver.employment_monthly"], stage=stage), "gold.merchant_month_features")
    write(gold_spending_cube.spending_cube(transactions), "gold.spending_cube")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))

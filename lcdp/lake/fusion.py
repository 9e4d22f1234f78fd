"""Fusion: bronze → silver → gold, incrementally and exactly once.

Each output table is one *step* with declared inputs. A step reads its inputs at their
current versions (time travel pins them for the whole step), compares them with the versions
its last lineage record names (``lcdp.lake.lineage``), and

- does nothing when no input moved (no commit at all);
- for silver, recomputes from bronze only the keys that the new uploads touch, and replaces
  those keys' rows with one ``MERGE`` (``catalog.replace_rows``): a replayed upload or a
  re-run batch leaves the table as it was;
- for gold, recomputes the months that changed and replaces them;
- recomputes everything when there is no usable record (first run, ``--full``, or the
  recorded input version can no longer be loaded).

A recompute of many months runs a month at a time, each month a query that fits the
engine's memory, and commits the months as one version (``catalog.new_version``): the
payments of silver.transactions by the month they were paid in, the cube by month, the
features' monthly sales and customers by month (``_monthly_activity``).

The Spark work lives in ``jobs/`` (functions of DataFrames); this module is the edge that
reads, writes and records lineage. Joins here put the few touched keys on the left: Sail
builds a join's hash table from its left input, and that table cannot spill.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from lcdp.lake import catalog, engine, lineage
from lcdp import log
from lcdp.settings import Settings

_log = log.get(__name__)


class StepResult(BaseModel):
    """What one fusion step did (``lcdp fuse`` prints one per table)."""

    table: str
    status: str  # "written" or "up to date"
    mode: str | None = None  # "full" or "incremental"
    version: int | None = None
    rows: int | None = None
    scope: str = ""  # what was recomputed, in words
    inputs: dict[str, int | None] = Field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Step:
    table: str
    inputs: tuple[str, ...]
    run: Callable[[Settings, dict[str, int | None], dict | None], tuple[str, str]]  # → (mode, scope)


# --------------------------------------------------------------------------- helpers


def _spark(settings: Settings):
    return engine.spark(settings)


def _read(settings: Settings, name: str, version: int | None):
    return catalog.read(_spark(settings), name, settings, version=version)


def _new_uploads(settings: Settings, name: str, previous: dict | None, current: int | None) -> set[str] | None:
    """Upload ids new in ``name`` since the step last ran; None means "recompute all"."""
    if previous is None or current is None:
        return None
    before = previous["inputs"].get(name)
    if before is None:
        return None
    if before == current:
        return set()
    try:
        return catalog.uploads_between(name, settings, before, current)
    except Exception as exc:  # the recorded version's log is gone: start over
        _log.warning("fusion.watermark_lost", table=name, version=before, error=str(exc))
        return None


def _in(column: str, values: set[str]):
    from pyspark.sql import functions as F

    return F.col(column).isin(sorted(values)) if values else F.lit(False)


def _changed_rows(settings: Settings, name: str, before: int, after: int):
    """Rows that differ between two versions of a (small) table, either side."""
    old, new = _read(settings, name, before), _read(settings, name, after)
    return new.subtract(old).unionByName(old.subtract(new))


def _date_list(dates) -> str:
    return ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(dates))


def _month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every first-of-month from ``first``'s month to ``last``'s."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _months_of_partitions(partitions) -> set[dt.date]:
    """The months of silver.transactions partition values (days, or months in a table
    written before it was partitioned by day)."""
    days = (v.get("tx_date", v.get("tx_month")) for v in partitions)
    return {d.replace(day=1) for d in days if d is not None}


def _transaction_months(settings: Settings, version: int | None) -> list[dt.date]:
    """The months silver.transactions holds at a version, in order (from its partitions)."""
    if version is None:
        return []
    return sorted(_months_of_partitions(catalog.files("silver.transactions", settings, version).values()))


def _new_version(settings: Settings, name: str):
    """A chunked write of a new version of a step's table (created empty first if need be)."""
    catalog.create_empty(_spark(settings), name, settings, *_output_ddl(name))
    return catalog.new_version(name, settings)


# --------------------------------------------------------------------------- silver


def _merchants(settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> tuple[str, str]:
    from jobs import silver_merchants as job

    spark = _spark(settings)
    bronze_name = "bronze.ggdata_merchants"
    obs = job.observations(_read(settings, bronze_name, inputs[bronze_name]))
    codes = job.industry_codes(obs)
    new = _new_uploads(settings, bronze_name, previous, inputs[bronze_name])
    if new is None:
        catalog.replace_rows(spark, job.merchant_history(obs, codes), "silver.merchants", settings, job.KEY, None)
        return "full", "every merchant"
    touched = obs.where(_in("_upload_id", new)).select(*job.SCOPE).distinct()
    history = job.merchant_history(touched.join(obs, on=job.SCOPE), codes)
    catalog.replace_rows(spark, history, "silver.merchants", settings, job.KEY, job.SCOPE)
    return "incremental", f"merchants of {len(new)} new upload(s)"


def _transactions(settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> tuple[str, str]:
    from jobs import silver_transactions as job

    spark = _spark(settings)
    bronze_name, merchants_name = "bronze.kona_transactions", "silver.merchants"
    bronze = _read(settings, bronze_name, inputs[bronze_name])
    merchants = _read(settings, merchants_name, inputs[merchants_name])
    new = _new_uploads(settings, bronze_name, previous, inputs[bronze_name])
    before_merchants = previous["inputs"].get(merchants_name) if previous else None

    if new is None or before_merchants is None:
        _all_transactions(settings, bronze, merchants, inputs[bronze_name])
        return "full", "every payment"
    with_payment = bronze.withColumn("payment_id", job.payment_id())
    touched = with_payment.where(_in("_upload_id", new)).select("payment_id")
    scope = f"payments of {len(new)} new upload(s)"
    if before_merchants != inputs[merchants_name]:
        # merchants whose business, region or industry changed: re-place their payments
        place = ["merchant_key", "business_key", "sigun_cd", "industry_code"]
        current = lambda v: _read(settings, merchants_name, v).where("is_current").select(*place)  # noqa: E731
        moved = (current(inputs[merchants_name]).subtract(current(before_merchants))
                 .select("merchant_key").distinct())
        touched = touched.unionByName(moved.join(with_payment, on="merchant_key").select("payment_id"))
        scope += " and of merchants the registry changed"
    touched = touched.distinct()
    # The uploads that hold any row of those payments (the new ones, a refunded payment's,
    # an earlier orphan refund's), found on three narrow columns; then the whole rows of
    # those uploads only: each upload is its own files, which the engine skips by their
    # statistics. A day at 21.8M payments read 2 of 24 uploads (4.8 s became 1.5 s).
    narrow = bronze.select("tx_id", "orig_tx_id", "_upload_id").withColumn("payment_id", job.payment_id())
    uploads = {r[0] for r in touched.join(narrow, on="payment_id").select("_upload_id").distinct().collect()}
    candidates = with_payment.where(_in("_upload_id", uploads))
    rows = touched.join(candidates, on="payment_id").drop("payment_id")  # few touched ids: on the left
    with catalog.staging(spark, settings, "transaction-events") as stage:
        events = stage(job.events(rows))
        # a payment id's silver rows lie in the days of its bronze rows (the payment's, or an
        # orphan refund's): only those days of the table are searched and merged
        catalog.replace_rows(spark, job.place(job.net_refunds(events), merchants), "silver.transactions",
                             settings, job.KEY, job.SCOPE, job.PARTITION, partitions=job.dates_of(events))
    return "incremental", scope


def _all_transactions(settings: Settings, bronze, merchants, bronze_version: int | None) -> None:
    """silver.transactions recomputed from the whole of bronze, month of payment by month of
    payment: each month is a query of its own (its bronze files picked by their statistics),
    reading the refund totals staged once, and the months become one version together. As
    one query over 21.8M payments it took 119 s and spilled."""
    from pyspark.sql import functions as F

    from jobs import silver_transactions as job

    spark = _spark(settings)
    rows = job.event_rows(bronze)
    with catalog.staging(spark, settings, "transaction-refunds") as stage:
        refunds = stage(rows.where(F.col("is_refund")))
        totals = stage(job.refund_totals(refunds))
        bounds = rows.agg(F.min(job.local_month(F.col("tx_ts"))), F.max(job.local_month(F.col("tx_ts")))).collect()[0]
        months = _month_range(bounds[0], bounds[1]) if bounds[0] is not None else []
        with _new_version(settings, "silver.transactions") as version:
            for month in months:
                version.write(job.place(job.netted_payments(rows.where(job.paid_in(month)), totals), merchants))
            payment_ids = rows.where(~F.col("is_refund")).select("payment_id")
            version.write(job.place(job.orphan_refunds(refunds, totals, payment_ids), merchants))
            version.commit()
        _log.info("fusion.months", table="silver.transactions", months=len(months), bronze_version=bronze_version)


def _snapshot_step(silver_name: str):
    def run(settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> tuple[str, str]:
        from jobs.silver_snapshots import SNAPSHOTS, conform

        spark = _spark(settings)
        snapshot = SNAPSHOTS[silver_name]
        bronze = _read(settings, snapshot.bronze, inputs[snapshot.bronze])
        new = _new_uploads(settings, snapshot.bronze, previous, inputs[snapshot.bronze])
        bronze_key = [snapshot.columns[k] for k in snapshot.key]
        if new is None:
            catalog.replace_rows(spark, conform(snapshot, bronze), silver_name, settings, snapshot.key, None)
            return "full", "every key"
        touched = bronze.where(_in("_upload_id", new)).select(*bronze_key).distinct()
        rows = touched.join(bronze, on=bronze_key)
        catalog.replace_rows(spark, conform(snapshot, rows), silver_name, settings, snapshot.key, snapshot.key)
        return "incremental", f"keys of {len(new)} new upload(s)"

    return run


# --------------------------------------------------------------------------- gold


def _changed_tx_months(settings: Settings, previous: dict | None, current: int | None) -> set[dt.date] | None:
    """Months (partitions) of silver.transactions rewritten since the step last ran."""
    before = previous["inputs"].get("silver.transactions") if previous else None
    if before is None or current is None:
        return None
    if before == current:
        return set()
    try:
        added, removed = catalog.changed_files("silver.transactions", settings, before, current)
    except Exception:
        return None
    return _months_of_partitions([*added.values(), *removed.values()])


def _features_since(settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> dt.date | None | str:
    """The first month whose features may have changed; None: all; "nothing": no change."""
    if previous is None:
        return None
    firsts: list[dt.date] = []
    tx_months = _changed_tx_months(settings, previous, inputs["silver.transactions"])
    if tx_months is None:
        return None
    firsts += list(tx_months)
    from pyspark.sql import functions as F

    month_of = {
        "silver.credit_monthly": F.col("month"),
        "silver.employment_monthly": F.col("month"),
        "silver.guarantees": F.least(F.trunc("start_date", "month"), F.trunc("default_date", "month")),
        "silver.merchants": F.lit(None).cast("date"),  # a registry change may touch any month
    }
    for name, month in month_of.items():
        before, after = previous["inputs"].get(name), inputs[name]
        if before is None or after is None:
            return None
        if before == after:
            continue
        changed = _changed_rows(settings, name, before, after)
        summary = changed.agg(F.count("*").alias("n"), F.min(month).alias("first")).collect()[0]
        if summary["n"] == 0:
            continue
        if summary["first"] is None:
            return None
        firsts.append(summary["first"])
    return min(firsts) if firsts else "nothing"


def _monthly_activity(settings: Settings, transactions, tx_version: int | None, since: dt.date | None, stage):
    """The features' monthly activity (``jobs.gold_features.monthly_activity``) from ``since``
    on (all months when None), one month at a time. Each month's visits are staged for the
    REPEAT_MONTHS months after it; the months before the first one come as raw payments.
    None when silver has no month."""
    from functools import reduce

    from pyspark.sql import functions as F

    from jobs import gold_features as job
    from jobs.silver_transactions import in_month

    held = _transaction_months(settings, tx_version)
    months = [m for m in held if since is None or m >= since]
    union = lambda frames: reduce(lambda a, b: a.unionByName(b), frames)  # noqa: E731
    visits: dict[dt.date, object] = {}
    parts = []
    for i, month in enumerate(months):
        window = [job.add_months(month, -k) for k in range(1, job.REPEAT_MONTHS + 1)]
        earlier = [visits[m] for m in window if m in visits]
        unstaged = [m for m in window if m not in visits and m in held]
        if unstaged:
            earlier.append(job.payments_by_card(transactions.where(
                (F.col("tx_date") >= F.lit(min(unstaged))) & (F.col("tx_date") < F.lit(job.add_months(max(unstaged), 1))))))
        if not earlier:
            earlier = [_spark(settings).createDataFrame([], "business_key string, card_key string, month date")]
        of_month = transactions.where(in_month(month))
        own = None
        if i < len(months) - 1:  # a later month reads them
            own = visits[month] = stage(job.payments_by_card(of_month).distinct())
        parts.append(stage(job.monthly_activity(of_month, union(earlier), visits=own)))
    return union(parts) if parts else None


def _features(settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> tuple[str, str]:
    from pyspark.sql import functions as F

    from jobs import gold_features as job

    since = _features_since(settings, inputs, previous)
    if since == "nothing":
        return "incremental", "no month changed"
    name = "gold.merchant_month_features"
    silver = [_read(settings, n, inputs[n]) for n in (
        "silver.transactions", "silver.merchants", "silver.credit_monthly", "silver.guarantees",
        "silver.employment_monthly")]
    with catalog.staging(_spark(settings), settings, "features-history") as stage:
        activity = _monthly_activity(settings, silver[0], inputs["silver.transactions"], since, stage)
        if since is None:
            features = job.merchant_month_features(*silver, stage=stage, activity=activity)
            catalog.overwrite_where(features, name, settings, job.PARTITION, None)
            return "full", "every month"
        # the months before `since` are unchanged: the new rows read the table's own rows of
        # those months (pinned to this version) and only the payments their windows reach
        earlier = _read(settings, name, catalog.version(name, settings)).where(F.col("month") < F.lit(since))
        silver[0] = silver[0].where(F.col("tx_date") >= F.lit(job.inputs_from(since)["transactions"]))
        features = job.merchant_month_features(*silver, stage=stage, since=since, earlier=earlier, activity=activity)
        catalog.overwrite_where(features, name, settings, job.PARTITION, f"month >= DATE'{since.isoformat()}'")
        return "incremental", f"months from {since:%Y-%m}"


def _cube(settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> tuple[str, str]:
    from jobs import gold_spending_cube as job
    from jobs.silver_transactions import in_month

    version = inputs["silver.transactions"]
    transactions = _read(settings, "silver.transactions", version)
    months = _changed_tx_months(settings, previous, version)
    if months is not None and not months:
        return "incremental", "no month changed"
    every = months is None
    # cells never span months: a month is a query of its own (154 s as one query at 21.8M
    # payments, 31 s as 24), the months one commit
    for_months = _transaction_months(settings, version) if every else sorted(months)
    with _new_version(settings, "gold.spending_cube") as cube:
        for month in for_months:
            cube.write(job.spending_cube(transactions.where(in_month(month))))
        cube.commit(None if every else months)
    return ("full", "every month") if every else ("incremental", f"{len(months)} month(s)")


STEPS: list[Step] = [
    Step("silver.merchants", ("bronze.ggdata_merchants",), _merchants),
    Step("silver.transactions", ("bronze.kona_transactions", "silver.merchants"), _transactions),
    Step("silver.credit_monthly", ("bronze.ked_credit",), _snapshot_step("silver.credit_monthly")),
    Step("silver.guarantees", ("bronze.gcgf_guarantees",), _snapshot_step("silver.guarantees")),
    Step("silver.employment_monthly", ("bronze.gjf_employment",), _snapshot_step("silver.employment_monthly")),
    Step("gold.merchant_month_features", ("silver.transactions", "silver.merchants", "silver.credit_monthly",
                                          "silver.guarantees", "silver.employment_monthly"), _features),
    Step("gold.spending_cube", ("silver.transactions",), _cube),
]
STEP_NAMES = [s.table for s in STEPS]


def _output_ddl(name: str) -> tuple[str, str | None]:
    from jobs import gold_features, gold_spending_cube, silver_merchants, silver_transactions
    from jobs.silver_snapshots import SNAPSHOTS

    known = {
        "silver.merchants": (silver_merchants.OUTPUT_DDL, None),
        "silver.transactions": (silver_transactions.OUTPUT_DDL, silver_transactions.PARTITION),
        "gold.merchant_month_features": (gold_features.OUTPUT_DDL, gold_features.PARTITION),
        "gold.spending_cube": (gold_spending_cube.OUTPUT_DDL, gold_spending_cube.PARTITION),
    }
    known.update({name: (s.ddl, None) for name, s in SNAPSHOTS.items()})
    return known[name]


def _ensure_inputs(settings: Settings, step: Step) -> None:
    """Inputs that were never written exist empty, so a partner that has not delivered yet
    reads as no rows rather than an error."""
    for name in step.inputs:
        if name.startswith("bronze."):
            catalog.ensure(name, settings)
        else:
            catalog.create_empty(_spark(settings), name, settings, *_output_ddl(name))


def run_step(settings: Settings, name: str, full: bool = False) -> StepResult:
    """Bring one silver or gold table up to date with its inputs."""
    step = next((s for s in STEPS if s.table == name), None)
    if step is None:
        raise catalog.UnknownTable(f"no fusion step writes {name!r} (steps: {', '.join(STEP_NAMES)})")
    started = time.perf_counter()
    _ensure_inputs(settings, step)
    inputs = {i: catalog.version(i, settings) for i in step.inputs}
    previous = None if full or catalog.delta(name, settings) is None else lineage.latest(name, settings)
    if previous is not None and not _inputs_moved(settings, previous["inputs"], inputs):
        return StepResult(table=name, status="up to date", version=catalog.version(name, settings),
                          rows=catalog.row_count(name, settings), inputs=inputs,
                          seconds=round(time.perf_counter() - started, 2))
    _log.info("fusion.step", table=name, inputs=inputs, previous=previous and previous["inputs"])
    mode, scope = step.run(settings, inputs, previous)
    catalog.create_empty(_spark(settings), name, settings, *_output_ddl(name))  # nothing to write, first run
    data_version = catalog.version(name, settings)
    lineage.record(name, settings, data_version, inputs, mode=mode, scope=scope)  # type: ignore[arg-type]
    result = StepResult(table=name, status="written", mode=mode, version=catalog.version(name, settings),
                        rows=catalog.row_count(name, settings), scope=scope, inputs=inputs,
                        seconds=round(time.perf_counter() - started, 2))
    _log.info("fusion.done", table=name, version=result.version, rows=result.rows, mode=mode, scope=scope,
              seconds=result.seconds)
    return result


def _inputs_moved(settings: Settings, before: dict[str, int | None], now: dict[str, int | None]) -> bool:
    """Whether any input has new data since the versions ``before`` names: a version moved by
    compaction or lineage commits alone is no new data (``lcdp fuse`` after ``lcdp maintain``
    is up to date)."""
    for name, version in now.items():
        old = before.get(name)
        if old == version:
            continue
        if old is None or version is None or version < old or catalog.data_changed(name, settings, old, version):
            return True
    return False


def run_all(settings: Settings, full: bool = False,
            progress: Callable[[StepResult], None] | None = None) -> list[StepResult]:
    """Every step in dependency order (silver before gold)."""
    results = []
    for step in STEPS:
        result = run_step(settings, step.table, full=full)
        results.append(result)
        if progress is not None:
            progress(result)
    return results

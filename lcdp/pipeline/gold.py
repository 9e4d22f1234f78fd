"""The gold steps' incremental refreshes: the months that changed are computed again and
replaced, each month a query of its own, the months committed as one version
(``catalog.new_version``): the cube by month, the features' monthly sales and customers by
month (``monthly_activity``).
"""

from __future__ import annotations

import datetime as dt

from lcdp.declarations import Table
from lcdp.lake import catalog
from lcdp.pipeline.increments import (
    changed_rows, changed_transaction_months, read, spark, transaction_months,
)
from lcdp.pipeline.outcome import Refresh, RefreshMode
from lcdp.pipeline.resolve import new_version
from lcdp.settings import Settings

#: what ``features_since`` says when no input month changed
NO_CHANGE = Refresh(RefreshMode.INCREMENTAL, "no month changed")


def features_since(settings: Settings, inputs: dict[str, int | None], previous: dict | None) -> dt.date | None | Refresh:
    """The first month whose features may have changed; None: every month; ``NO_CHANGE``:
    none did."""
    if previous is None:
        return None
    firsts: list[dt.date] = []
    tx_months = changed_transaction_months(settings, previous, inputs["silver.transactions"])
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
        changed = changed_rows(settings, name, before, after)
        summary = changed.agg(F.count("*").alias("n"), F.min(month).alias("first")).collect()[0]
        if summary["n"] == 0:
            continue
        if summary["first"] is None:
            return None
        firsts.append(summary["first"])
    return min(firsts) if firsts else NO_CHANGE


def monthly_activity(settings: Settings, transactions, tx_version: int | None, since: dt.date | None, stage):
    """The features' monthly activity (``jobs.gold_features.monthly_activity``) from ``since``
    on (all months when None), one month at a time. Each month's visits are staged for the
    REPEAT_MONTHS months after it; the months before the first one come as raw payments.
    None when silver has no month."""
    from functools import reduce

    from pyspark.sql import functions as F

    from jobs import gold_features as job
    from jobs.silver_transactions import in_month

    held = transaction_months(settings, tx_version)
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
            earlier = [spark(settings).createDataFrame([], "business_key string, card_key string, month date")]
        of_month = transactions.where(in_month(month))
        own = None
        if i < len(months) - 1:  # a later month reads them
            own = visits[month] = stage(job.payments_by_card(of_month).distinct())
        parts.append(stage(job.monthly_activity(of_month, union(earlier), visits=own)))
    return union(parts) if parts else None


def feature_months(settings: Settings, table: Table, inputs: dict[str, int | None], previous: dict | None) -> Refresh:
    from pyspark.sql import functions as F

    from jobs import gold_features as job

    since = features_since(settings, inputs, previous)
    if isinstance(since, Refresh):
        return since
    silver = [read(settings, n, inputs[n]) for n in (
        "silver.transactions", "silver.merchants", "silver.credit_monthly", "silver.guarantees",
        "silver.employment_monthly")]
    with catalog.staging(spark(settings), settings, "features-history") as stage:
        activity = monthly_activity(settings, silver[0], inputs["silver.transactions"], since, stage)
        if since is None:
            features = job.merchant_month_features(*silver, stage=stage, activity=activity)
            catalog.overwrite_where(features, table.name, settings, table.partition, None)
            return Refresh(RefreshMode.FULL, "every month")
        # the months before `since` are unchanged: the new rows read the table's own rows of
        # those months (pinned to this version) and only the payments their windows reach
        earlier = read(settings, table.name, catalog.version(table.name, settings)).where(F.col("month") < F.lit(since))
        silver[0] = silver[0].where(F.col("tx_date") >= F.lit(job.inputs_from(since)["transactions"]))
        features = job.merchant_month_features(*silver, stage=stage, since=since, earlier=earlier, activity=activity)
        catalog.overwrite_where(features, table.name, settings, table.partition, f"month >= DATE'{since.isoformat()}'")
        return Refresh(RefreshMode.INCREMENTAL, f"months from {since:%Y-%m}")


def cube_months(settings: Settings, table: Table, inputs: dict[str, int | None], previous: dict | None) -> Refresh:
    from jobs import gold_spending_cube as job
    from jobs.silver_transactions import in_month

    version = inputs["silver.transactions"]
    transactions = read(settings, "silver.transactions", version)
    months = changed_transaction_months(settings, previous, version)
    if months is not None and not months:
        return NO_CHANGE
    every = months is None
    # cells never span months: a month is a query of its own (154 s as one query at 21.8M
    # payments, 31 s as 24), the months one commit
    for_months = transaction_months(settings, version) if every else sorted(months)
    with new_version(settings, table) as cube:
        for month in for_months:
            cube.write(job.spending_cube(transactions.where(in_month(month))))
        cube.commit(None if every else months)
    return Refresh(RefreshMode.FULL, "every month") if every else Refresh(RefreshMode.INCREMENTAL, f"{len(months)} month(s)")

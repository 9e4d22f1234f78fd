"""The lake's silver and gold tables, the models that score into it and the data products
built from it: what the platform makes, declared once.

Partner datasets are declared the same way (their contract beside this file, their entry in
``infra/feeds.yaml``); bronze and quarantine tables follow from the contracts. Every list the
platform needs is read from here (through ``lcdp.declarations``, which adds lookups that
answer an unknown name with the platform's error):

- the lake catalog: every table's name and place;
- the pipeline (``lcdp.pipeline``): which step writes a table, from which inputs, how;
- the DAG files: the fusion DAG's tasks and their order, what the models and exports DAGs are
  scheduled on, and every table's Asset (``asset``), read when Airflow parses them;
- the command line's lists (``lcdp fuse``, ``train``, ``score``, ``export``, ``grants``),
  ``lcdp dictionary``, the export API and Delta Sharing.

Entries name their code by module path (``jobs.gold_spending_cube``), not by import: this
package is data, below the code it names, and cheap to import.

Adding a gold table is its job module plus one ``Table`` entry; adding a data product is its
module in ``jobs/exports/`` plus one ``Product`` entry (``docs/extending.md`` shows both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    """A silver or gold table that fusion computes from other lake tables (``lcdp fuse``, the
    fusion DAG's task of the same name)."""

    name: str  # <layer>.<table>
    grain: str  # what one row is
    key: tuple[str, ...]
    inputs: tuple[str, ...]  # the tables it is computed from, read at pinned versions
    #: the module in ``jobs/`` that holds its columns (``COLUMNS``: a ``lcdp.lake.dictionary.Columns``,
    #: or a dict of them by table name when the module makes several) and its transformation
    job: str
    partition: str | None = None
    #: how fusion refreshes it (``lcdp.pipeline.fusion.REFRESHES``): ``full`` computes every row
    #: again with the job's ``build(inputs)`` whenever an input has new data; the others are the
    #: incremental strategies of the tables that need one
    refresh: str = "full"

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Scores:
    """A gold table the models' champions write: their scores (``lcdp score``) or their
    monitoring (``lcdp monitor``), both in the models DAG."""

    name: str
    grain: str
    key: tuple[str, ...]
    job: str  # the module with its ``COLUMNS`` and ``scores(...)``
    partition: str | None = None
    reads: tuple[str, ...] = ()  # lake tables scoring reads besides the model's features, pinned with them


@dataclass(frozen=True)
class Model:
    """A model trained on the lake, registered in MLflow, scored back into the lake."""

    name: str  # what `lcdp train` and `lcdp score` take
    registered: str  # the registered model in MLflow
    package: str  # ``<package>.train`` trains and reproduces it; ``scores.job`` scores with it
    features: str  # the table it learns from and scores (the models DAG is scheduled on it)
    scores: Scores
    labels: tuple[str, ...] = ()  # further tables training reads (the credit model's labels, the forecaster's businesses)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.features, *self.labels)


@dataclass(frozen=True)
class Product:
    """A disclosure-controlled data product: ``gold.export_<name>``, built by ``lcdp export``
    and the exports DAG, served by the export API and Delta Sharing."""

    name: str  # what `lcdp export`, `lcdp grants` and the API take
    module: str  # its module in ``jobs/exports/``: ``PRODUCT`` (what it publishes) and ``cells``
    sources: tuple[str, ...] = field(default=())  # the lake tables it is built from, at pinned versions

    @property
    def table(self) -> str:
        return f"gold.export_{self.name}"


TABLES: tuple[Table, ...] = (
    Table("silver.merchants", grain="one run of equal registry statuses of one merchant (SCD type 2)",
          key=("merchant_key", "status_seq"), inputs=("bronze.ggdata_merchants",), job="jobs.silver_merchants",
          refresh="merchant_history"),
    Table("silver.transactions",
          grain="one payment (refunds netted in), or one refund whose payment never arrived",
          key=("tx_id",), inputs=("bronze.kona_transactions", "silver.merchants"), job="jobs.silver_transactions",
          partition="tx_date", refresh="payments"),
    Table("silver.credit_monthly", grain="one business and month (the bureau's snapshot)",
          key=("business_key", "month"), inputs=("bronze.ked_credit",), job="jobs.silver_snapshots",
          refresh="snapshot"),
    Table("silver.guarantees", grain="one credit guarantee", key=("guarantee_id",), inputs=("bronze.gcgf_guarantees",),
          job="jobs.silver_snapshots", refresh="snapshot"),
    Table("silver.employment_monthly", grain="one business and month (insurance records)",
          key=("business_key", "month"), inputs=("bronze.gjf_employment",), job="jobs.silver_snapshots",
          refresh="snapshot"),
    Table("gold.merchant_month_features",
          grain="one business and month, from its first activity to the last month of data",
          key=("business_key", "month"),
          inputs=("silver.transactions", "silver.merchants", "silver.credit_monthly", "silver.guarantees",
                  "silver.employment_monthly"),
          job="jobs.gold_features", partition="month", refresh="feature_months"),
    Table("gold.spending_cube",
          grain="region × industry × month × age band × gender × hour band × day type",
          key=("sigun_cd", "industry_code", "age_band", "gender", "hour_band", "day_type", "month"),
          inputs=("silver.transactions",), job="jobs.gold_spending_cube", partition="month", refresh="cube_months"),
)

MODELS: tuple[Model, ...] = (
    Model("credit-risk", registered="lcdp-credit-risk", package="models.credit_risk",
          features="gold.merchant_month_features", labels=("silver.merchants", "silver.guarantees"),
          scores=Scores("gold.credit_risk_scores",
                        grain="one business and month (every row of gold.merchant_month_features)",
                        key=("business_key", "month"), job="models.credit_risk.score", partition="month")),
    Model("spending-pattern", registered="lcdp-spending-pattern", package="models.spending_pattern",
          features="gold.spending_cube", labels=("gold.merchant_month_features",),
          scores=Scores("gold.spending_forecasts",
                        grain="one series (province, 시군 or 시군 × industry) and forecast month",
                        key=("level", "sigun_cd", "industry_code", "month"), job="models.spending_pattern.score",
                        reads=("gold.merchant_month_features",))),
)

#: drift and realized performance of the champions, written after scoring (``models/monitoring.py``)
MONITORING = Scores("gold.model_monitoring", grain="one model, measure, feature (or horizon) and month",
                    key=("model", "measure", "feature", "month"), job="models.monitoring")

PRODUCTS: tuple[Product, ...] = (
    Product("spending", module="jobs.exports.spending", sources=("silver.transactions",)),
    Product("risk", module="jobs.exports.risk", sources=("gold.credit_risk_scores", "gold.merchant_month_features")),
    Product("forecasts", module="jobs.exports.forecasts", sources=("gold.spending_forecasts", "silver.transactions")),
)


def table_names() -> list[str]:
    """Every silver and gold table the platform writes, in the order the catalog lists them:
    fused silver, fused gold, the models' scores and monitoring, the products."""
    fused = [t.name for t in TABLES]
    return [*fused, *(m.scores.name for m in MODELS), MONITORING.name, *(p.table for p in PRODUCTS)]


def asset_uri(name: str) -> str:
    """The Airflow Asset URI of a lake table: ``lcdp://<layer>/<table>``."""
    layer, table_ = name.split(".", 1)
    return f"lcdp://{layer}/{table_}"


def export_triggers() -> list[str]:
    """The tables whose new versions start the exports DAG: the models' scores the products
    read, and, for a product that reads fused tables, the last table fusion writes (a product
    is rebuilt once the whole fusion run it depends on is done, not after each of its steps)."""
    scores = {m.scores.name for m in MODELS}
    fused = {t.name for t in TABLES}
    out: list[str] = []
    for source in (s for p in PRODUCTS for s in p.sources):
        trigger = source if source in scores else TABLES[-1].name if source in fused else None
        if trigger is not None and trigger not in out:
            out.append(trigger)
    return sorted(out)


def asset(name: str):
    """The Airflow Asset of a lake table, named as the table (the DAG files' schedules and
    outlets; imports Airflow's SDK when called)."""
    from airflow.sdk import Asset

    return Asset(name=name, uri=asset_uri(name))


def any_of(names: Iterable[str]):
    """An Airflow schedule that runs when any of these tables has a new version."""
    assets = [asset(n) for n in names]
    schedule = assets[0]
    for one in assets[1:]:
        schedule = schedule | one
    return schedule

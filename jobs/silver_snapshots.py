"""The partners' snapshot datasets conformed on the business key (and month):
``silver.credit_monthly``, ``silver.guarantees``, ``silver.employment_monthly``.

A key sent again is a restatement: the latest delivery's values win (``latest_per_key``),
and a re-sent identical row changes nothing, not even the lineage.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.deduplicate import latest_per_key
from jobs.schema import conform as conform_to
from lcdp.lake.dictionary import TableDoc


@dataclass(frozen=True)
class Snapshot:
    """How one bronze snapshot table becomes its silver table."""

    bronze: str
    key: list[str]
    columns: dict[str, str]  # silver column → bronze column
    ddl: str  # silver schema (the lineage columns at the end)

    @property
    def values(self) -> list[str]:
        return [c for c in self.columns if c not in self.key]


SNAPSHOTS: dict[str, Snapshot] = {
    "silver.credit_monthly": Snapshot(
        bronze="bronze.ked_credit", key=["business_key", "month"],
        columns={"business_key": "business_key", "month": "snapshot_month", "credit_grade": "credit_grade",
                 "delinquency_count": "delinquency_count", "delinquency_days": "delinquency_days",
                 "loan_balance": "loan_balance", "years_in_business": "years_in_business"},
        ddl="business_key string, month date, credit_grade bigint, delinquency_count bigint, "
            "delinquency_days bigint, loan_balance bigint, years_in_business double, "
            "_upload_id string, _ingested_at timestamp"),
    "silver.guarantees": Snapshot(
        bronze="bronze.gcgf_guarantees", key=["guarantee_id"],
        columns={"guarantee_id": "guarantee_id", "business_key": "business_key", "start_date": "start_date",
                 "amount": "amount", "status": "status", "default_date": "default_date",
                 "subrogation_amount": "subrogation_amount"},
        ddl="guarantee_id string, business_key string, start_date date, amount bigint, status string, "
            "default_date date, subrogation_amount bigint, _upload_id string, _ingested_at timestamp"),
    "silver.employment_monthly": Snapshot(
        bronze="bronze.gjf_employment", key=["business_key", "month"],
        columns={"business_key": "business_key", "month": "month", "insured_employees": "insured_employees",
                 "hires": "hires", "separations": "separations", "job_postings": "job_postings"},
        ddl="business_key string, month date, insured_employees bigint, hires bigint, separations bigint, "
            "job_postings bigint, _upload_id string, _ingested_at timestamp"),
}


def conform(snapshot: Snapshot, bronze: DataFrame) -> DataFrame:
    """Bronze rows → one silver row per key, in the silver schema."""
    renamed = bronze.select(*[F.col(src).alias(dst) for dst, src in snapshot.columns.items()],
                            "_upload_id", "_ingested_at", "_row_number")
    latest = latest_per_key(renamed, snapshot.key, snapshot.values)
    return conform_to(latest, snapshot.ddl)


_MEANINGS = {
    "business_key": "pseudonym of the BRN", "month": "first day of the snapshot's month",
    "credit_grade": "bureau grade, 1 best … 10 worst", "delinquency_count": "delinquent accounts",
    "delinquency_days": "days past due", "loan_balance": "loans outstanding (KRW)",
    "years_in_business": "years since the business opened", "guarantee_id": "the foundation's guarantee id",
    "start_date": "guarantee start", "amount": "guaranteed amount (KRW)",
    "status": "today's status as delivered (ACTIVE, REPAID, DEFAULTED, SUBROGATED): not point-in-time",
    "default_date": "when it defaulted (null: not defaulted)", "subrogation_amount": "amount the foundation repaid for it (KRW)",
    "insured_employees": "employees insured", "hires": "hires in the month", "separations": "staff departures in the month",
    "job_postings": "job postings in the month"}
_GRAIN = {"silver.credit_monthly": "one business and month (the bureau's snapshot)",
          "silver.guarantees": "one credit guarantee", "silver.employment_monthly": "one business and month (insurance records)"}
DOCS = [TableDoc(table=name, grain=_GRAIN[name], key=s.key, ddl=s.ddl,
                 meanings={c: _MEANINGS[c] for c in s.columns}, written_by="jobs.silver_snapshots.conform")
        for name, s in SNAPSHOTS.items()]

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
from lcdp import declarations
from lcdp.lake.dictionary import Columns


@dataclass(frozen=True)
class Snapshot:
    """How one bronze snapshot table becomes its silver table."""

    bronze: str
    key: list[str]
    columns: dict[str, str]  # silver column → bronze column
    ddl: str  # silver schema (the lineage columns at the end)

    @classmethod
    def of(cls, table: str, columns: dict[str, str], ddl: str) -> Snapshot:
        """The snapshot that makes ``table``, whose bronze input and key its declaration gives."""
        declared = declarations.table(table)
        return cls(bronze=declared.inputs[0], key=list(declared.key), columns=columns, ddl=ddl)

    @property
    def values(self) -> list[str]:
        return [c for c in self.columns if c not in self.key]


SNAPSHOTS: dict[str, Snapshot] = {
    "silver.credit_monthly": Snapshot.of(
        "silver.credit_monthly",
        columns={"business_key": "business_key", "month": "snapshot_month", "credit_grade": "credit_grade",
                 "delinquency_count": "delinquency_count", "delinquency_days": "delinquency_days",
                 "loan_balance": "loan_balance", "years_in_business": "years_in_business"},
        ddl="business_key string, month date, credit_grade bigint, delinquency_count bigint, "
            "delinquency_days bigint, loan_balance bigint, years_in_business double, "
            "_upload_id string, _ingested_at timestamp"),
    "silver.guarantees": Snapshot.of(
        "silver.guarantees",
        columns={"guarantee_id": "guarantee_id", "business_key": "business_key", "start_date": "start_date",
                 "amount": "amount", "status": "status", "default_date": "default_date",
                 "subrogation_amount": "subrogation_amount"},
        ddl="guarantee_id string, business_key string, start_date date, amount bigint, status string, "
            "default_date date, subrogation_amount bigint, _upload_id string, _ingested_at timestamp"),
    "silver.employment_monthly": Snapshot.of(
        "silver.employment_monthly",
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
#: the columns of each silver snapshot table (``lcdp dictionary``)
COLUMNS = {name: Columns(s.ddl, {c: _MEANINGS[c] for c in s.columns}) for name, s in SNAPSHOTS.items()}

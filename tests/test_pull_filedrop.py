"""File-drop pickup: new files only, complete files only."""

from __future__ import annotations

import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lcdp.lake import catalog
from lcdp.pull.filedrop import pull_drop, scan
from tests.conftest import kona_row, write_kona

pytestmark = pytest.mark.usefixtures("spark")


def age(path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_new_complete_files_are_taken_once(settings, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    a = write_kona(drop / "kona_tx_20240301.csv", [kona_row("T00000001")])
    b = write_kona(drop / "kona_tx_20240302.csv", [kona_row("T00000002")])
    writing = write_kona(drop / "kona_tx_20240303.csv.partial", [kona_row("T00000003")])
    fresh = write_kona(drop / "kona_tx_20240304.csv", [kona_row("T00000004")])
    for p in (a, b, writing):
        age(p, 120)
    found, receipts = pull_drop(settings, "kona", "transactions", drop, settle_seconds=60)
    assert [p.name for p in found.ready] == [a.name, b.name]
    assert {p.name for p in found.not_settled} == {writing.name, fresh.name}
    assert [r.rows_valid for r in receipts] == [1, 1]
    # next run: the finished partial is renamed into place, the fresh one settles, the old ones are skipped
    done = drop / "kona_tx_20240303.csv"
    writing.rename(done)
    age(done, 120)
    age(fresh, 120)
    found, receipts = pull_drop(settings, "kona", "transactions", drop, settle_seconds=60)
    assert sorted(p.name for p in found.ready) == [done.name, fresh.name]
    assert sorted(p.name for p in found.already_ingested) == [a.name, b.name]
    assert catalog.row_count("bronze.kona_transactions", settings) == 4


def test_a_file_replaced_under_the_same_name_is_new(settings, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    path = drop / "gjf_employment_202401.parquet"
    pq.write_table(pa.table({"brn": ["120-81-47521"], "month": ["2024-01"], "insured_employees": [3],
                             "hires": [1], "separations": [0], "job_postings": [2]}), path)
    age(path, 120)
    pull_drop(settings, "gjf", "employment", drop, settle_seconds=60)
    assert scan(settings, "gjf", "employment", drop, settle_seconds=60).already_ingested == [path]
    pq.write_table(pa.table({"brn": ["120-81-47521"], "month": ["2024-01"], "insured_employees": [4],
                             "hires": [1], "separations": [0], "job_postings": [2]}), path)
    age(path, 120)
    found, receipts = pull_drop(settings, "gjf", "employment", drop, settle_seconds=60)
    assert found.ready == [path] and receipts[0].rows_valid == 1 and receipts[0].duplicate_of is None

"""Pseudonymization keys: made once per home and kept, and the same BRN from every partner
becomes the same business key (what lets the lake join partners without a raw id)."""

from __future__ import annotations

import json
import stat

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from hypothesis import given, settings as hypothesis_settings, strategies as st

from lcdp.ingest import ingest_file
from lcdp.lake import catalog
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")
BRN = "120-81-47521"


def test_the_key_is_made_once_per_home_kept_private_and_reused(tmp_path):
    first = Settings(home=tmp_path / "a").hmac_key
    key_file = tmp_path / "a" / "secrets" / "pseudonym.key"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = Settings(home=tmp_path / "a").hmac_key  # a new process reads the same key back
    assert again == first and len(first) >= 32
    assert Settings(home=tmp_path / "b").hmac_key != first  # every home its own secret
    configured = Settings(home=tmp_path / "c", pseudonym_key="configured-key-0123456789").hmac_key
    assert configured == b"configured-key-0123456789" and not (tmp_path / "c" / "secrets").exists()


def test_the_same_brn_from_four_partners_gets_one_business_key(tmp_path):
    settings = Settings(home=tmp_path / "home")  # the key made in the home, as in production
    ked = tmp_path / "ked_credit_202401.psv"
    ked.write_text("brn|company_name|snapshot_month|credit_grade|delinquency_count|delinquency_days|loan_balance|"
                   f"years_in_business\n{BRN}|가게|2024-01|3|0|0|1000|2.5\n")
    gcgf = tmp_path / "gcgf_guarantees.jsonl"
    gcgf.write_text(json.dumps({"guarantee_id": "G0000001", "brn": BRN.replace("-", ""), "start_date": "2024-01-05",
                                "amount": 1000, "status": "ACTIVE"}) + "\n")
    gjf = tmp_path / "gjf_employment_202401.parquet"
    pq.write_table(pa.table({"brn": [f" {BRN} "], "month": ["2024-01"], "insured_employees": [3], "hires": [1],
                             "separations": [0], "job_postings": [2]}), gjf)
    page = tmp_path / "RegionMnyFacltStus_p0001.json"
    page.write_text(json.dumps({"RegionMnyFacltStus": [
        {"head": [{"list_total_count": 1}, {"RESULT": {"CODE": "INFO-000", "MESSAGE": "ok"}}]},
        {"row": [{"SIGUN_CD": "41110", "SIGUN_NM": "수원시", "CMPNM_NM": "가게", "BIZREGNO": BRN.replace("-", ""),
                  "FRCS_NO": "1234567890", "LEAD_TAX_MAN_STATE_CD": "01", "LEAD_TAX_MAN_STATE": "계속사업자"}]}]},
        ensure_ascii=False))
    for partner, dataset, path in (("ked", "credit", ked), ("gcgf", "guarantees", gcgf),
                                   ("gjf", "employment", gjf), ("ggdata", "merchants", page)):
        receipt = ingest_file(settings, partner, dataset, path)
        assert receipt.rows_valid == 1, (partner, receipt)
    keys = set()
    for name in ("bronze.ked_credit", "bronze.gcgf_guarantees", "bronze.gjf_employment", "bronze.ggdata_merchants"):
        table = DeltaTable(catalog.table(name).uri(settings)).to_pyarrow_table()
        keys.update(table.column("business_key").to_pylist())
        assert BRN.replace("-", "") not in json.dumps(table.drop_columns(["_ingested_at"]).to_pylist(), default=str)
    assert len(keys) == 1 and len(next(iter(keys))) == 32


@given(key=st.binary(min_size=16, max_size=100),
       blocks=st.lists(st.lists(st.one_of(st.none(), st.sampled_from([f"C{i:05d}" for i in range(40)]),
                                          st.text(min_size=1, max_size=12)), max_size=60), min_size=1, max_size=4),
       limit=st.sampled_from([3, 500_000]))
@hypothesis_settings(max_examples=60, deadline=None)
def test_pseudonyms_are_hmac_sha256_whatever_the_blocks_and_the_memory(key, blocks, limit):
    """A column's pseudonyms are the standard HMAC-SHA256 of ``kind:value`` (128 bits), nulls
    stay null, whichever values earlier blocks made it remember, and when its memory is full."""
    import hashlib
    import hmac

    from lcdp.ingest.pseudonym import Pseudonymizer, normalize

    pseudonymizer = Pseudonymizer(key)
    pseudonymizer.CACHE_LIMIT = limit
    for values in blocks:
        for kind in ("card", "business"):
            expected = [None if v is None else hmac.new(key, f"{kind}:{normalize(kind, v)}".encode(),
                                                        hashlib.sha256).hexdigest()[:32] for v in values]
            assert pseudonymizer.column(kind, pa.array(values, pa.string())).to_pylist() == expected
